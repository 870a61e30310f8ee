"""Regenerate the README gallery: the experiments the course and its companions walk through.

    python benchmarks/gallery.py                # writes docs/gallery/*.png (about 11 minutes on 2 cores)
    python benchmarks/gallery.py --size 256 --iterations 200

Rows: the loss network (ImageNet VGG16 against HED's edge-tuned VGG16), content/style weight ratio, max
vs average pooling, content vs noise start, the three colour modes, texture synthesis. Every picture is a
real run of `nst_tf.stylize` with the default preset (relative costs, L-BFGS) on the offline
imagenet-vgg16 weights (`--weights` to change) and the project's own images, seeded, so the gallery is
the same on every machine of a kind.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from nst_tf.io import images as image_io
from nst_tf.optim import engine as optimize
from nst_tf.optim import pictures
from nst_tf.presets import DEFAULT
from nst_tf.vgg.extractor import build_extractor
from nst_tf.vgg.weights import resolve_weights

ROOT = Path(__file__).resolve().parent.parent
ROWS = ("network", "weights", "pooling", "init", "colors", "texture")
IMAGES = ROOT / "images"


def _label(picture: np.ndarray, text: str) -> Image.Image:
    img = Image.fromarray(image_io.to_uint8(picture))
    canvas = Image.new("RGB", (img.width, img.height + 22), "white")
    canvas.paste(img, (0, 0))
    try:
        font = ImageFont.load_default(size=14)
    except TypeError:
        font = ImageFont.load_default()
    ImageDraw.Draw(canvas).text((4, img.height + 3), text, fill="black", font=font)
    return canvas


def _row(cells: list[Image.Image], path: Path) -> None:
    height = max(c.height for c in cells)
    row = Image.new("RGB", (sum(c.width for c in cells) + 6 * (len(cells) - 1), height), "white")
    x = 0
    for cell in cells:
        row.paste(cell, (x, 0))
        x += cell.width + 6
    row.save(path)
    print(f"wrote {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=160, help="longest side, px")
    parser.add_argument("--iterations", type=int, default=DEFAULT.iterations)
    parser.add_argument("--out", default=str(ROOT / "docs" / "gallery"))
    parser.add_argument("--weights", default="imagenet-vgg16", help="loss network of every row but 'network'")
    parser.add_argument("--rows", default=",".join(ROWS), help=f"which rows to make (default all: {','.join(ROWS)})")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    weights = resolve_weights(args.weights)
    cat = image_io.load_image(IMAGES / "chelsea.png")
    ihc = image_io.load_image(IMAGES / "ihc.png")
    hubble = image_io.load_image(IMAGES / "hubble_deep_field.jpg")
    base = DEFAULT.replace(image_size=args.size, iterations=args.iterations, snapshot_every=0, seed=0)
    extractors = {p: build_extractor(base.replace(pooling=p), weights) for p in ("avg", "max")}
    began = time.perf_counter()

    def run(content, style, config, label, network=None):
        config = config.resolved()
        extractor = extractors[config.pooling]
        if config.mode != "transfer" or network is not None:
            extractor = build_extractor(config, network or weights)
        steps = list(optimize.stylize(content, style, config, extractor=extractor))
        print(f"  {label}: J {steps[0].costs['total']:.4g} -> {steps[-1].costs['total']:.4g}")
        return _label(steps[-1].image, label)

    def inputs(content, style):
        c, (s,) = pictures.prepare_images(content, [style], base)
        return [_label(c, "content"), _label(s, "style")]

    rows = set(args.rows.split(","))
    if "network" in rows:
        networks = {name: resolve_weights(name) for name in ("imagenet-vgg16", "hed-vgg16")}
        _row(
            inputs(cat, ihc) + [run(cat, ihc, base, name, network=w) for name, w in networks.items()],
            out / "network.png",
        )
    if "weights" in rows:  # relative cost terms: alpha/beta means the same for any network and size
        beta = base.style_weight
        _row(
            inputs(cat, ihc)
            + [run(cat, ihc, base.replace(content_weight=r * beta), f"alpha/beta = {r:g}") for r in (0.05, 0.2, 1.0)],
            out / "weights.png",
        )
    if "pooling" in rows:
        _row([run(cat, ihc, base.replace(pooling=p), f"{p} pooling") for p in ("max", "avg")], out / "pooling.png")
    if "init" in rows:
        _row(
            [
                run(cat, ihc, base, "start: recoloured (default)"),
                run(cat, ihc, base.replace(init="content"), "start: content"),
                run(cat, ihc, base.replace(init="noise", iterations=2 * args.iterations), "start: noise, 2x steps"),
                run(cat, ihc, base.replace(init="blend"), "start: TF1 blend"),
            ],
            out / "init.png",
        )
    if "colors" in rows:
        _row(
            inputs(cat, hubble)
            + [run(cat, hubble, base, "colours: style's")]
            + [
                run(cat, hubble, base.replace(preserve_colors=m), f"colours: {m}")
                for m in ("post", "luminance", "histogram")
            ],
            out / "colors.png",
        )
    if "texture" in rows:
        texture = base.replace(
            mode="texture", iterations=2 * args.iterations, exact_size=(args.size * 3 // 4, args.size)
        )
        _row(
            [_label(pictures.prepare_images(ihc, [], base)[0], "style: ihc"), run(None, ihc, texture, "texture: ihc")]
            + [
                _label(pictures.prepare_images(hubble, [], base)[0], "style: hubble"),
                run(None, hubble, texture, "texture: hubble"),
            ],
            out / "texture.png",
        )
    print(f"gallery done in {time.perf_counter() - began:.0f} s")


if __name__ == "__main__":
    main()
