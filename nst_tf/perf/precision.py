"""The precision policy: which arithmetic a run's convolutions use when it asks for `--precision auto`.

bfloat16 is several times faster than float32 on some machines and several times slower on others: on an
Intel Xeon with AMX (Sapphire Rapids) TensorFlow's oneDNN convolutions run about 6x faster in bfloat16;
on an AMD EPYC with AVX-512 bf16 instructions but no AMX they ran about 7x slower (benchmarks/README.md).
A list of CPU names would be wrong on the next machine, so "auto" is decided by measurement: `probe`
times a few VGG-shaped 3x3 convolutions and one matmul in each precision (a fraction of a second,
alternating the two so a drift in the machine's speed hits both alike, medians of the timings) and picks
bfloat16 only when its convolutions are at least BFLOAT16_MIN_SPEEDUP times float32's speed.

The decision is cached per machine in the user's cache folder (`$XDG_CACHE_HOME/nst_tf/precision.json`,
else `~/.cache/nst_tf/precision.json`), keyed by the device's identity (the CPU's model name and a hash of
its feature flags from /proc/cpuinfo, or the GPU's name) and the TensorFlow version, so a new CPU, GPU or
TensorFlow probes again. The file is nst_tf's own: an entry that does not read back as a decision is
ignored and rewritten, never trusted; a cache folder that cannot be written costs only the probe's time.
`NST_TF_PRECISION=float32` (or `bfloat16`) decides "auto" without probing, for tests and for users who know.

Resolution happens once, at the start of a run (`resolve_config`); the resolved precision is what the run
computes in and what its config.json records, with the `Decision` and its figures beside it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import platform
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

from nst_tf.errors import ConfigError

log = logging.getLogger(__name__)

ENV_VAR = "NST_TF_PRECISION"
CHOICES = ("float32", "bfloat16")
CACHE_FORMAT = 1
# bfloat16 is chosen when its convolutions run at least this many times float32's speed. Why 1.5: the
# convolutions are ~95 % of a step's FLOPs (nst_tf.perf.bench), but a mixed step also casts every feature
# map it hands to the float32 costs and keeps Grams, costs and the update in float32, which bfloat16 does
# not speed up; and a probe on a shared machine scatters by 10-20 % between runs. At 1.5x the step still
# gains clearly after both; below it the gain is within the noise and not worth bfloat16's rounding. The
# machines measured sit far from the line on either side (AMX: ~6x; AVX-512 bf16 without AMX: ~0.15x).
BFLOAT16_MIN_SPEEDUP = 1.5
# The probe's convolutions, (height, width, C_in, C_out) of 3x3 "SAME" convolutions shaped like VGG's
# blocks 1-3 at small sizes, and its matmul's side: ~0.1-1 GFLOP each, milliseconds apiece in float32.
PROBE_CONVS = ((64, 64, 64, 64), (32, 32, 128, 128), (16, 16, 256, 256))
PROBE_MATMUL = 512
PROBE_REPEATS = 5


@dataclass(frozen=True)
class Decision:
    """What a run computes in, and why.

    Attributes:
        precision: "float32" or "bfloat16", what the run uses.
        requested: what was asked for: "auto", "float32" or "bfloat16".
        source: "explicit" (asked for by name), "probe" (measured now), "cache" (measured before on this
            machine), "environment" (NST_TF_PRECISION), "backend" (the PyTorch twin: float32 only) or
            "network" (SqueezeNet 1.1: float32 only) or "solve" (a least-squares decoder fit: float64).
        device: the device the probe ran on, in words.
        conv_speedup: bfloat16's convolution speed over float32's (geometric mean over PROBE_CONVS),
            None when nothing was measured.
        matmul_speedup: the same for a PROBE_MATMUL-sided matmul.
        gflops: the probe's figures, {"conv_float32", "conv_bfloat16", "matmul_float32", "matmul_bfloat16"}.
    """

    precision: str
    requested: str
    source: str
    device: str = ""
    conv_speedup: float | None = None
    matmul_speedup: float | None = None
    gflops: dict[str, float] = dataclasses.field(default_factory=dict)

    def to_dict(self) -> dict:
        """JSON-ready (config.json's and --json's "precision_decision")."""
        data = dataclasses.asdict(self)
        data["threshold"] = BFLOAT16_MIN_SPEEDUP
        return data

    @property
    def measured(self) -> bool:
        """True when this machine's probe decided (now or cached): what a command tells its user."""
        return self.source in ("probe", "cache")

    def line(self) -> str:
        """The one line a command prints on stderr."""
        if self.source in ("probe", "cache") and self.conv_speedup is not None:
            how = "probe" if self.source == "probe" else "cached probe"
            return (
                f"precision: {self.precision} ({how}: bfloat16 convolutions at {self.conv_speedup:.1f}x float32's "
                f"speed on this {self.device}; bfloat16 is chosen from {BFLOAT16_MIN_SPEEDUP}x)"
            )
        reason = {
            "environment": f"{ENV_VAR}",
            "backend": "the backend computes in float32 only",
            "network": "SqueezeNet 1.1 runs in float32 only",
            "solve": "a least-squares fit solves in float64",
            "probe": "no bfloat16 convolution ran on this device",
        }
        return f"precision: {self.precision} ({reason.get(self.source, self.source)})"


