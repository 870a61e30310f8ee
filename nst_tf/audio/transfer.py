"""Audio style transfer and texture synthesis: settings, input preparation and the optimisation loop.

`AudioConfig` holds every setting (the CLI derives its defaults from it). `prepare` turns the sounds as
read into what the run uses — the style resampled to the content's rate, the content cropped to
`duration`, the output length decided — and checks everything before any work. `synthesize` is a
generator of `nst_tf.records.Step`s: it computes the spectrograms and targets once, then optimises the
generated log-magnitude spectrogram with L-BFGS-B (the framework-free driver `nst_tf.optim.lbfgs.steps`,
the same one pictures use) or Adam, one record per iteration, the last carrying the spectrogram (frames,
bins) in `image`. `to_waveform`
makes it a sound by Griffin–Lim.

Departures from the source (Ulyanov's neural-style-audio-tf, see `nst_tf.audio.features` for the costs):
the spectrogram is bounded below by 0 — log(1 + |S|) cannot be negative, and L-BFGS-B keeps it so, where the
source's unbounded L-BFGS could wander below and then had its exp(x) − 1 produce negative magnitudes — and
bounded above by twice the inputs' largest value, which it never reaches in practice.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace

import numpy as np

from nst_tf.config import PRECISIONS, setting
from nst_tf.errors import ConfigError
from nst_tf.io.sound import Sound, resample
from nst_tf.records import Step

log = logging.getLogger(__name__)

MODES = ("transfer", "texture")
OPTIMIZERS = ("lbfgs", "adam")
MAX_SECONDS = 120.0  # longest sound a run makes: its features must fit in memory and finish today
MAX_FILTERS = 8192  # the Gram matrix is filters² floats (256 MiB at 8192)


@dataclass(frozen=True)
class AudioConfig:
    """Every setting of an audio run. Defaults are tuned for a 2-core CPU (see the project's README);
    the source's settings are n_fft 2048, 4096 filters, width 11, content weight 1e-2 of its own scale,
    300 L-BFGS iterations, 500 Griffin–Lim iterations. Each field's metadata is its `audio` flag."""

    mode: str = setting("transfer", "transfer or texture", parse="str", choices=MODES)
    iterations: int = setting(60, "optimiser iterations", parse="int")
    content_weight: float = setting(1e-2, "α", parse="float")
    style_weight: float = setting(1.0, "β", parse="float")
    filters: int = setting(1024, "random convolution filters", parse="int")
    kernel_width: int = setting(11, "filter width in frames", parse="int")
    n_fft: int = setting(1024, "STFT window length in samples", parse="int")
    hop: int | None = setting(None)  # None: n_fft // 4
    seed: int = setting(0, "filters, start and phases come from it", parse="int")
    duration: float | None = setting(
        None, "seconds to make (default: the content's, or the style's)", parse="float"
    )  # None: the content's length (texture: the style's)
    optimizer: str = setting("lbfgs", "L-BFGS-B or Adam", parse="str", choices=OPTIMIZERS)
    # Adam only; the spectrogram is log(1 + |S|), values 0 to about 6
    learning_rate: float = setting(0.05, "Adam only", parse="float")
    griffin_lim_iterations: int = setting(100, "phase reconstruction", parse="int")
    griffin_lim_momentum: float = setting(0.99)
    # The random convolution's arithmetic; its features, Grams, costs and the spectrogram stay float32.
    precision: str = setting(
        "auto", "the convolution's arithmetic (auto: bfloat16 where measured faster)", parse="str", choices=PRECISIONS
    )

    @property
    def hop_length(self) -> int:
        return self.hop or self.n_fft // 4

    def replace(self, **changes) -> AudioConfig:
        return replace(self, **changes)

    def to_dict(self) -> dict:
        return asdict(self)

    def validate(self) -> AudioConfig:
        """Raise ConfigError (one line) for a setting that makes no sense; return self."""
        checks = [
            (self.mode in MODES, f"--mode must be one of {', '.join(MODES)}, got {self.mode!r}"),
            (self.optimizer in OPTIMIZERS, f"--optimizer must be one of {', '.join(OPTIMIZERS)}"),
            (1 <= self.iterations <= 100_000, f"--iterations must be 1 to 100000, got {self.iterations}"),
            (_finite_nonnegative(self.content_weight), "--content-weight must be a finite number >= 0"),
            (_finite_nonnegative(self.style_weight), "--style-weight must be a finite number >= 0"),
            (self.content_weight > 0 or self.style_weight > 0, "content and style weights cannot both be 0"),
            (1 <= self.filters <= MAX_FILTERS, f"--filters must be 1 to {MAX_FILTERS}, got {self.filters}"),
            (1 <= self.kernel_width <= 255, f"--kernel-width must be 1 to 255, got {self.kernel_width}"),
            (64 <= self.n_fft <= 16384 and self.n_fft % 2 == 0, f"--n-fft must be even, 64 to 16384, got {self.n_fft}"),
            (self.hop is None or 1 <= self.hop <= self.n_fft // 2, "the hop must be 1 to n_fft / 2"),
            (0 <= self.seed < 2**32, f"--seed must be 0 to 2**32 - 1, got {self.seed}"),
            (
                self.duration is None or 0 < self.duration <= MAX_SECONDS,
                f"--duration must be > 0 and <= {MAX_SECONDS:.0f} s",
            ),
            (np.isfinite(self.learning_rate) and self.learning_rate > 0, "--learning-rate must be > 0"),
            (0 <= self.griffin_lim_iterations <= 10_000, "--griffin-lim-iterations must be 0 to 10000"),
            (0 <= self.griffin_lim_momentum < 1, "the Griffin-Lim momentum must be in [0, 1)"),
            (self.precision in PRECISIONS, f"--precision must be one of {', '.join(PRECISIONS)}"),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(message)
        return self


def _finite_nonnegative(value: float) -> bool:
    return bool(np.isfinite(value) and value >= 0)


@dataclass(frozen=True)
class AudioInputs:
    """The sounds a run uses, all at `rate` Hz: content (None in texture mode), style, and the output length."""

    content: np.ndarray | None
    style: np.ndarray
    rate: int
    length: int  # samples of the sound to make
    notes: tuple[str, ...] = ()  # what was done to the inputs (mix-down, resampling, cropping)


def prepare(content: Sound | None, style: Sound, config: AudioConfig) -> AudioInputs:
    """Bring the inputs to one rate and length and check the run can be made (ConfigError if not)."""
    config.validate()
    notes = [f"{label}: {s.describe()}" for label, s in (("content", content), ("style", style)) if s is not None]
    if config.mode == "texture":
        rate, content_samples = style.rate, None
        style_samples = style.samples
        length = round(config.duration * rate) if config.duration else len(style_samples)
        length = min(length, round(MAX_SECONDS * rate))
    else:
        if content is None:
            raise ConfigError("transfer mode needs a content sound and a style sound")
        rate, content_samples = content.rate, content.samples
        style_samples = style.samples
        if style.rate != rate:
            style_samples = resample(style_samples, style.rate, rate)
            notes.append(f"style resampled from {style.rate} Hz to {rate} Hz")
        if config.duration:
            content_samples = content_samples[: round(config.duration * rate)]
        if len(content_samples) > MAX_SECONDS * rate:
            raise ConfigError(
                f"the content is {content.seconds:.0f} s long; pass --duration (at most {MAX_SECONDS:.0f} s)"
            )
        length = len(content_samples)
    if len(style_samples) > MAX_SECONDS * rate:
        style_samples = style_samples[: round(MAX_SECONDS * rate)]
        notes.append(f"style cropped to its first {MAX_SECONDS:.0f} s")
    shortest = (config.kernel_width - 1) * config.hop_length + config.n_fft
    for label, samples in (("content", content_samples), ("style", style_samples), ("output", np.empty(length))):
        if samples is not None and len(samples) < shortest:
            raise ConfigError(
                f"the {label} is {len(samples) / rate:.3f} s long; n_fft {config.n_fft} and kernel width "
                f"{config.kernel_width} need at least {shortest / rate:.3f} s at {rate} Hz"
            )
    return AudioInputs(content_samples, np.asarray(style_samples, np.float32), rate, length, tuple(notes))


def synthesize(inputs: AudioInputs, config: AudioConfig) -> Iterator[Step]:
    """Optimise a log-magnitude spectrogram; one `Step` per iteration, exactly `config.iterations`.

    The generator can be closed at any time (L-BFGS's worker thread then stops after its evaluation).
    """
    import tensorflow as tf

    from nst_tf.audio import features as F
    from nst_tf.audio.spectrogram import frames_for, log_magnitude
    from nst_tf.perf.precision import resolve_precision

    n_fft, hop = config.n_fft, config.hop_length
    style_spec = log_magnitude(inputs.style, n_fft, hop)
    bins = style_spec.shape[1]
    kernel = F.random_kernel(bins, config.filters, config.kernel_width, config.seed)
    # the targets in the same arithmetic as the generated sound's features ("auto": a library call's own)
    kernel_t = tf.cast(kernel, resolve_precision(config.precision).precision)
    style_gram = F.gram(F.features(tf.constant(style_spec), kernel_t)).numpy()
    content_spec, content_features, upper = None, None, float(style_spec.max())
    if config.mode == "transfer":
        content_spec = log_magnitude(inputs.content, n_fft, hop)
        content_features = F.features(tf.constant(content_spec), kernel_t).numpy()
        upper = max(upper, float(content_spec.max()))
    shape = (frames_for(inputs.length, hop), bins)
    weight = config.content_weight if config.mode == "transfer" else 0.0
    function = F.make_cost_and_gradient(kernel_t, content_features, style_gram, weight, config.style_weight, shape)
    start = _start(content_spec if config.mode == "transfer" else style_spec, shape, config.seed)
    log.info("audio %s: %d frames x %d bins, %d filters, %s", config.mode, *shape, config.filters, config.optimizer)
    loop = _lbfgs if config.optimizer == "lbfgs" else _adam
    yield from loop(function, start.astype(np.float32), config, 2.0 * upper + 1.0)
    if function.experimental_get_tracing_count() != 1:
        log.warning("the audio cost function was traced %d times", function.experimental_get_tracing_count())


def _start(reference: np.ndarray, shape: tuple[int, int], seed: int) -> np.ndarray:
    """Uniform noise with `reference`'s mean level in each frequency bin, (frames, bins) float32.

    Departure: the source starts from N(0, 1e-3) noise. So close to zero the ReLU features, and with them
    the gradient of the Gram cost, all but vanish (zero is a saddle point), and L-BFGS-B, bounded at 0,
    stalls there in float32. Noise at the reference's level (the content's in transfer mode, the style's
    for textures) keeps no structure of either but starts where the gradients are alive.
    """
    level = reference.mean(axis=0, keepdims=True)  # (1, bins)
    return (np.random.default_rng(seed + 1).random(shape) * 2.0 * level).astype(np.float32)


def _lbfgs(function, start: np.ndarray, config: AudioConfig, upper: float) -> Iterator[Step]:
    """L-BFGS-B on the spectrogram within [0, upper], through the project's framework-free driver.

    L-BFGS-B is not invariant to the cost's scale once bounds are active: it starts with a unit-length step
    of the gradient, and these mean costs have gradients of about 1e-5 per bin, so it crawls (measured: the
    cost fell 7 % in 15 iterations, against 96 % with the cost scaled up). The cost it sees is therefore
    multiplied by k = rms(x0) / rms(∇J(x0)), fixed at the start, which makes a unit gradient step about the
    size of the spectrogram's values; the costs reported are unscaled.
    """
    from nst_tf.optim import lbfgs

    values, gradient = function(start)
    gradient = gradient.numpy()
    scale = float(np.sqrt(np.mean(start**2)) / max(float(np.sqrt(np.mean(gradient**2))), 1e-30))

    def evaluate(x: np.ndarray) -> tuple[dict[str, float], np.ndarray]:
        values, gradient = function(x.astype(np.float32))
        costs = {name: float(value) for name, value in values.items()}
        return {**costs, "total": costs["total"] * scale}, gradient.numpy() * scale

    began = time.perf_counter()
    for i, (x, costs, evaluations) in enumerate(lbfgs.steps(evaluate, start, config.iterations, upper)):
        last = i == config.iterations - 1
        spectrogram = x.astype(np.float32) if last else None
        costs = {**costs, "total": costs["total"] / scale}
        yield Step(i, costs, time.perf_counter() - began, spectrogram, evaluations=evaluations + 1)


def _adam(function, start: np.ndarray, config: AudioConfig, upper: float) -> Iterator[Step]:
    """Adam on the spectrogram, clipped to [0, upper] after every step; costs are those before the step."""
    import keras
    import tensorflow as tf

    spectrogram = tf.Variable(start)
    optimizer = keras.optimizers.Adam(learning_rate=config.learning_rate)  # one per variable, made beside it

    @tf.function
    def step() -> dict[str, tf.Tensor]:
        values, gradient = function(tf.convert_to_tensor(spectrogram))
        optimizer.apply_gradients([(gradient, spectrogram)])
        spectrogram.assign(tf.clip_by_value(spectrogram, 0.0, upper))
        return values

    began = time.perf_counter()
    for i in range(config.iterations):
        values = step()
        last = i == config.iterations - 1
        costs = {name: float(value) for name, value in values.items()}
        yield Step(i, costs, time.perf_counter() - began, spectrogram.numpy() if last else None, evaluations=i + 1)


def to_waveform(spectrogram: np.ndarray, inputs: AudioInputs, config: AudioConfig) -> np.ndarray:
    """The sound of a log-magnitude spectrogram: |S| = exp(x) − 1, phases by Griffin–Lim. (length,) float32."""
    from nst_tf.audio.spectrogram import griffin_lim

    magnitude = np.expm1(np.maximum(spectrogram, 0.0))
    return griffin_lim(
        magnitude,
        config.n_fft,
        config.hop_length,
        inputs.length,
        config.griffin_lim_iterations,
        config.griffin_lim_momentum,
        config.seed,
    )
