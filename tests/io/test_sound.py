"""WAV in and out (nst_tf.io.sound): every sample format as real writers write it, mix-down, resampling,
16-bit output, and one-line refusals for what is not a sane WAV file. No TensorFlow here."""

from __future__ import annotations

import os
import struct
import threading
import wave

import numpy as np
import pytest
from scipy.io import wavfile

from nst_tf.io import sound
from nst_tf.io.sound import SoundError, read_wav, resample, write_wav

RATE = 8000


def _tone(n: int = 800, freq: float = 440.0, rate: int = RATE, amplitude: float = 0.5) -> np.ndarray:
    return (amplitude * np.sin(2 * np.pi * freq * np.arange(n) / rate)).astype(np.float64)


@pytest.mark.parametrize(
    ("dtype", "scale", "offset", "tolerance"),
    [
        (np.uint8, 127, 128, 1 / 100),
        (np.int16, 32767, 0, 1e-4),
        (np.int32, 2**31 - 1, 0, 1e-6),
        (np.float32, 1, 0, 1e-7),
        (np.float64, 1, 0, 1e-7),
    ],
)
def test_scipy_written_formats_read_back(tmp_path, dtype, scale, offset, tolerance):
    tone = _tone()
    data = (np.round(tone * scale) + offset).astype(dtype) if scale != 1 else tone.astype(dtype)
    path = tmp_path / "x.wav"
    wavfile.write(path, RATE, data)
    got = read_wav(path)
    assert got.rate == RATE and got.channels == 1 and not got.mixed_down
    assert got.samples.dtype == np.float32 and got.samples.shape == (800,)
    np.testing.assert_allclose(got.samples, tone, atol=tolerance)


@pytest.mark.parametrize("width", [1, 2, 3, 4])
def test_wave_module_formats_read_back(tmp_path, width):
    """Python's `wave` writes integer PCM of 8, 16, 24 and 32 bits (24-bit is the one SciPy cannot write)."""
    tone = _tone()
    bits = 8 * width
    ints = np.round(tone * (2 ** (bits - 1) - 1)).astype(np.int64)
    if width == 1:
        raw = (ints + 128).astype(np.uint8).tobytes()
    elif width == 3:
        raw = b"".join(int(v).to_bytes(3, "little", signed=True) for v in ints)
    else:
        raw = ints.astype(f"<i{width}").tobytes()
    path = tmp_path / "w.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(width)
        out.setframerate(RATE)
        out.writeframes(raw)
    got = read_wav(path)
    assert got.bits == bits and got.encoding == "pcm"
    np.testing.assert_allclose(got.samples, tone, atol=2.0 / 2 ** (bits - 1))


def test_stereo_is_mixed_down_to_the_mean(tmp_path):
    left, right = _tone(), -0.5 * _tone(freq=1000.0)
    wavfile.write(tmp_path / "s.wav", RATE, np.stack([left, right], axis=1).astype(np.float32))
    got = read_wav(tmp_path / "s.wav")
    assert got.channels == 2 and got.mixed_down and "mixed down" in got.describe()
    np.testing.assert_allclose(got.samples, (left + right) / 2, atol=1e-6)


def _extensible_wav(data: np.ndarray) -> bytes:
    """A WAVE_FORMAT_EXTENSIBLE file (as sox and many DAWs write for > 2 channels or > 16 bits), by hand."""
    frames, channels = data.shape
    guid = struct.pack("<H", sound.PCM) + bytes.fromhex("000000001000800000aa00389b71")
    fmt = struct.pack("<HHIIHHHHI", sound.EXTENSIBLE, channels, RATE, RATE * channels * 2, channels * 2, 16, 22, 16, 7)
    body = data.astype("<i2").tobytes()
    chunks = b"fmt " + struct.pack("<I", len(fmt + guid)) + fmt + guid + b"data" + struct.pack("<I", len(body)) + body
    return b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WAVE" + chunks


def test_many_channels_extensible_header(tmp_path):
    data = np.stack([_tone(), _tone(freq=300), _tone(freq=600)], axis=1)
    (tmp_path / "m.wav").write_bytes(_extensible_wav(np.round(data * 32767).astype(np.int16)))
    got = read_wav(tmp_path / "m.wav")
    assert got.channels == 3 and got.bits == 16 and got.encoding == "pcm"
    np.testing.assert_allclose(got.samples, data.mean(axis=1), atol=1e-4)