def decide(conv_speedup: float | None) -> str:
    """The policy itself: bfloat16 when its convolutions are measurably faster, float32 otherwise."""
    if conv_speedup is None or not conv_speedup >= BFLOAT16_MIN_SPEEDUP:  # NaN and failures: float32
        return "float32"
    return "bfloat16"


def resolve_precision(requested: str, device: str = "auto", use_cache: bool = True) -> Decision:
    """Turn "auto" into float32 or bfloat16 for this machine (see the module notes); names pass through.

    Args:
        requested: "auto", "float32" or "bfloat16".
        device: the run's device choice ("auto", "cpu", "gpu") or a TensorFlow device ("/GPU:0").
        use_cache: read and write the cache file (False: always probe, write nothing).

    Raises:
        ConfigError: for an unknown `requested`, or an unknown NST_TF_PRECISION.
    """
    if requested in CHOICES:
        return Decision(requested, requested, "explicit")
    if requested != "auto":
        raise ConfigError(f"unknown precision {requested!r}; choose from auto, {', '.join(CHOICES)}")
    forced = os.environ.get(ENV_VAR, "").strip()
    if forced:
        if forced not in CHOICES:
            raise ConfigError(f"{ENV_VAR}={forced!r}: choose float32 or bfloat16")
        return Decision(forced, "auto", "environment")
    tf_device = _tf_device(device)
    key, identity = device_identity(tf_device)
    if use_cache:
        cached = _read_cache(cache_path()).get(key)
        decision = _decision_from_cache(cached)
        if decision is not None:
            return decision
    decision = probe(tf_device, identity)
    if use_cache:
        _write_cache(cache_path(), key, decision)
    return decision


def resolve_config(config, backend: str = "tf", architecture: str | None = None):
    """(config with its precision resolved, the Decision): the one call a run makes at its start.

    The PyTorch twin and SqueezeNet 1.1 (cs231n's network) compute in float32 only, so "auto" resolves to
    float32 there without probing.
    """
    if config.precision == "auto" and backend != "tf":
        decision = Decision("float32", "auto", "backend")
    elif config.precision == "auto" and architecture == "squeezenet1_1":
        decision = Decision("float32", "auto", "network")
    else:
        decision = resolve_precision(config.precision, config.device)
    return config.replace(precision=decision.precision), decision


def cache_path() -> Path:
    """$XDG_CACHE_HOME/nst_tf/precision.json, else ~/.cache/nst_tf/precision.json."""
    root = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(root) / "nst_tf" / "precision.json"


