"""What `--precision auto` costs where it picks float32: the probe once per machine, then a cache lookup.

    python benchmarks/probe_cost.py [--rounds 3]

Where auto picks float32 (a CPU without fast bfloat16), the run computes exactly what `--precision float32`
computes (the same graph: `resolve_precision` only decides the string the run is built with), so auto's
whole cost there is its decision: the probe (`nst_tf.perf.precision.probe`, a few convolutions and a matmul
in each precision) on the machine's first run, then a read of the cache file. This script times, in a
throwaway cache folder and with NST_TF_PRECISION cleared: the probe `--rounds` times (no cache), then the
decision path of a machine where bfloat16 is slow (`decide` forced to float32 after a real probe: the
first run probes and writes the cache, later runs read it). TensorFlow is imported first and not timed
(every run imports it anyway). On a CPU where bfloat16 is several times slower than float32 the probe's
bfloat16 half takes that many times longer; only such a machine can time that.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    os.environ.pop("NST_TF_PRECISION", None)
    os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="nst_tf_probe_cost_")
    import tensorflow as tf  # noqa: F401  (imported before the clocks start: every run imports it)

    from nst_tf.perf import precision

    for i in range(args.rounds):
        began = time.perf_counter()
        decision = precision.resolve_precision("auto", use_cache=False)
        print(
            f"probe {i + 1}: {time.perf_counter() - began:.3f} s -> {decision.precision} "
            f"(bfloat16 convolutions at {decision.conv_speedup:.2f}x float32's speed)",
            flush=True,
        )
    precision.decide = lambda speedup: "float32"  # what a machine without fast bfloat16 decides
    began = time.perf_counter()
    decision = precision.resolve_precision("auto")
    print(f"float32 decided, first run (probe + cache write): {time.perf_counter() - began:.3f} s ({decision.source})")
    for i in range(args.rounds):
        began = time.perf_counter()
        decision = precision.resolve_precision("auto")
        print(f"float32 decided, later run {i + 1}: {(time.perf_counter() - began) * 1000:.2f} ms ({decision.source})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
