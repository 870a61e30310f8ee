"""The parity report's files: report.json, report.md, parity.png, tf.png, torch.png and diff.png.

The folder follows the ownership rule (`nst_tf.io.ownership`): a new folder is made as a marked nst_tf
folder of kind "compare"; in a folder nst_tf did not make, a file of those names is replaced only when
nst_tf wrote it (the folder's ledger), never the user's own diff.png or report.md.
`plan_picture_report` plans the picture comparison's folder, `summary_lines` is what `compare` prints (both
comparisons), `parity_module` imports the PyTorch side.
`write_report(out, result)` writes what `nst_tf.parity.compare.compare` measured; `report_markdown` and
`plot_parity` make the page and the plot (free-run costs, step parity per step, the rounding envelope). diff.png is
|tf − torch|, amplified by the power of ten the report names.
"""

from __future__ import annotations

import importlib
import json
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from nst_tf.errors import ConfigError
from nst_tf.io import images as image_io
from nst_tf.io.ownership import OwnedFiles, recognise_json
from nst_tf.optim.records import COST_NAMES

if TYPE_CHECKING:  # the measuring module imports torch; planning a folder must not
    from nst_tf.parity.compare import ParityResult

REPORT_FILES = ("report.json", "report.md", "parity.png", "tf.png", "torch.png", "diff.png")


def plan_report(out_dir: str | os.PathLike, overwrite: bool, what: str = "-o") -> OwnedFiles:
    """Check the report's folder before any work; nothing is created.

    Raises:
        ConfigError: the folder cannot be used, it holds a report and `overwrite` is False, or it holds a
            file of a report's name that nst_tf did not write.
    """
    return OwnedFiles.plan(out_dir, REPORT_FILES, overwrite, what, kind="compare", recognise=_old_report)


def plan_picture_report(
    output: str | os.PathLike | None, content_path: str | None, style_paths: list[str], overwrite: bool
) -> OwnedFiles:
    """The picture comparison's folder, planned: `output`, or output/compare_CONTENT_STYLE (compare_texture_STYLE
    without a content picture). Refused as `plan_report` says (under a plain file, a user's diff.png …)."""
    stem = Path(content_path).stem if content_path else "texture"
    return plan_report(Path(output) if output else Path("output") / f"compare_{stem}_{Path(style_paths[0]).stem}",
                       overwrite)  # fmt: skip


def summary_lines(report: dict, folder: str | os.PathLike) -> list[str]:
    """What `compare` prints: each judged figure against its tolerance, then the verdict and the folder."""
    lines = [f"{key:<20} {report[key]:.3g}  (tolerance {value:g})" for key, value in report["tolerances"].items()]
    if "config" in report:  # the picture comparison
        where = f"{report['dtype']} (preset {report['config']['preset']}, {report['optimizer']})"
    else:
        where = f"{report['dtype']} ({report.get('network') or 'universal ' + report['method']}, one pass)"
    return [*lines, f"{where}: {report['verdict']}; report in {folder}"]


def parity_module(name: str):
    """Import a module that needs PyTorch (`nst_tf.parity.compare`, `nst_tf.twin.…`); ConfigError without it."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name != "torch":
            raise
        raise ConfigError("compare needs PyTorch: pip install torch==2.13.0 (the CPU build)") from None


def _old_report(path: Path) -> bool:
    """A report folder written before the marker and the ledger: nothing but a report's files, and a
    report.json that is a parity report. Any other file there makes the whole folder the user's."""
    folder = path.parent
    leftovers = {"parity.tmp.png", "report.md.tmp", "report.json.tmp"}  # the old writer's temporary names
    if any(entry.name not in REPORT_FILES and entry.name not in leftovers for entry in folder.iterdir()):
        return False
    return recognise_json(("tolerances", "within_tolerance", "costs", "diff_amplification"))(folder / "report.json")


