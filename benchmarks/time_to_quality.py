"""Time to quality: how long the default route takes to reach the cost the course recipe ends at.

    python benchmarks/time_to_quality.py --image-size 128 --json ttq128.json   # three held-out pairs
    python benchmarks/time_to_quality.py --image-size 256 --json ttq256.json
    python benchmarks/time_to_quality.py --cost default --image-size 256 --optimizer lbfgs   # preset choice
    python benchmarks/time_to_quality.py --image-size 128 --precision float32   # ours without bfloat16

Reference (`--cost course`, the default): the course preset's optimizer, Adam with learning rate 2.0 on
0-255 pixels from its 0.6 noise blend, 200 iterations. Ours: the `default` preset's optimizer, learning
rate, pixel units and start (or the flags given) on the *same cost function*: the course's α = 10,
β = 40, conv4_2 content, conv1_1 .. conv5_1 style at 0.2 each, average pooling with "same" padding, and
the same weights, pictures and size. Only how the cost is minimised differs, and in what arithmetic: the
reference computes in float32 (the recipe's figures), ours in `--precision` (default auto, as the default
preset: bfloat16 where this machine's probe finds it faster, nst_tf.perf.precision).

`--cost default` instead compares on the default preset's own cost, with its Adam recipe (learning rate
0.02 in [0, 1] units from the content picture, 300 iterations) as the reference: the evidence for which
optimizer the default preset should use.

Both clocks are `Step.seconds` (time since `stylize` began: targets, tracing and every step). The
reference's final total cost is its last Step's; ours is stopped (the generator closed) at the first Step
whose total cost is at or below it. Costs are those the Steps report: Adam's are of the picture the step
started from, L-BFGS's of the picture it accepted. With --repeats N the two runs alternate N times (the
machine is shared and its speed drifts) and medians are reported. Each pair is measured on its own and the
median speedup over the pairs is the headline figure. The pairs (`--pairs C:S …`, default `HELD_OUT` from
../shared/images) are ones neither the default preset nor its start were tuned on.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from nst_tf.config import Config  # noqa: E402
from nst_tf.io import images as image_io
from nst_tf.optim import engine as optimize  # noqa: E402
from nst_tf.perf.bench import default_pictures  # noqa: E402
from nst_tf.perf.precision import cpu_description, resolve_config  # noqa: E402
from nst_tf.presets import COURSE, DEFAULT  # noqa: E402
from nst_tf.vgg.extractor import build_extractor  # noqa: E402

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "images"

# What "the optimizer" is made of: everything else in a Config is the cost function, size or pictures.
OPTIMIZER_FIELDS = (
    "optimizer",
    "learning_rate",
    "adam_epsilon",
    "pixel_scale",
    "clip_every_step",
    "init",
    "init_noise_ratio",
    "init_noise_range",
    "jit_compile",
    "precision",
)
# The default preset's Adam recipe before L-BFGS existed: the reference for `--cost default`.
ADAM_DEFAULT = {"optimizer": "adam", "learning_rate": 0.02, "init": "content", "pixel_scale": 1.0, "iterations": 300}


def configs(args: argparse.Namespace) -> tuple[Config, Config]:
    """(reference, ours) on the same cost function, size and weights; only the optimizer differs."""
    common = {"image_size": args.image_size, "exact_size": None, "snapshot_every": 0, "seed": args.seed}
    if args.cost == "course":
        reference = COURSE.replace(weights=args.weights, strict_weights=False, imagenet_layout=None, **common)
    else:  # the reference computes in float32 whatever the machine: the recipe's figures
        reference = DEFAULT.replace(weights=args.weights, precision="float32", **common, **ADAM_DEFAULT)
    ours = reference.replace(**{name: getattr(DEFAULT, name) for name in OPTIMIZER_FIELDS})
    overrides = {
        "optimizer": args.optimizer,
        "init": args.init,
        "learning_rate": args.learning_rate,
        "jit_compile": args.jit,
        "precision": args.precision,
    }
    ours = ours.replace(iterations=args.max_iterations, **{k: v for k, v in overrides.items() if v is not None})
    return reference, ours


def run_reference(content, style, config: Config, extractor) -> dict:
    """The whole reference run: its final cost and time."""
    *_, last = optimize.stylize(content, style, config, extractor=extractor)
    return {"seconds": last.seconds, "final_cost": last.costs["total"], "iterations": last.iteration + 1}


def run_ours(content, style, config: Config, extractor, target: float) -> dict:
    """Ours until its total cost first reaches `target` (then the generator is closed)."""
    steps = optimize.stylize(content, style, config, extractor=extractor)
    try:
        for step in steps:
            if step.costs["total"] <= target:
                return {
                    "seconds": step.seconds,
                    "final_cost": step.costs["total"],
                    "iterations": step.iteration + 1,
                    "evaluations": step.evaluations or step.iteration + 1,
                    "reached": True,
                }
    finally:
        steps.close()
    return {"seconds": None, "final_cost": step.costs["total"], "iterations": step.iteration + 1, "reached": False}


# Pairs nothing was tuned on: the default preset was chosen on tubingen/starry night, golden gate/the scream
# and chelsea/ihc, and the recoloured start was tried on tubingen/starry night.
HELD_OUT = (("hoovertowernight.jpg", "shipwreck.jpg"), ("golden_gate.jpg", "woman-with-hat-matisse.jpg"),
            ("tubingen.jpg", "the_scream.jpg"))  # fmt: skip


def default_pairs() -> list[tuple[Path, Path]]:
    """The held-out pairs from ../shared/images, or the package's sample pair when it is absent."""
    pairs = [(SHARED / c, SHARED / s) for c, s in HELD_OUT]
    return pairs if all(c.is_file() and s.is_file() for c, s in pairs) else [default_pictures()]