def device_identity(tf_device: str) -> tuple[str, str]:
    """(cache key, readable name) of the device and the TensorFlow version."""
    import tensorflow as tf

    if tf_device.startswith("/GPU"):
        gpus = tf.config.list_physical_devices("GPU")
        details = tf.config.experimental.get_device_details(gpus[0]) if gpus else {}
        name = f"GPU {details.get('device_name', 'unknown')}"
        fingerprint = name
    else:
        model, flags = _cpu_model_and_flags()
        name = f"CPU {model}"
        fingerprint = f"{model}|{hashlib.sha256(flags.encode()).hexdigest()[:16]}"
    key = hashlib.sha256(f"{fingerprint}|tensorflow {tf.__version__}".encode()).hexdigest()[:24]
    return key, name


def probe(tf_device: str, identity: str) -> Decision:
    """Time PROBE_CONVS and a matmul in float32 and bfloat16 on `tf_device`; decide (see `decide`)."""
    began = time.perf_counter()
    try:
        conv32, conv16, mm32, mm16 = _measure(tf_device)
    except Exception as exc:  # a device without bfloat16 kernels says so by failing: float32 it is
        log.info("bfloat16 probe failed on %s (%s): float32", identity, exc)
        return Decision("float32", "auto", "probe", identity, gflops={})
    conv_speedup = conv16 / conv32
    decision = Decision(
        decide(conv_speedup),
        "auto",
        "probe",
        identity,
        conv_speedup=round(conv_speedup, 3),
        matmul_speedup=round(mm16 / mm32, 3),
        gflops={"conv_float32": conv32, "conv_bfloat16": conv16, "matmul_float32": mm32, "matmul_bfloat16": mm16},
    )
    log.info("precision probe took %.2f s: %s", time.perf_counter() - began, decision.line())
    return decision


def _measure(tf_device: str) -> tuple[float, float, float, float]:
    """GFLOP/s (conv float32, conv bfloat16, matmul float32, matmul bfloat16); convs as a geometric mean."""
    import tensorflow as tf

    ops: dict[str, list] = {}  # name -> [function, arguments, flop]
    with tf.device(tf_device):
        for dtype in ("float32", "bfloat16"):
            for i, (h, w, c_in, c_out) in enumerate(PROBE_CONVS):
                x = tf.cast(tf.random.stateless_uniform((1, h, w, c_in), (i, 0)), dtype)
                k = tf.cast(tf.random.stateless_uniform((3, 3, c_in, c_out), (i, 1), -0.1, 0.1), dtype)
                ops[f"conv{i}_{dtype}"] = [_one_element("conv"), (x, k), 2 * h * w * 9 * c_in * c_out]
            m = tf.cast(tf.random.stateless_uniform((PROBE_MATMUL, PROBE_MATMUL), (9, 0)), dtype)
            ops[f"matmul_{dtype}"] = [_one_element("matmul"), (m, m), 2 * PROBE_MATMUL**3]
        # Tracing and first-touch allocations, untimed. Each op is traced once, on purpose, but TensorFlow
        # counts the traces of one lambda's code across these functions and warns of "retracing" to a
        # Python user's stderr (the CLI's quiet import hides it), so its logger is quieted for them.
        logger = tf.get_logger()
        level = logger.level
        logger.setLevel(logging.ERROR)
        try:
            for function, arguments, _ in ops.values():
                function(*arguments).numpy()
        finally:
            logger.setLevel(level)
        seconds: dict[str, list[float]] = {name: [] for name in ops}
        for _ in range(PROBE_REPEATS):  # alternating: a drift in the machine's speed hits every op alike
            for name, (function, arguments, _) in ops.items():
                start = time.perf_counter()
                function(*arguments).numpy()
                seconds[name].append(time.perf_counter() - start)
    rate = {name: ops[name][2] / statistics.median(seconds[name]) / 1e9 for name in ops}

    def conv_rate(dtype: str) -> float:
        return statistics.geometric_mean(rate[f"conv{i}_{dtype}"] for i in range(len(PROBE_CONVS)))

    return conv_rate("float32"), conv_rate("bfloat16"), rate["matmul_float32"], rate["matmul_bfloat16"]


