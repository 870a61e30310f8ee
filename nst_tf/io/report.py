"""The pictures and the page that show how a run went: loss plot, snapshot sheet, animation, report.html.

Called by the command line at the end of a run (and of an interrupted one), reading only what the run
folder already holds — metrics.csv, config.json and snapshots/ — so it can also remake them for an old run
(`make_all(run_dir)`). Plots use matplotlib's Agg backend; the sheet and the GIF use Pillow.
"""

from __future__ import annotations

import csv
import html
import json
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from nst_tf.config import COST_NAMES
from nst_tf.io import atomic

COSTS = COST_NAMES
_SNAPSHOT = re.compile(r"^iter_(\d+)\.png$")


def read_metrics(run_dir: Path, fields: Sequence[str] = ("iteration", *COSTS, "seconds")) -> dict[str, np.ndarray]:
    """metrics.csv as columns of floats (default: iteration, total, content, style, tv, seconds)."""
    with open(Path(run_dir) / "metrics.csv", newline="") as handle:
        rows = [row for row in csv.DictReader(handle) if any((v or "").strip() for v in row.values())]
    return {key: np.array([float(r[key]) for r in rows]) for key in fields}


def snapshot_files(run_dir: Path) -> list[tuple[int, Path]]:
    """(iteration, path) of every snapshot, in order."""
    found = []
    for path in (Path(run_dir) / "snapshots").glob("iter_*.png"):
        if m := _SNAPSHOT.match(path.name):
            found.append((int(m.group(1)), path))
    return sorted(found)


