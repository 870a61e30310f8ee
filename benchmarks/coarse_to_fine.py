"""Experiment: does coarse-to-fine L-BFGS with one trace for every size bring time to quality to 10x?

    python benchmarks/coarse_to_fine.py --image-size 256 --coarse 0 15 30   # 0: single scale, as the default

The same cost function, pairs, reference and stopping rule as `time_to_quality.py` (the course's cost,
imagenet-vgg16, the three held-out pairs; the reference is the course recipe, Adam lr 2.0 for 200
iterations, run once per pair and cached in --cache). Ours: the cost-and-gradient function of
`nst_tf.optim.lbfgs_tf` traced *once* with the picture's height and width left open, SciPy's L-BFGS-B for
--coarse K iterations at half the size (targets from the half-size pictures), then at full size until the
total cost is at or below the reference's final one. The clock starts before the trace, as `stylize`'s.
This bypasses `stylize` on purpose: it measures the idea before it is built into the stages.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import scipy.optimize  # noqa: E402
import tensorflow as tf  # noqa: E402
import time_to_quality as ttq  # noqa: E402

from nst_tf.io import images as image_io  # noqa: E402
from nst_tf.optim.lbfgs_tf import make_cost_and_gradient, target_arguments  # noqa: E402
from nst_tf.optim.pictures import initial_image, prepare_images  # noqa: E402
from nst_tf.optim.targets import compute_targets  # noqa: E402
from nst_tf.vgg.extractor import build_extractor  # noqa: E402


def minimise(function, extractor, content, style, config, start, iterations, stop_at, counter):
    """L-BFGS-B at `config`'s size from `start` (None: the config's start; else a picture, resized) for at
    most `iterations` iterations or until the cost is <= `stop_at`; returns (pixels, last cost)."""
    sized_content, sized_styles = prepare_images(content, [style], config)
    arguments = target_arguments(compute_targets(extractor, sized_content, sized_styles, config), config, True)
    scale = config.pixel_scale
    if start is None:
        x0 = initial_image(sized_content, config, np.random.default_rng(config.seed), sized_styles) * scale
    else:
        x0 = image_io.resize(np.clip(start / scale, 0.0, 1.0), *sized_content.shape[1:3]) * scale
    shape, last, accepted = x0.shape, {}, {"x": x0}

    def fun(x):
        counter["evaluations"] += 1
        values, gradient = function(tf.constant(x.reshape(shape).astype(np.float32)), arguments)
        last["cost"] = float(values["total"])
        return last["cost"], gradient.numpy().astype(np.float64).ravel()

    def callback(xk):
        accepted["x"] = xk.copy()
        if stop_at is not None and last["cost"] <= stop_at:
            raise StopIteration

    options = {"maxiter": iterations, "ftol": 0.0, "gtol": 0.0, "maxfun": 20 * iterations}
    bounds = [(0.0, scale)] * x0.size
    scipy.optimize.minimize(
        fun, x0.ravel(), jac=True, method="L-BFGS-B", bounds=bounds, callback=callback, options=options
    )
    return accepted["x"].reshape(shape), last["cost"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--image-size", type=int, default=256)
    parser.add_argument("--coarse", type=int, nargs="+", default=[0, 15, 30], help="coarse iterations (0: none)")
    parser.add_argument("--cache", type=Path, help="reference results (default: ./ttq_reference_SIZE.json)")
    args = parser.parse_args()
    options = argparse.Namespace(
        image_size=args.image_size,
        cost="course",
        weights="imagenet-vgg16",
        seed=0,
        optimizer=None,
        init=None,
        learning_rate=None,
        jit=None,
        precision=None,
        max_iterations=300,
    )
    reference, ours = ttq.configs(options)
    extractor = build_extractor(reference)
    cache = args.cache or Path(f"ttq_reference_{args.image_size}.json")
    references = json.loads(cache.read_text()) if cache.is_file() else {}
    for coarse in args.coarse:
        for content_path, style_path in ttq.default_pairs():
            content, style = image_io.load_image(content_path), image_io.load_image(style_path)
            if content_path.name not in references:
                references[content_path.name] = ttq.run_reference(content, style, reference, extractor)
                cache.write_text(json.dumps(references, indent=2) + "\n")
            target, reference_seconds = (references[content_path.name][k] for k in ("final_cost", "seconds"))
            began, counter = time.perf_counter(), {"evaluations": 0}
            function = make_cost_and_gradient(extractor, ours, (1, None, None, 3), True)  # one trace, any size
            picture = None
            if coarse:
                half = ours.replace(image_size=round(args.image_size / 2))
                picture, _ = minimise(function, extractor, content, style, half, None, coarse, None, counter)
            _, cost = minimise(function, extractor, content, style, ours, picture, 300, target, counter)
            seconds = time.perf_counter() - began
            print(
                f"{content_path.name} {args.image_size} px, {coarse} coarse iterations: {counter['evaluations']} "
                f"evaluations, {seconds:.1f} s, reached {cost <= target}; reference {reference_seconds:.1f} s: "
                f"{reference_seconds / seconds:.1f}x",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
