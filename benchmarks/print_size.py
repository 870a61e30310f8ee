"""Peak memory and seconds against megapixels for `apply` and `universal` (issue 26): whole and in tiles.

    python benchmarks/print_size.py --megapixels 1 3 12 --out benchmarks/print_size.json
    python benchmarks/print_size.py --megapixels 12 27 --routes apply --max-memory 2G

Each measurement is one subprocess, `python -m nst_tf ...` under `/usr/bin/time -v`: its peak resident set
("Maximum resident set size") and wall-clock seconds (start-up included, as a user waits for it). The photo
is tubingen.jpg from the project's shared pictures (or --photo), resized to each size (4:3) and saved as PNG
once. Routes: `apply` (starry_night, the whole picture unless --max-memory makes it tile), `apply-tiled`
(--tile 1024, to measure the tiles where the whole picture also fits), `adain` and `wct` (`universal
--method ...`) and `adain-tiled`, `wct-tiled` (--tile 1024), and `run` (the optimisation, `--image-size` the
photo's width, `--iterations` from --run-iterations, coarse to fine with the step in tiles as its plan says).
Prints a Markdown table (the README's "Print-size pictures") and writes the rows as JSON with --out.

    python benchmarks/print_size.py --megapixels 3.1 --routes run --max-memory 3G --run-iterations 12
    python benchmarks/print_size.py --gallery RUN/generated.png docs/gallery/print_size_run.jpg

--gallery makes the README's picture of a result: scaled down to 480 px high with a red box, and beside it
the box at full size (480 px square), as a JPEG.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
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


def _command(
    route: str, photo: Path, out: Path, style: Path, max_memory: str | None, iterations: int = 12
) -> list[str]:
    limit = ["--max-memory", max_memory] if max_memory else []
    if route == "run":
        from PIL import Image

        with Image.open(photo) as img:
            side = max(img.size)
        run = ["run", str(photo), str(style), "--image-size", str(side), "--iterations", str(iterations)]
        return [*run, "-o", str(out.parent), "--name", "run", "--overwrite", "--no-tb", "-q", *limit]
    if route == "apply":
        return ["apply", "starry_night", str(photo), "-o", str(out), "--overwrite", *limit]
    if route == "apply-tiled":
        return ["apply", "starry_night", str(photo), "-o", str(out), "--overwrite", "--tile", "1024", *limit]
    if route in ("adain", "adain-tiled", "wct", "wct-tiled"):
        method = route.split("-")[0]
        tile = ["--tile", "1024"] if route.endswith("tiled") else []
        return ["universal", str(photo), str(style), "--method", method, "-o", str(out), "--overwrite", *tile, *limit]
    raise ValueError(route)


def measure(args: list[str]) -> dict:
    """Peak RSS (MiB) and seconds of `python -m nst_tf ARGS` under /usr/bin/time -v."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = ["/usr/bin/time", "-v", sys.executable, "-m", "nst_tf", *args]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=3600)
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "failed"}
    peak = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr).group(1))
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)", done.stderr).group(1)
    seconds = sum(float(part) * 60**i for i, part in enumerate(reversed(wall.split(":"))))
    plan = [line for line in done.stderr.splitlines() if line.startswith("nst_tf: ") and ("MP" in line or "px" in line)]
    return {"peak_mib": round(peak / 1024), "seconds": round(seconds, 1), "plan": plan[0] if plan else ""}


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
    parser.add_argument("--megapixels", type=float, nargs="+", default=[1, 3, 12, 27])
    parser.add_argument("--routes", nargs="+", default=["apply", "apply-tiled", "adain"])
    parser.add_argument("--max-memory", default=None, help="passed to every command")
    parser.add_argument("--photo", default=str(SHARED / "tubingen.jpg"))
    parser.add_argument("--style", default=str(SHARED / "starry_night.jpg"))
    parser.add_argument("--out", help="write the rows as JSON here")
    parser.add_argument("--run-iterations", type=int, default=12, help="the run route's --iterations")
    parser.add_argument("--gallery", nargs=2, metavar=("PICTURE", "JPEG"), help="make the README's picture only")
    parser.add_argument("--crop", type=int, nargs=2, default=None, metavar=("X", "Y"), help="the crop's corner")
    args = parser.parse_args()
    if args.gallery:
        gallery(Path(args.gallery[0]), Path(args.gallery[1]), args.crop)
        return 0
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for megapixels in args.megapixels:
            photo = _photo(Path(args.photo), megapixels, folder)
            for route in args.routes:
                row = {"route": route, "megapixels": megapixels, "max_memory": args.max_memory}
                out = folder / "out.png"
                command = _command(route, photo, out, Path(args.style), args.max_memory, args.run_iterations)
                row |= measure(command)
                print(json.dumps(row), flush=True)
                rows.append(row)
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "")
    print(f"\n{cpu or platform.processor()}, {os.cpu_count()} logical CPUs\n")
    print("| route | MP | peak memory | seconds | plan |\n|---|---|---|---|---|")
    for r in rows:
        memory = f"{r['peak_mib'] / 1024:.2f} GiB" if "peak_mib" in r else r.get("error", "")
        print(f"| {r['route']} | {r['megapixels']:g} | {memory} | {r.get('seconds', '')} | {r.get('plan', '')} |")
    if args.out:
        Path(args.out).write_text(json.dumps({"cpu": cpu, "rows": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
