"""The audio method (nst_tf.audio): STFT round trip, Griffin–Lim, the random features and costs, and the
optimisation loop on tiny sounds (half a second at 8 kHz, a few dozen filters, a few dozen iterations)."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import tensorflow as tf

from nst_tf.audio import features as F
from nst_tf.audio import spectrogram as S
from nst_tf.audio.transfer import AudioConfig, prepare, synthesize, to_waveform
from nst_tf.errors import ConfigError
from nst_tf.io.sound import Sound

RATE = 8000
TINY = AudioConfig(iterations=30, filters=32, kernel_width=3, n_fft=128, griffin_lim_iterations=30)


def _sound(kind: str, seconds: float = 0.5, rate: int = RATE, seed: int = 0) -> Sound:
    rng = np.random.default_rng(seed)
    t = np.arange(round(seconds * rate)) / rate
    if kind == "tone":  # a gliding, pulsing tone: structure in time and frequency
        samples = 0.5 * np.sin(2 * np.pi * (300 * t + 400 * t**2)) * (0.6 + 0.4 * np.sin(2 * np.pi * 4 * t))
    else:  # band-limited noise: a texture
        samples = np.convolve(rng.standard_normal(len(t)), np.hanning(9), mode="same") * 0.1
    return Sound(samples.astype(np.float32), rate)


def test_stft_round_trip_is_exact():
    x = _sound("noise").samples
    spectrum = S.stft(tf.constant(x), 128, 32)
    assert spectrum.shape == (S.frames_for(len(x), 32), 65)
    np.testing.assert_allclose(S.istft(spectrum, 128, 32, len(x)).numpy(), x, atol=1e-5)


def test_griffin_lim_of_an_unchanged_magnitude_gives_the_sound_back():
    x = _sound("tone").samples
    magnitude = np.abs(S.stft(tf.constant(x), 128, 32).numpy())
    random_phase = S.griffin_lim(magnitude, 128, 32, len(x), iterations=0)
    rebuilt = S.griffin_lim(magnitude, 128, 32, len(x), iterations=60)
    assert S.spectral_convergence(random_phase, magnitude, 128, 32) > 0.3
    assert S.spectral_convergence(rebuilt, magnitude, 128, 32) < 0.08
    assert rebuilt.shape == x.shape and rebuilt.dtype == np.float32


def test_gram_and_costs_by_hand():
    fmap = tf.constant([[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_allclose(F.gram(fmap).numpy(), np.array([[10.0, 14.0], [14.0, 20.0]]) / 2)
    assert float(F.content_cost(fmap, tf.zeros_like(fmap))) == pytest.approx(30 / 4)
    assert float(F.style_cost(F.gram(fmap), tf.zeros((2, 2)))) == pytest.approx((25 + 49 * 2 + 100) / 4)


def test_random_kernel_is_seeded_with_the_sources_scale():
    a, b = F.random_kernel(65, 512, 11, seed=3), F.random_kernel(65, 512, 11, seed=3)
    assert a.shape == (11, 65, 512) and np.array_equal(a, b)
    assert not np.array_equal(a, F.random_kernel(65, 512, 11, seed=4))
    assert a.std() == pytest.approx(np.sqrt(2) * np.sqrt(2 / ((65 + 512) * 11)), rel=0.02)


def test_features_are_a_valid_relu_convolution():
    spec = tf.random.uniform((20, 65), seed=1)
    kernel = tf.constant(F.random_kernel(65, 8, 5, seed=0))
    out = F.features(spec, kernel).numpy()
    assert out.shape == (16, 8) and out.min() >= 0
    by_hand = np.maximum(np.einsum("kc,kcf->f", spec.numpy()[3:8], kernel.numpy()), 0)
    np.testing.assert_allclose(out[3], by_hand, rtol=1e-4, atol=1e-5)


def test_bfloat16_features_are_float32_within_bfloat16s_rounding():
    # --precision bfloat16 (issue 25): the convolution in bfloat16, its features handed out as float32. Each
    # product has both factors rounded to 8 significant bits (2^-9 relative each), the sum accumulates in
    # float32 and is rounded once more: |error| <= ~3 * 2^-9 * sum|x * w|, bounded here by 2^-7 * sum|x * w|.
    spec = tf.random.uniform((20, 65), seed=1)
    kernel = F.random_kernel(65, 8, 5, seed=0)
    f32 = F.features(spec, tf.constant(kernel)).numpy()
    b16 = F.features(spec, tf.cast(kernel, tf.bfloat16))
    assert b16.dtype == tf.float32
    scale = np.stack([np.einsum("kc,kcf->f", np.abs(spec.numpy()[i : i + 5]), np.abs(kernel)) for i in range(16)])
    error = np.abs(b16.numpy() - f32)
    assert np.all(error <= 2**-7 * scale) and error.max() > 0


@pytest.mark.parametrize("optimizer, precision", [("lbfgs", "float32"), ("adam", "float32"), ("lbfgs", "bfloat16")])
def test_texture_style_cost_falls(optimizer, precision, caplog):
    config = TINY.replace(mode="texture", optimizer=optimizer, duration=0.4, learning_rate=0.05, precision=precision)
    inputs = prepare(None, _sound("noise"), config)
    logger = logging.getLogger("nst_tf.audio.transfer")
    logger.addHandler(caplog.handler)  # the CLI's logging setup stops nst_tf's records reaching the root
    try:
        steps = list(synthesize(inputs, config))
    finally:
        logger.removeHandler(caplog.handler)
    assert "traced" not in caplog.text  # the cost function is traced once per run
    assert len(steps) == config.iterations and [s.iteration for s in steps] == list(range(config.iterations))
    first, last = steps[0].costs["style"], steps[-1].costs["style"]
    assert last < 0.2 * first
    assert all(s.costs["content"] == 0 for s in steps)
    assert steps[-1].image.shape == (S.frames_for(inputs.length, 32), 65)
    assert steps[-1].image.min() >= 0  # bounded below: log(1 + |S|) cannot be negative
    assert all(s.image is None for s in steps[:-1])
    sound = to_waveform(steps[-1].image, inputs, config)
    assert sound.shape == (inputs.length,) and np.all(np.isfinite(sound))


def test_content_only_reconstruction_approaches_the_content_spectrogram():
    config = TINY.replace(content_weight=1.0, style_weight=0.0, filters=256, iterations=60)
    content = _sound("tone")
    inputs = prepare(content, _sound("noise"), config)
    target = S.log_magnitude(inputs.content, config.n_fft, config.hop_length)
    steps = list(synthesize(inputs, config))
    assert steps[-1].costs["content"] < 0.05 * steps[0].costs["content"]
    error = np.linalg.norm(steps[-1].image - target) / np.linalg.norm(target)
    assert error < 0.3, error


def test_prepare_resamples_the_style_and_crops_the_content():
    config = TINY.replace(duration=0.25)
    inputs = prepare(_sound("tone", seconds=0.5), _sound("noise", seconds=0.5, rate=16000), config)
    assert inputs.rate == RATE and len(inputs.content) == inputs.length == 2000
    assert abs(len(inputs.style) - 4000) <= 1
    assert any("resampled from 16000 Hz to 8000 Hz" in note for note in inputs.notes)
    texture = prepare(None, _sound("noise", rate=16000), TINY.replace(mode="texture", duration=1.5))
    assert texture.rate == 16000 and texture.length == 24000 and texture.content is None


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"iterations": 0}, "--iterations"),
        ({"filters": 0}, "--filters"),
        ({"n_fft": 100 + 1}, "--n-fft"),
        ({"content_weight": -1.0}, "--content-weight"),
        ({"style_weight": float("nan")}, "--style-weight"),
        ({"duration": 0.0}, "--duration"),
        ({"mode": "remix"}, "--mode"),
        ({"kernel_width": 0}, "--kernel-width"),
    ],
)
def test_nonsense_settings_are_refused(changes, message):
    with pytest.raises(ConfigError, match=message):
        TINY.replace(**changes).validate()


def test_a_sound_too_short_for_the_window_is_refused():
    with pytest.raises(ConfigError, match="the content is 0.010 s long"):
        prepare(_sound("tone", seconds=0.01), _sound("noise"), TINY)