def write_report(out: OwnedFiles | str | os.PathLike, result: ParityResult) -> None:
    """report.json, report.md, parity.png, tf.png, torch.png and diff.png, each atomically, into the planned
    folder (a path is planned here, replacing only an earlier report's files)."""
    if not isinstance(out, OwnedFiles):
        out = plan_report(out, overwrite=True, what="write_report")
    report, tf_image, twin_image, image_diff = result.report, result.tf_image, result.twin_image, result.image_diff
    amplification = report["diff_amplification"]
    pictures = {
        "tf.png": tf_image,
        "torch.png": twin_image,
        "diff.png": np.clip(image_diff * amplification, 0.0, 1.0),
    }
    for name, picture in pictures.items():
        out.write(name, lambda tmp, p=picture: image_io.save_image(p.astype(np.float32), tmp))
    out.write("parity.png", lambda tmp: plot_parity(report, tmp))
    out.write("report.md", lambda tmp: Path(tmp).write_text(report_markdown(report)))
    out.write("report.json", lambda tmp: Path(tmp).write_text(json.dumps(_json_safe(report), indent=2) + "\n"))


def _json_safe(value):
    """inf/nan are not JSON: write them as strings."""
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def _fmt(value) -> str:
    return "—" if value is None else f"{value:.3g}"