def plot_losses(
    run_dir: Path, weights: dict[str, float] | None = None, fields: Sequence[str] = ("iteration", *COSTS, "seconds")
) -> Path | None:
    """loss.png, the one loss plotter of every family: the cost columns of metrics.csv against its step
    column, log scale; None when there are no rows.

    With `weights` (picture and sound runs): the weighted terms (α·J_content, β·J_style, γ·J_tv) and the
    total, with the wall-clock seconds in a panel beneath. Without (training runs): each loss column as
    written (the terms unweighted, the total weighted), one panel.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    m = read_metrics(run_dir, fields)
    x_name = fields[0]
    if not len(m[x_name]):
        return None
    terms = [f for f in fields[1:] if f not in ("seconds", "evaluations")]
    if weights is None:
        fig, top = plt.subplots(figsize=(7, 4))
        for name in terms:
            if np.any(m[name] > 0):
                top.plot(m[x_name], m[name], label=name, linewidth=0.8)
        top.set_yscale("log")
        top.set_xlabel(x_name)
        top.set_ylabel("loss (unweighted terms; total weighted)")
        top.legend()
    else:
        fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 6), sharex=True, height_ratios=(3, 1))
        top.plot(m[x_name], m["total"], label="total J", color="black", linewidth=2)
        labels = {"content": "α·J_content", "style": "β·J_style", "tv": "γ·J_tv"}
        for key, label in labels.items():
            values = weights.get(key, 1.0) * m[key]
            if np.any(values > 0):
                top.plot(m[x_name], values, label=label)
        top.set_yscale("log")
        top.set_ylabel("cost")
        top.grid(True, which="both", alpha=0.3)
        top.legend()
        # A run's name is the user's text: no mathtext (a `$` would be read as a formula, or fail to parse).
        top.set_title(f"{Path(run_dir).name}: costs per step", parse_math=False)
        bottom.plot(m[x_name], m["seconds"], color="tab:gray")
        bottom.set_xlabel(x_name)
        bottom.set_ylabel("wall-clock s")
        bottom.grid(True, alpha=0.3)
    fig.tight_layout()
    path = Path(run_dir) / "loss.png"
    atomic.atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=100, format="png"))
    plt.close(fig)
    return path


def _font(size: int) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has only the fixed bitmap font
        return ImageFont.load_default()


def contact_sheet(run_dir: Path, columns: int = 5, cell: int = 200) -> Path | None:
    """snapshots.png: every snapshot, scaled to fit a `cell`-px box, labelled with its iteration."""
    snaps = snapshot_files(run_dir)
    if not snaps:
        return None
    thumbs = []
    for iteration, path in snaps:
        with Image.open(path) as img:
            img = img.convert("RGB")
            scale = cell / max(img.size)  # fit the cell, enlarging small pictures too
            size = (max(1, round(img.width * scale)), max(1, round(img.height * scale)))
            thumbs.append((iteration, img.resize(size, Image.Resampling.LANCZOS)))
    label_h = 22
    cols = min(columns, len(thumbs))
    rows = (len(thumbs) + cols - 1) // cols
    # Cells as large as the largest thumbnail, not square: a landscape run leaves no blank band per row.
    cell_w, cell_h = max(img.width for _, img in thumbs), max(img.height for _, img in thumbs)
    sheet = Image.new("RGB", (cols * (cell_w + 8) + 8, rows * (cell_h + label_h + 8) + 8), "white")
    draw = ImageDraw.Draw(sheet)
    font = _font(16)
    for index, (iteration, img) in enumerate(thumbs):
        x = 8 + (index % cols) * (cell_w + 8)
        y = 8 + (index // cols) * (cell_h + label_h + 8)
        sheet.paste(img, (x + (cell_w - img.width) // 2, y + (cell_h - img.height) // 2))
        draw.text((x, y + cell_h + 2), f"iteration {iteration}", fill="black", font=font)
    path = Path(run_dir) / "snapshots.png"
    atomic.atomic_write(path, lambda tmp: sheet.save(tmp, format="PNG"))
    return path


def animation(run_dir: Path, frame_ms: int = 250, hold_ms: int = 1500) -> Path | None:
    """evolution.gif: the snapshots in order, the last one held longer; loops forever."""
    snaps = snapshot_files(run_dir)
    if not snaps:
        return None
    frames = []
    for _, path in snaps:
        with Image.open(path) as img:
            frames.append(img.convert("RGB").copy())
    size = frames[-1].size  # coarse-to-fine runs make smaller early snapshots: show all at the final size
    frames = [f if f.size == size else f.resize(size, Image.Resampling.BICUBIC) for f in frames]
    path = Path(run_dir) / "evolution.gif"
    durations = [frame_ms] * (len(frames) - 1) + [hold_ms]
    options = {"save_all": True, "append_images": frames[1:], "duration": durations, "loop": 0, "optimize": True}
    atomic.atomic_write(path, lambda tmp: frames[0].save(tmp, format="GIF", **options))
    return path


_STYLE = """<style>
body { font-family: sans-serif; margin: 24px; color: #222; max-width: 1200px; }
.row { display: flex; gap: 16px; flex-wrap: wrap; align-items: flex-start; }
figure { margin: 0; } figure img { width: 360px; height: auto; border: 1px solid #ccc; }
figcaption { text-align: center; font-size: 14px; color: #555; }
.wide img { width: auto; max-width: 100%; }
table { border-collapse: collapse; font-size: 13px; }
th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: left; }
th { background: #f4f4f4; } .missing { width: 200px; height: 150px; background: #eee; }
</style>"""


# --- the one page builder: every family's report.html is a title and a list of HTML sections -------------


def write_page(run_dir: Path, title: str, heading: str, sections: list[str], style: str = _STYLE) -> Path:
    """report.html in `run_dir`: `<title>`, an `<h1>` and the sections in order; offline (relative links)."""
    page = (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>\n'
        f"{style}</head><body>\n<h1>{html.escape(heading)}</h1>\n" + "\n".join(sections) + "\n</body></html>\n"
    )
    return atomic.write_text(Path(run_dir) / "report.html", page)


def figure(run_dir: Path, src: str | None, caption: str, missing: str = "placeholder") -> str:
    """A picture with its caption; a grey box (missing="placeholder") or nothing ("skip") when absent."""
    label = html.escape(caption)
    if src is None or not (Path(run_dir) / src).exists():
        return (
            ""
            if missing == "skip"
            else f"<figure><div class='missing'>no {label}</div><figcaption>{label}</figcaption></figure>"
        )
    return f"<figure><img src='{html.escape(src)}' alt='{label}'><figcaption>{label}</figcaption></figure>"


def player(run_dir: Path, src: str, caption: str) -> str:
    """An <audio> player for a sound in the folder (a grey box when it is not there)."""
    label = html.escape(caption)
    if not (Path(run_dir) / src).exists():
        return f"<figure><div class='missing'>no {label}</div><figcaption>{label}</figcaption></figure>"
    return (
        f"<figure><audio controls preload='none' src='{html.escape(src)}'></audio>"
        f"<figcaption>{label} (<a href='{html.escape(src)}'>{html.escape(src)}</a>)</figcaption></figure>"
    )


def section(heading: str | None, *items: str, css: str = "row") -> str:
    """An optional <h2> and a flex row of figures (or any HTML)."""
    title = f"<h2>{html.escape(heading)}</h2>" if heading else ""
    return f'{title}<div class="{css}">{"".join(items)}</div>'


def table(rows: dict, as_json: bool = True) -> str:
    """A two-column table: keys as headers, values as JSON (or as plain text)."""
    cells = "".join(
        f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(json.dumps(v) if as_json else str(v))}</td></tr>"
        for k, v in rows.items()
    )
    return f"<table>{cells}</table>"


def _weights_rows(record: dict) -> dict:
    w = record.get("weights", {})
    keys = ("source", "format", "architecture", "path", "sha256", "note")
    return {k: w.get(k) for k in keys if w.get(k) not in (None, "")}


def html_report(run_dir: Path) -> Path:
    """report.html of a picture run: inputs and result side by side, the plots, the settings and the
    timing; offline (relative links only)."""
    run_dir = Path(run_dir)
    record = json.loads((run_dir / "config.json").read_text())
    m = read_metrics(run_dir)
    result = "generated.png" if (run_dir / "generated.png").exists() else None
    snaps = snapshot_files(run_dir)
    if result is None and snaps:
        result = f"snapshots/{snaps[-1][1].name}"
    w = record.get("weights", {})
    final = {k: float(m[k][-1]) for k in COSTS} if len(m["iteration"]) else {}
    steps = len(m["iteration"])
    seconds = float(m["seconds"][-1]) if steps else 0.0
    per_step = seconds / steps if steps else 0.0
    size = record.get("image_size", {})
    versions = ", ".join(f"{k} {v}" for k, v in record.get("versions", {}).items())
    logdir = html.escape(str(run_dir.parent))
    final_text = ", ".join(f"{k} {v:.5g}" for k, v in final.items())
    sections = [
        f"""<p>Status <b>{html.escape(str(record.get("status")))}</b>: {steps} steps in {seconds:.1f} s
({per_step:.3f} s per step) on {html.escape(str(record.get("device")))}, {size.get("width")}×{size.get("height")} px,
weights <b>{html.escape(str(w.get("source")))}</b>. Final costs: {final_text}.</p>""",
        section(
            None,
            *(
                figure(run_dir, s, c)
                for s, c in (("content.png", "content"), ("style.png", "style"), (result, "result"))
            ),
        ),
        section("Costs", figure(run_dir, "loss.png", "costs per step"), css="row wide"),
        section("Snapshots", figure(run_dir, "snapshots.png", "snapshots"), css="row wide"),
        f"""<p><a href="evolution.gif">evolution.gif</a> · <a href="metrics.csv">metrics.csv</a> ·
<a href="config.json">config.json</a> · TensorBoard: <code>tensorboard --logdir {logdir}</code></p>""",
        section("Settings", table(record.get("config", {})), table(_weights_rows(record))),
        f'<p style="font-size:12px;color:#777">{html.escape(versions)}</p>',
    ]
    return write_page(run_dir, f"nst_tf run {run_dir.name}", run_dir.name, sections)


def make_all(run_dir: Path) -> list[Path]:
    """Remake loss.png, snapshots.png, evolution.gif and report.html from what the folder holds."""
    run_dir = Path(run_dir)
    config = json.loads((run_dir / "config.json").read_text()).get("config", {})
    weights = {"content": config.get("content_weight", 1.0), "style": config.get("style_weight", 1.0)}
    weights["tv"] = config.get("tv_weight", 0.0)
    made = [plot_losses(run_dir, weights), contact_sheet(run_dir), animation(run_dir), html_report(run_dir)]
    return [p for p in made if p is not None]
