"""float32 against `--precision auto`: the same runs' time and `score` on held-out pairs, side by side.

    python benchmarks/precision.py --image-size 256 --iterations 100 --out bench_precision --json precision.json
    python benchmarks/precision.py --apply starry_night --photo ../shared/images/tubingen.jpg

For each pair (`--pairs C:S …`, default the three held-out pairs of benchmarks/time_to_quality.py), the
command line's own `run` goes once with `--precision float32` and once with `--precision auto`, one after the
other (the machine is shared and its speed drifts: the two of a pair meet the same load), each in its own
process, as a user would run it; then `score` (nst_tf.score, a fixed float32 evaluator) reads both results.
Reported per pair: each run's seconds (metrics.csv's last `seconds`: targets, tracing and every step),
what auto resolved to (config.json's "precision"), both content and style distances and auto's relative
difference from float32's. The issue's bar: both distances within 5 % of float32's on every pair. The
pictures stay in `--out` to be looked at side by side. The CPU's model and bfloat16 flags are recorded.
`--apply MODEL` times apply's forward pass instead (float32 and bfloat16 convolutions alternating in one
process, 1024x768).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from time_to_quality import default_pairs  # noqa: E402

from nst_tf.io import images as image_io  # noqa: E402
from nst_tf.perf.precision import cpu_description  # noqa: E402
from nst_tf.score import score_pictures  # noqa: E402

PRECISIONS = ("float32", "auto")
# The issue's bar for "the same pictures": auto's distances within this share of float32's.
SAME_PICTURE_TOLERANCE = 0.05


def run(content: Path, style: Path, precision: str, out: Path, name: str, args: argparse.Namespace) -> dict:
    """One `nst_tf run` in its own process; its seconds, its precision record and the result's path."""
    command = [sys.executable, "-m", "nst_tf", "run", str(content), str(style), "-o", str(out), "--name", name]
    command += ["--precision", precision, "--iterations", str(args.iterations), "--image-size", str(args.image_size)]
    command += ["--snapshot-every", "0", "--no-tb", "-q", "--overwrite", *args.run_args]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("NST_TF_PRECISION", None)  # auto must decide by this machine's probe
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise SystemExit(f"run failed ({done.returncode}): {' '.join(command)}\n{done.stderr[-2000:]}")
    folder = out / name
    with open(folder / "metrics.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    record = json.loads((folder / "config.json").read_text())
    return {
        "seconds": float(rows[-1]["seconds"]),
        "iterations": len(rows),
        "precision": record["config"]["precision"],
        "decision": record.get("precision_decision"),
        "stderr_line": next((line for line in done.stderr.splitlines() if line.startswith("precision:")), None),
        "result": str(folder / "generated.png"),
    }


def measure_pair(content: Path, style: Path, args: argparse.Namespace) -> dict:
    stem = f"{content.stem}_{style.stem}"
    runs = {p: run(content, style, p, args.out, f"{stem}_{p}", args) for p in PRECISIONS}
    pictures = image_io.load_image(content), image_io.load_image(style)
    for entry in runs.values():
        entry["score"] = score_pictures(image_io.load_image(entry["result"]), *pictures)
    base, auto = runs["float32"]["score"], runs["auto"]["score"]
    differences = {
        key: auto[key] / base[key] - 1 for key in ("content_distance", "style_distance")
    }  # auto relative to float32
    return {
        "pictures": {"content": str(content), "style": str(style)},
        "runs": runs,
        "relative_difference": differences,
        "within_tolerance": all(abs(d) <= SAME_PICTURE_TOLERANCE for d in differences.values()),
        "speedup": runs["float32"]["seconds"] / runs["auto"]["seconds"],
    }


def apply_pass(model_name: str, photo_path: Path, repeats: int = 5) -> dict:
    """apply's forward pass on a 1024x768 photo with float32 and with bfloat16 convolutions, alternating in one
    process (`Stylizer(model, precision=...)`), medians; and how far the pictures differ."""
    import numpy as np
    import tensorflow as tf

    from nst_tf.feedforward.apply import Stylizer
    from nst_tf.feedforward.model_io import find_model, load_model

    photo = tf.image.resize(image_io.load_image(photo_path), (768, 1024)).numpy().clip(0, 1).astype(np.float32)
    model, _ = load_model(find_model(model_name))
    stylizers = {p: Stylizer(model, precision=p) for p in ("float32", "bfloat16")}
    for stylizer in stylizers.values():
        stylizer.warm_up()
        stylizer(photo)  # the first call at this size
    seconds: dict[str, list[float]] = {p: [] for p in stylizers}
    pictures = {}
    for _ in range(repeats):
        for precision, stylizer in stylizers.items():
            pictures[precision], elapsed = stylizer.timed(photo)
            seconds[precision].append(elapsed)
    difference = np.abs(pictures["bfloat16"] - pictures["float32"])
    median = {p: statistics.median(v) for p, v in seconds.items()}
    return {"model": model_name, "photo": str(photo_path), "size": [768, 1024], "seconds": median,
            "speedup": median["float32"] / median["bfloat16"], "max_difference": float(difference.max()),
            "mean_difference": float(difference.mean())}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pairs", nargs="+", metavar="CONTENT:STYLE", help="default: three held-out pairs")
    parser.add_argument("--image-size", type=int, default=256)
    parser.add_argument("--iterations", type=int, default=100)
    parser.add_argument("--out", type=Path, default=Path("bench_precision"), help="where the run folders go")
    parser.add_argument("--json", metavar="FILE")
    parser.add_argument("--apply", metavar="MODEL", help="instead: apply's pass at 1024x768, e.g. starry_night")
    parser.add_argument("--photo", type=Path, help="the photo for --apply (default: the first pair's content)")
    parser.add_argument("run_args", nargs="*", help="more `run` flags, after --")
    args = parser.parse_args(argv)
    if args.apply:
        photo = args.photo or Path(args.pairs[0].split(":", 1)[0] if args.pairs else default_pairs()[0][0])
        result = apply_pass(args.apply, photo)
        print(
            f"apply {args.apply} at 1024x768: float32 {result['seconds']['float32']:.3f} s, bfloat16 "
            f"{result['seconds']['bfloat16']:.3f} s ({result['speedup']:.2f}x); |difference| max "
            f"{result['max_difference']:.4f}, mean {result['mean_difference']:.5f}; CPU {cpu_description()}"
        )
        if args.json:
            Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
        return 0
    pairs = [tuple(Path(p) for p in pair.split(":", 1)) for pair in args.pairs] if args.pairs else default_pairs()
    results = []
    for content, style in pairs:
        r = measure_pair(content, style, args)
        results.append(r)
        f32, auto = r["runs"]["float32"], r["runs"]["auto"]
        d = r["relative_difference"]
        print(
            f"{content.name} + {style.name} at {args.image_size} px, {args.iterations} it: float32 "
            f"{f32['seconds']:.1f} s, auto ({auto['precision']}) {auto['seconds']:.1f} s ({r['speedup']:.2f}x); "
            f"content {f32['score']['content_distance']:.4f} vs {auto['score']['content_distance']:.4f} "
            f"({100 * d['content_distance']:+.1f} %), style {f32['score']['style_distance']:.4f} vs "
            f"{auto['score']['style_distance']:.4f} ({100 * d['style_distance']:+.1f} %)",
            flush=True,
        )
    summary = {
        "cpu": cpu_description(),
        "image_size": args.image_size,
        "iterations": args.iterations,
        "median_speedup": statistics.median(r["speedup"] for r in results),
        "all_within_tolerance": all(r["within_tolerance"] for r in results),
        "tolerance": SAME_PICTURE_TOLERANCE,
        "pairs": results,
    }
    print(
        f"median speedup {summary['median_speedup']:.2f}x; distances within {100 * SAME_PICTURE_TOLERANCE:.0f} % "
        f"on every pair: {summary['all_within_tolerance']}; CPU {summary['cpu']}",
        flush=True,
    )
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