def report_markdown(report: dict) -> str:
    """report.md: the verdict, both judged checks against their tolerances, then the detail."""
    envelope = report["envelope"]
    lines = [
        f"# TensorFlow vs PyTorch parity ({report['dtype']}, preset {report['config']['preset']})",
        "",
        f"**{report['verdict']}.**",
        "",
        f"{report['iterations']} {report['optimizer']} steps on a {report['image_size'][1]}x{report['image_size'][0]} "
        f"picture, weights {report['weights']['source']} ({report['weights']['architecture']}), "
        f"pooling {report['config']['pooling']}/{report['config']['pool_padding']}. "
        f"TF {report['seconds']['tf']} s, PyTorch {report['seconds']['torch']} s.",
        "",
        "Step parity (teacher-forced): at every step both backends start from TensorFlow's picture, "
        f"{report['step_parity']['evaluations']} evaluations. Rounding envelope: each backend's float32 run "
        "against its float64 run; the backends agree when max|tf32 − torch32| ≤ 2·max(own distance) "
        "(triangle inequality) and the float64 runs agree.",
        "",
        "| judged figure | value | tolerance | ok |",
        "|---|---|---|---|",
    ]
    for key, tolerance in report["tolerances"].items():
        ok = "yes" if report[key] <= tolerance else "**no**"
        lines.append(f"| {key} | {report[key]:.3g} | {tolerance:.3g} | {ok} |")
    lines += [
        "",
        "| free-run distance (max abs, pixels in [0, 1]) | value |",
        "|---|---|",
        *(f"| {name} | {value:.3g} |" for name, value in envelope.items()),
        "",
        f"Not judged: float32 gradient at the same pixels {report['step_grad_max_rel_err']:.3g} (2-norm; a ReLU "
        "or max-pool kink may go either way in float32), "
        f"gradient on the start {report['grad_max_rel_err']:.3g}, free-run costs "
        f"{report['cost_max_rel_err']:.3g}, final pictures {report['image_max_abs_diff']:.3g} (mean "
        f"{report['image_mean_abs_diff']:.3g}). diff.png shows |tf − torch| × {report['diff_amplification']:g} "
        "(clipped).",
        "Relative errors: max|tf − torch| / max|tf| over a tensor; |tf − torch| / |tf| per cost value.",
        "",
        "| layer | feature rel. err |",
        "|---|---|",
        *(f"| {name} | {err:.3g} |" for name, err in report["feature_rel_err"].items()),
        "",
        "| cost term | step parity max rel. err | free run max rel. err |",
        "|---|---|---|",
        *(
            f"| {term} | {_fmt(report['step_parity']['cost_rel_err'][term])} | {_fmt(err)} |"
            for term, err in report["cost_rel_err"].items()
        ),
        "",
        "| iteration | J tf | J torch | J_content tf | J_content torch | J_style tf | J_style torch "
        "| J_tv tf | J_tv torch |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    rows = list(zip(report["costs"]["tf"], report["costs"]["torch"], strict=True))
    if len(rows) > 60:  # a long run: every k-th step and the last
        k = math.ceil(len(rows) / 50)
        rows = rows[::k] + ([rows[-1]] if (len(rows) - 1) % k else [])
    for a, b in rows:
        cells = " | ".join(f"{a[t]:.9g} | {b[t]:.9g}" for t in COST_NAMES)
        lines.append(f"| {a['iteration']} | {cells} |")
    if report["notes"]:
        lines += ["", *(f"- {note}" for note in report["notes"])]
    return "\n".join(lines) + "\n"


def plot_parity(report: dict, path: str | os.PathLike) -> None:
    """parity.png: the free runs' costs (log scale); step parity's errors per step against their
    tolerances; the rounding envelope's four distances.

    Uses a bare Agg canvas, not pyplot, so no global matplotlib backend is chosen for the caller.
    """
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ModuleNotFoundError:
        raise ConfigError("compare needs matplotlib for parity.png: pip install matplotlib") from None

    fig = Figure(figsize=(8, 10), layout="constrained")
    FigureCanvasAgg(fig)
    top, middle, bottom = fig.subplots(3, 1, height_ratios=(2, 1.5, 1))
    tf_rows, twin_rows = report["costs"]["tf"], report["costs"]["torch"]
    iterations = np.array([row["iteration"] for row in tf_rows])
    for term, colour in (("total", "C0"), ("content", "C1"), ("style", "C2")):
        a = np.array([row[term] for row in tf_rows], np.float64)
        b = np.array([row[term] for row in twin_rows], np.float64)
        top.plot(iterations, np.where(a > 0, a, np.nan), "-", color=colour, label=f"J_{term} TensorFlow")
        top.plot(iterations, np.where(b > 0, b, np.nan), "--", color=colour, marker=".", label=f"J_{term} PyTorch")
    top.set_yscale("log")
    top.set_ylabel("cost (free runs)")
    top.set_title(f"TensorFlow vs PyTorch ({report['dtype']}): {report['verdict']}")
    top.legend(fontsize="small", ncols=2)
    rows = report["step_parity"]["rows"]
    steps = np.array([row["iteration"] for row in rows])
    tolerances = report["tolerances"]
    for key, figure, colour in (("cost_rel_err", "step_cost_max_rel_err", "C0"),
                                ("grad_rel_err", "step_grad_max_rel_err", "C3"),
                                ("grad64_rel_err", "step_grad64_max_rel_err", "C4"),
                                ("update_err", "step_update_err", "C2")):  # fmt: skip
        values = np.array([np.nan if row.get(key) is None else row[key] for row in rows], np.float64)
        values = np.where(values > 0, values, np.nan)
        if np.isfinite(values).any():
            middle.plot(steps, values, ".", color=colour, label=key)
        if figure in tolerances:  # the float32 gradient is shown, not judged (nst_tf.parity.stepwise)
            middle.axhline(tolerances[figure], color=colour, linestyle=":", label=f"{figure} tolerance")
    middle.set_yscale("log")
    middle.set_ylabel("step parity (same x)")
    middle.set_xlabel("iteration")
    middle.legend(fontsize="x-small", ncols=2)
    envelope = report["envelope"]
    names = ["tf32_vs_tf64", "torch32_vs_torch64", "tf32_vs_torch32", "float64_image_max_abs_diff"]
    values = [max(envelope[name], 1e-18) for name in names]
    bottom.barh(names, values, color=["C0", "C1", "C3", "C7"])
    bound = 2 * max(envelope["tf32_vs_tf64"], envelope["torch32_vs_torch64"])
    if bound > 0:
        bottom.axvline(bound, color="C3", linestyle=":", label="2·max(own float32 distance)")
        bottom.legend(fontsize="small")
    bottom.set_xscale("log")
    bottom.set_xlabel("rounding envelope: max |Δ| of the final pictures")
    fig.savefig(path, dpi=100)
