"""STFT, inverse STFT and Griffin–Lim phase reconstruction with `tf.signal`.

Frames are centred like librosa's (`center=True`): the signal is padded with n_fft/2 zeros on each side
before framing, so a sound of L samples has 1 + L // hop frames and its ends are covered by full windows;
the inverse trims the padding again. The window is a periodic Hann window; the inverse divides the
overlap-added frames by the overlapped squared windows (see `istft`), so istft(stft(x)) == x up to rounding.
Spectrograms are (frames, bins) float32 with bins = n_fft // 2 + 1, i.e. time first, frequency as channels.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf


def stft(samples: tf.Tensor, n_fft: int, hop: int) -> tf.Tensor:
    """Complex STFT of mono `samples` (L,) -> (1 + L // hop, n_fft // 2 + 1), centred frames."""
    padded = tf.pad(samples, [[n_fft // 2, n_fft // 2]])
    return tf.signal.stft(padded, frame_length=n_fft, frame_step=hop, fft_length=n_fft, window_fn=tf.signal.hann_window)


def istft(spectrum: tf.Tensor, n_fft: int, hop: int, length: int) -> tf.Tensor:
    """Inverse of `stft`: (frames, bins) complex -> (length,) samples.

    Overlap-add of the Hann-windowed frames divided by the overlapped squared windows, as librosa does:
    `tf.signal.inverse_stft_window_fn` assumes every sample is under n_fft / hop windows, which is false in
    the first and last n_fft / 2 samples of centred frames, so it would damp the ends.
    """
    window = tf.signal.hann_window(n_fft)
    frames = tf.signal.irfft(spectrum, [n_fft]) * window  # (T, n_fft)
    samples = tf.signal.overlap_and_add(frames, hop)
    coverage = tf.signal.overlap_and_add(tf.tile(tf.square(window)[None], [tf.shape(frames)[0], 1]), hop)
    samples = samples / tf.where(coverage > 1e-8, coverage, tf.ones_like(coverage))
    return samples[n_fft // 2 : n_fft // 2 + length]


def log_magnitude(samples: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """The picture the method optimises: log(1 + |STFT|), (frames, bins) float32 (the source's log1p)."""
    spectrum = stft(tf.constant(np.asarray(samples, np.float32)), n_fft, hop)
    return tf.math.log1p(tf.abs(spectrum)).numpy()


def frames_for(length: int, hop: int) -> int:
    """How many frames `stft` makes of `length` samples."""
    return 1 + length // hop


def griffin_lim(
    magnitude: np.ndarray, n_fft: int, hop: int, length: int, iterations: int, momentum: float = 0.99, seed: int = 0
) -> np.ndarray:
    """A waveform whose STFT magnitude is close to `magnitude` (frames, bins), by Griffin–Lim.

    Departs from Griffin & Lim (1984) as librosa does: the "fast" variant of Perraudin, Balazs & Søndergaard
    (2013) extrapolates the phase with `momentum` (0 gives the original algorithm), which converges in far
    fewer iterations. The starting phases are uniform random from `seed` (the source's choice).

    Returns:
        (length,) float32 samples.
    """
    magnitude = tf.constant(np.asarray(magnitude, np.float32))
    rng = np.random.default_rng(seed)
    phase = tf.constant(np.exp(2j * np.pi * rng.random(magnitude.shape)).astype(np.complex64))
    run = _griffin_lim_function(n_fft, hop, length)
    return run(magnitude, phase, tf.constant(iterations), tf.constant(momentum, tf.float32)).numpy()


def _griffin_lim_function(n_fft: int, hop: int, length: int):
    """The compiled Griffin–Lim loop for one STFT geometry (a `tf.while_loop` over the iterations)."""

    @tf.function
    def run(magnitude: tf.Tensor, phase: tf.Tensor, iterations: tf.Tensor, momentum: tf.Tensor) -> tf.Tensor:
        magnitude_c = tf.cast(magnitude, tf.complex64)
        rebuilt = tf.zeros_like(phase)
        alpha = tf.cast(momentum / (1.0 + momentum), tf.complex64)
        for _ in tf.range(iterations):
            previous = rebuilt
            rebuilt = stft(istft(magnitude_c * phase, n_fft, hop, length), n_fft, hop)
            phase = rebuilt - alpha * previous
            phase = phase / tf.cast(tf.maximum(tf.abs(phase), 1e-16), tf.complex64)
        return istft(magnitude_c * phase, n_fft, hop, length)

    return run


def spectral_convergence(samples: np.ndarray, magnitude: np.ndarray, n_fft: int, hop: int) -> float:
    """|| |STFT(samples)| - magnitude ||_F / ||magnitude||_F: 0 when the sound has exactly that magnitude."""
    found = tf.abs(stft(tf.constant(np.asarray(samples, np.float32)), n_fft, hop)).numpy()
    return float(np.linalg.norm(found - magnitude) / max(np.linalg.norm(magnitude), 1e-12))
