"""The pictures and the page of an audio run: spectrograms (matplotlib) and report.html with audio players.

`comparison_picture` draws log-magnitude spectrograms — content, style, the optimised one and the result
after Griffin–Lim — one above another on one colour scale and time axis: the picture to judge a run by.
`html_report` writes an offline page (relative links only; the project's one page builder,
`nst_tf.io.report.write_page`) with an <audio> player for each WAV, the pictures, the loss plot and the
settings. Only the run folder (`nst_tf.audio.run_folder`) calls these.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

import numpy as np

from nst_tf.io.report import figure, player, section, table, write_page


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _draw(axis, spectrogram: np.ndarray, rate: int, hop: int, title: str, vmax: float):
    """imshow of a (frames, bins) log-magnitude spectrogram: time across, frequency up."""
    frames, bins = spectrogram.shape
    extent = (0.0, frames * hop / rate, 0.0, rate / 2 / 1000)
    image = axis.imshow(spectrogram.T, origin="lower", aspect="auto", extent=extent, cmap="magma", vmin=0.0, vmax=vmax)
    axis.set_title(title, fontsize=10)
    axis.set_facecolor("black")  # a shorter sound leaves the rest of a shared time axis silent, not white
    axis.set_ylabel("kHz")
    return image


def comparison_picture(path: Path, panels: list[tuple[str, np.ndarray]], rate: int, hop: int) -> Path:
    """spectrograms.png: the panels one above another on one colour scale."""
    plt = _pyplot()
    vmax = float(max(max(s.max() for _, s in panels), 1e-6))
    longest = max(s.shape[0] for _, s in panels) * hop / rate
    fig, axes = plt.subplots(len(panels), 1, figsize=(9, 2.4 * len(panels)), squeeze=False, layout="constrained")
    for axis, (title, spectrogram) in zip(axes[:, 0], panels, strict=True):
        image = _draw(axis, spectrogram, rate, hop, title, vmax)
        axis.set_xlim(0, longest)
    axes[-1, 0].set_xlabel("seconds")
    fig.colorbar(image, ax=axes[:, 0].tolist(), label="log(1 + |S|)")
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return Path(path)


_STYLE = """<style>
body { font-family: sans-serif; margin: 24px; color: #222; max-width: 1200px; }
.row { display: flex; gap: 16px; flex-wrap: wrap; align-items: flex-start; }
figure { margin: 0; } figure img { width: 380px; height: auto; border: 1px solid #ccc; display: block; }
figure audio { width: 380px; } .wide img { width: auto; max-width: 100%; }
figcaption { text-align: center; font-size: 14px; color: #555; }
table { border-collapse: collapse; font-size: 13px; }
th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: left; }
th { background: #f4f4f4; } .missing { width: 380px; height: 120px; background: #eee; }
</style>"""


def html_report(run_dir: Path) -> Path:
    """report.html: players for content.wav, style.wav and result.wav, the pictures, costs and settings
    (built by the one page builder, `nst_tf.io.report.write_page`)."""
    run_dir = Path(run_dir)
    record = json.loads((run_dir / "config.json").read_text())
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in record.get("inputs", []))
    mode = record.get("config", {}).get("mode")
    final = record.get("final_costs") or {}
    final_text = ", ".join(f"{k} {v:.5g}" for k, v in final.items()) or "none yet"
    players = [player(run_dir, f"{name}.wav", name) for name in ("content", "style", "result")]
    sections = [
        f"""<p>Audio {html.escape(str(mode))}: status <b>{html.escape(str(record.get("status")))}</b>,
{record.get("iterations_done", 0)} iterations in {record.get("seconds", 0)} s of optimisation
(+ {record.get("griffin_lim_seconds", 0)} s Griffin–Lim). Final costs: {html.escape(final_text)}.</p>""",
        section(None, *players),
        section("Spectrograms", _wide(run_dir, "spectrograms.png", "spectrograms on one colour scale")),
        section("Costs", _wide(run_dir, "loss.png", "costs per iteration")),
        f"""<p><a href="metrics.csv">metrics.csv</a> · <a href="config.json">config.json</a> ·
TensorBoard: <code>tensorboard --logdir {html.escape(str(run_dir))}</code></p>""",
        f"<h2>Inputs</h2><ul>{notes}</ul>",
        f"<h2>Settings</h2>{table(record.get('config', {}))}",
    ]
    return write_page(run_dir, f"nst_tf audio run {run_dir.name}", run_dir.name, sections, style=_STYLE)


def _wide(run_dir: Path, name: str, caption: str) -> str:
    """A full-width picture, or nothing when the run did not get to make it."""
    return figure(run_dir, name, caption, missing="skip").replace("<figure>", "<figure class='wide'>", 1)