def _one_element(kind: str):
    """A compiled conv or matmul returning one element: forces completion without copying the result back.
    A new function per probed op, so each is traced once."""
    import tensorflow as tf

    if kind == "conv":
        return tf.function(lambda x, k: tf.nn.conv2d(x, k, 1, "SAME")[0, 0, 0, 0])
    return tf.function(lambda a, b: tf.matmul(a, b)[0, 0])


def _tf_device(device: str) -> str:
    """The TensorFlow device a run's choice lands on ("gpu" without one: the run refuses it itself)."""
    if device.startswith("/"):
        return device
    import tensorflow as tf

    # As nst_tf.optim.engine.resolve_device (not imported: the engine builds extractors, which resolve here).
    return "/GPU:0" if device in ("auto", "gpu") and tf.config.list_logical_devices("GPU") else "/CPU:0"


def _cpu_model_and_flags() -> tuple[str, str]:
    """The CPU's model name and its feature flags (sorted, as one string); the platform's names elsewhere."""
    model, flags = "", ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            name, _, value = line.partition(":")
            if name.strip() == "model name" and not model:
                model = value.strip()
            elif name.strip() in ("flags", "Features") and not flags:
                flags = " ".join(sorted(value.split()))
    except OSError:
        pass
    return model or platform.processor() or platform.machine() or "unknown", flags


def cpu_description() -> str:
    """The CPU's model name and its bfloat16-related flags (amx_*, avx512_bf16), for reports."""
    model, flags = _cpu_model_and_flags()
    relevant = [f for f in flags.split() if f.startswith("amx") or f in ("avx512_bf16", "avx512f")]
    return f"{model} [{' '.join(relevant) or 'no AMX/AVX-512 bf16 flags'}]"


def _read_cache(path: Path) -> dict:
    """The cache's entries, or {} when the file is missing, unreadable or not ours in shape."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("format") != CACHE_FORMAT or not isinstance(data.get("entries"), dict):
        return {}
    return data["entries"]


def _decision_from_cache(entry: object) -> Decision | None:
    """A cached entry as a Decision, or None unless every field checks out (then the probe runs again)."""
    if not isinstance(entry, dict):
        return None
    speedup = entry.get("conv_speedup")
    figures = entry.get("gflops")
    if not (isinstance(speedup, (int, float)) and not isinstance(speedup, bool) and speedup > 0):
        return None
    if not isinstance(figures, dict) or not all(isinstance(v, (int, float)) for v in figures.values()):
        return None
    matmul = entry.get("matmul_speedup")
    if entry.get("precision") != decide(speedup) or not isinstance(entry.get("device"), str):
        return None  # a hand-edited or older policy's choice is re-decided by measurement
    return Decision(
        decide(speedup),
        "auto",
        "cache",
        entry["device"],
        float(speedup),
        float(matmul) if isinstance(matmul, (int, float)) else None,
        {str(k): float(v) for k, v in figures.items()},
    )


def _write_cache(path: Path, key: str, decision: Decision) -> None:
    """Add `decision` under `key`, atomically; a cache that cannot be written is only logged."""
    from nst_tf.io import atomic

    if decision.conv_speedup is None:  # a failed probe is not cached: the next run tries again
        return
    entries = dict(_read_cache(path))
    entries[key] = {**decision.to_dict(), "measured": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic.write_json(path, {"format": CACHE_FORMAT, "entries": entries})
    except OSError as exc:
        log.warning("could not write the precision cache %s: %s", path, exc)