@pytest.mark.parametrize(("rate", "target"), [(8000, 16000), (44100, 22050), (22050, 16000)])
def test_resample_keeps_pitch_and_duration(rate, target):
    tone = _tone(n=rate, freq=440.0, rate=rate)
    out = resample(tone, rate, target)
    assert abs(len(out) - target) <= 1
    spectrum = np.abs(np.fft.rfft(out))
    assert abs(np.argmax(spectrum) * target / len(out) - 440.0) <= 2.0


def test_write_wav_is_16_bit_pcm_clipped_and_atomic(tmp_path):
    samples = np.array([0.0, 0.5, -0.5, 2.0, -3.0], np.float32)
    path = write_wav(tmp_path / "o.wav", samples, 16000)
    rate, data = wavfile.read(path)
    assert rate == 16000 and data.dtype == np.int16
    assert data.tolist() == [0, 16384, -16384, 32767, -32767]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.wav"]  # no temporary left behind


def _valid(tmp_path) -> bytes:
    wavfile.write(tmp_path / "v.wav", RATE, (_tone() * 32767).astype(np.int16))
    return (tmp_path / "v.wav").read_bytes()


def _patched(raw: bytes, offset: int, fmt: str, value: int) -> bytes:
    return raw[:offset] + struct.pack(fmt, value) + raw[offset + struct.calcsize(fmt) :]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda raw: b"", "empty file"),
        (lambda raw: b"hello, I am text, not a sound file at all\n", "not a WAV"),
        (lambda raw: b"RF64" + raw[4:], "RF64"),
        (lambda raw: _patched(raw, 24, "<I", 5), "sample rate 5 Hz"),
        (lambda raw: _patched(raw, 24, "<I", 10_000_000), "absurd"),
        (lambda raw: _patched(raw, 22, "<H", 0), "0 channels"),
        (lambda raw: _patched(raw, 20, "<H", 6), "unsupported WAV encoding"),  # A-law
        (lambda raw: raw[: len(raw) // 2], "truncated"),
        (lambda raw: raw[:44], "zero frames"),
        (lambda raw: raw[:36], "no data chunk"),
    ],
)
def test_bad_files_are_refused_in_one_line(tmp_path, make, message):
    raw = _valid(tmp_path)
    if message == "zero frames":
        raw = _patched(raw[:44], 40, "<I", 0)
    path = tmp_path / "bad.wav"
    path.write_bytes(make(raw))
    with pytest.raises(SoundError, match=message) as info:
        read_wav(path)
    assert "\n" not in str(info.value)


def test_zero_frames_from_the_wave_module(tmp_path):
    with wave.open(str(tmp_path / "z.wav"), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
    with pytest.raises(SoundError, match="zero frames"):
        read_wav(tmp_path / "z.wav")


def test_too_long_for_memory_is_refused_from_the_header(tmp_path, monkeypatch):
    raw = _valid(tmp_path)
    with pytest.raises(SoundError, match="longer than"):
        read_wav(tmp_path / "v.wav", max_seconds=0.05)
    monkeypatch.setattr(sound, "MAX_DATA_BYTES", 1000)
    with pytest.raises(SoundError, match="too long to hold in memory"):
        sound.parse_header(raw, "v.wav")


def test_folders_missing_files_and_fifos_are_refused_without_blocking(tmp_path):
    with pytest.raises(SoundError, match="folder"):
        read_wav(tmp_path)
    with pytest.raises(SoundError, match="no such file"):
        read_wav(tmp_path / "missing.wav")
    fifo = tmp_path / "pipe.wav"
    os.mkfifo(fifo)
    outcome: list[BaseException] = []
    reader = threading.Thread(target=lambda: _capture(outcome, fifo), daemon=True)
    reader.start()
    reader.join(timeout=10)
    assert not reader.is_alive(), "reading a FIFO blocked"
    assert isinstance(outcome[0], SoundError) and "not a regular file" in str(outcome[0])


def _capture(outcome: list, path) -> None:
    try:
        read_wav(path)
    except BaseException as exc:  # noqa: BLE001 - the test inspects it
        outcome.append(exc)


def test_non_finite_float_samples_are_refused(tmp_path):
    data = _tone().astype(np.float32)
    data[10] = np.nan
    wavfile.write(tmp_path / "n.wav", RATE, data)
    with pytest.raises(SoundError, match="NaN"):
        read_wav(tmp_path / "n.wav")
