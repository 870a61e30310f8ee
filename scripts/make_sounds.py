"""Make the sample sounds in sounds/: speech by espeak-ng, and three textures synthesised with NumPy.

    python scripts/make_sounds.py            # all four (speech needs `espeak-ng` on the PATH)
    python scripts/make_sounds.py --no-speech

Every sound is mono, 16 kHz, 16-bit PCM, a few seconds long, and made from nothing but this script (and,
for speech, Debian's espeak-ng), so all are free to ship. The synthetic ones are seeded and come out bit
for bit the same on every run; the speech depends on the espeak-ng version (1.51 made the shipped file).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
from scipy.signal import butter, sosfilt

from nst_tf.io.sound import read_wav, resample, write_wav

RATE = 16_000
SPEECH_TEXT = "Neural style transfer, now for sound. Listen to the texture."


def tremolo_chord(seconds: float = 4.0) -> np.ndarray:
    """An A-major chord (A3, C#4, E4) of sawtooth-like tones, five harmonics each, with a 6 Hz tremolo."""
    t = np.arange(round(seconds * RATE)) / RATE
    chord = np.zeros_like(t)
    for f in (220.0, 277.18, 329.63):
        for k in range(1, 6):
            chord += np.sin(2 * np.pi * f * k * t) / k
    tremolo = 0.5 * (1 + np.sin(2 * np.pi * 6.0 * t))
    return _normalise(chord * (0.2 + 0.8 * tremolo) * _fade(len(t)))


def rain(seconds: float = 4.0, seed: int = 1) -> np.ndarray:
    """Rain-like noise: a band-passed hiss (400 Hz–5 kHz) plus random drops (short decaying clicks)."""
    rng = np.random.default_rng(seed)
    n = round(seconds * RATE)
    hiss = sosfilt(butter(4, [400, 5000], btype="bandpass", fs=RATE, output="sos"), rng.standard_normal(n))
    drops = np.zeros(n)
    decay = np.exp(-np.arange(int(0.02 * RATE)) / (0.003 * RATE))
    for start in rng.integers(0, n - len(decay), size=int(40 * seconds)):
        drops[start : start + len(decay)] += rng.uniform(0.3, 1.0) * decay * rng.standard_normal(len(decay))
    drops = sosfilt(butter(2, [1500, 7000], btype="bandpass", fs=RATE, output="sos"), drops)
    return _normalise((0.5 * hiss / hiss.std() + drops / max(drops.std(), 1e-9)) * _fade(n))


def drum_loop(seconds: float = 4.0, bpm: float = 120.0, seed: int = 2) -> np.ndarray:
    """A rock beat at `bpm`: kick on beats 1 and 3, snare on 2 and 4, closed hi-hat on every eighth."""
    rng = np.random.default_rng(seed)
    n = round(seconds * RATE)
    out = np.zeros(n)
    beat = 60.0 / bpm
    t = np.arange(int(0.3 * RATE)) / RATE
    kick = np.sin(2 * np.pi * (50 * t + 70 * 0.04 * (1 - np.exp(-t / 0.04)))) * np.exp(-t / 0.12)
    snare = (0.6 * rng.standard_normal(len(t)) + 0.5 * np.sin(2 * np.pi * 190 * t)) * np.exp(-t / 0.06)
    hat_noise = sosfilt(butter(4, 6000, btype="highpass", fs=RATE, output="sos"), rng.standard_normal(len(t)))
    hat = 0.35 * hat_noise * np.exp(-t / 0.015)
    for i in range(int(seconds / (beat / 2))):
        start = round(i * beat / 2 * RATE)
        hits = [hat] + ([kick] if i % 4 == 0 else []) + ([snare] if i % 4 == 2 else [])
        for hit in hits:
            stop = min(n, start + len(hit))
            out[start:stop] += hit[: stop - start]
    return _normalise(out * _fade(n))


def speech(text: str = SPEECH_TEXT) -> np.ndarray:
    """`text` spoken by espeak-ng (English voice, 140 words per minute), brought from 22050 Hz to 16 kHz."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "speech.wav"
        subprocess.run(["espeak-ng", "-v", "en", "-s", "140", "-w", str(path), text], check=True)
        sound = read_wav(path)
    samples = resample(sound.samples, sound.rate, RATE)
    voiced = np.flatnonzero(np.abs(samples) > 0.01)  # trim espeak's leading and trailing silence
    return _normalise(samples[max(0, voiced[0] - 800) : voiced[-1] + 800])


def _fade(n: int, seconds: float = 0.02) -> np.ndarray:
    """Short linear fade in and out, so the loops start and end without a click."""
    k = int(seconds * RATE)
    ramp = np.ones(n)
    ramp[:k] = np.linspace(0, 1, k)
    ramp[-k:] = np.linspace(1, 0, k)
    return ramp


def _normalise(samples: np.ndarray, peak: float = 0.8) -> np.ndarray:
    return (samples * peak / np.abs(samples).max()).astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "sounds"))
    parser.add_argument("--no-speech", action="store_true", help="skip speech.wav (needs espeak-ng)")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    made = {"chord.wav": tremolo_chord(), "rain.wav": rain(), "drums.wav": drum_loop()}
    if not args.no_speech:
        if shutil.which("espeak-ng") is None:
            raise SystemExit("espeak-ng is not installed (apt-get install espeak-ng), or pass --no-speech")
        made["speech.wav"] = speech()
    for name, samples in made.items():
        write_wav(out / name, samples, RATE)
        print(f"{out / name}: {len(samples) / RATE:.2f} s at {RATE} Hz")


if __name__ == "__main__":
    main()