def measure_pair(content_path, style_path, reference_config, ours_config, extractors, repeats: int) -> dict:
    """Reference and ours alternating `repeats` times on one pair; medians (ours None if it never got there).
    `extractors`: (the reference's, ours'); ours' may compute in bfloat16, so its costs, which decide when it
    has reached the reference's, carry bfloat16's rounding (about 1e-3 relative: tests/vgg/test_mixed_precision.py)."""
    content, style = image_io.load_image(content_path), image_io.load_image(style_path)
    reference_extractor, ours_extractor = extractors
    references, ours = [], []
    for _ in range(repeats):
        references.append(run_reference(content, style, reference_config, reference_extractor))
        target = statistics.median(r["final_cost"] for r in references)
        ours.append(run_ours(content, style, ours_config, ours_extractor, target))
    reference_seconds = statistics.median(r["seconds"] for r in references)
    reached = [o["seconds"] for o in ours if o["reached"]]
    ours_seconds = statistics.median(reached) if len(reached) == len(ours) else None
    return {
        "pictures": {"content": str(content_path), "style": str(style_path)},
        "reference_seconds": reference_seconds,
        "ours_seconds": ours_seconds,
        "speedup": reference_seconds / ours_seconds if ours_seconds else None,
        "reference_final_cost": statistics.median(r["final_cost"] for r in references),
        "ours_final_cost": statistics.median(o["final_cost"] for o in ours),
        "reference_runs": references,
        "ours_runs": ours,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pairs", nargs="+", metavar="CONTENT:STYLE", help="default: three held-out ../shared pairs")
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--json", metavar="FILE")
    parser.add_argument("--cost", choices=("course", "default"), default="course")
    parser.add_argument("--weights", default="imagenet-vgg16")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--max-iterations", type=int, default=300, help="ours gives up after this many steps")
    parser.add_argument("--optimizer", choices=("adam", "lbfgs"), help="ours (default: the default preset's)")
    parser.add_argument("--init", help="ours' start (default: the default preset's)")
    parser.add_argument("--learning-rate", type=float, help="ours' Adam step (default: the default preset's)")
    parser.add_argument("--jit", action=argparse.BooleanOptionalAction, default=None)
    parser.add_argument(
        "--precision", choices=("auto", "float32", "bfloat16"), help="ours (default: the default preset's, auto)"
    )
    args = parser.parse_args(argv)

    pairs = [tuple(Path(p) for p in pair.split(":", 1)) for pair in args.pairs] if args.pairs else default_pairs()
    reference_config, ours_config = configs(args)
    ours_config, decision = resolve_config(ours_config)  # "auto" decided once, by this machine's probe
    print(decision.line(), flush=True)
    extractor = build_extractor(reference_config)  # the same network and layers for both
    # ours in its own precision: the same weights, its own arithmetic (the reference is always float32)
    ours_extractor = extractor
    if ours_config.precision != reference_config.precision:
        ours_extractor = build_extractor(ours_config, extractor.weights)
    results = []
    for content_path, style_path in pairs:
        extractors = (extractor, ours_extractor)
        results.append(measure_pair(content_path, style_path, reference_config, ours_config, extractors, args.repeats))
        r = results[-1]
        speedup = f"{r['speedup']:.1f}x" if r["speedup"] else "not reached"
        ours_seconds = "-" if r["ours_seconds"] is None else f"{r['ours_seconds']:.1f}"
        print(
            f"{content_path.name} + {style_path.name} at {args.image_size} px ({args.cost} cost): reference "
            f"{r['reference_seconds']:.1f} s to {r['reference_final_cost']:.6g}; ours ({ours_config.optimizer}, "
            f"{ours_config.init} start) {ours_seconds} s; speedup {speedup}",
            flush=True,
        )
    speedups = [r["speedup"] for r in results]
    median = statistics.median(speedups) if all(speedups) else None
    print(f"median speedup over {len(results)} pairs: " + (f"{median:.1f}x" if median else "not reached"), flush=True)
    if args.json:
        summary = {
            "image_size": args.image_size,
            "cost": args.cost,
            "weights": extractor.weights.source,
            "median_speedup": median,
            "median_reference_seconds": statistics.median(r["reference_seconds"] for r in results),
            "median_ours_seconds": statistics.median(r["ours_seconds"] for r in results) if median else None,
            "reference": {name: getattr(reference_config, name) for name in OPTIMIZER_FIELDS},
            "ours": {name: getattr(ours_config, name) for name in OPTIMIZER_FIELDS},
            "precision_decision": decision.to_dict(),
            "cpu": cpu_description(),
            "pairs": results,
        }
        Path(args.json).write_text(json.dumps(summary, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
