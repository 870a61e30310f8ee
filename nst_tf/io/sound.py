"""Sound in and out: WAV files read with SciPy into mono float32 in [-1, 1], written as 16-bit PCM.

`read_wav` accepts what `scipy.io.wavfile` reads — integer PCM of 8, 16, 24 or 32 bits, IEEE float of 32 or
64 bits, plain or WAVE_FORMAT_EXTENSIBLE headers, any channel count, any sane sample rate — and mixes
several channels down to one by their mean (the `Sound` says it did). Before a single sample is read, the
file is opened without blocking (a FIFO or a device is refused, never waited on), checked to be a regular
file, and its RIFF header is walked by hand: format, channel count, rate, bit depth and the data chunk's size
must make sense and fit the memory limits, so an absurd or truncated file is refused in one line
(`SoundError`) instead of being half read. `resample` changes the rate with `scipy.signal.resample_poly`;
`write_wav` writes 16-bit PCM atomically (a temporary file in the same folder, then a rename).
"""

from __future__ import annotations

import io
import os
import struct
import warnings
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from nst_tf.errors import NSTError
from nst_tf.io import safe

MIN_RATE = 1_000  # Hz; below this nothing audible survives a spectrogram
MAX_RATE = 384_000  # Hz; the highest rate real recorders use
MAX_CHANNELS = 64
MAX_DATA_BYTES = 512 * 2**20  # the data chunk's size limit: ~50 min of 44.1 kHz 16-bit stereo
MAX_SECONDS = 3600.0
# WAVE format tags (mmreg.h): integer PCM, IEEE float, and the extensible header that names one of them.
PCM, IEEE_FLOAT, EXTENSIBLE = 0x0001, 0x0003, 0xFFFE
_INTEGER_BITS = (8, 16, 24, 32)
_FLOAT_BITS = (32, 64)


class SoundError(NSTError):
    """A sound file that cannot be read: missing, empty, not a WAV, truncated or absurd."""


@dataclass(frozen=True)
class Sound:
    """A mono sound: `samples` float32 of shape (n,) in about [-1, 1], at `rate` Hz.

    `channels`, `bits` and `encoding` describe the file it came from; `mixed_down` says whether several
    channels were averaged into this one.
    """

    samples: np.ndarray
    rate: int
    channels: int = 1
    bits: int = 32
    encoding: str = "float"
    mixed_down: bool = False

    @property
    def seconds(self) -> float:
        return len(self.samples) / self.rate

    def describe(self) -> str:
        """One line, e.g. '2.50 s, 22050 Hz, 16-bit PCM, stereo mixed down to mono'."""
        layout = "mono" if self.channels == 1 else f"{self.channels} channels mixed down to mono"
        kind = "PCM" if self.encoding == "pcm" else "float"
        return f"{self.seconds:.2f} s, {self.rate} Hz, {self.bits}-bit {kind}, {layout}"


@dataclass(frozen=True)
class WavHeader:
    """What a WAV file's header promises, checked before its data are read."""

    encoding: str  # "pcm" or "float"
    channels: int
    rate: int
    bits: int
    data_bytes: int

    @property
    def frames(self) -> int:
        return self.data_bytes // (self.channels * self.bits // 8)


def read_wav(path: str | os.PathLike, max_seconds: float = MAX_SECONDS) -> Sound:
    """Read a WAV file as a mono `Sound` (several channels are averaged).

    Args:
        path: the file; it must be a regular file (a FIFO, device or folder is refused, never opened
            for reading in a way that could block).
        max_seconds: refuse longer sounds.

    Returns:
        The sound, samples float32 in about [-1, 1] (float files keep their values).

    Raises:
        SoundError: for anything that is not a readable, sane WAV file (one-line message).
    """
    name = str(path)
    raw = _read_regular_file(name)
    header = parse_header(raw, name)
    if header.frames / header.rate > max_seconds:
        raise SoundError(
            f"{name}: {header.frames / header.rate:.0f} s of sound is longer than the {max_seconds:.0f} s limit"
        )
    data = _decode(raw, name)
    samples = _to_float(data, header, name)
    mixed = samples.ndim == 2 and samples.shape[1] > 1
    mono = samples.mean(axis=1) if samples.ndim == 2 else samples
    return Sound(
        np.ascontiguousarray(mono, np.float32), header.rate, header.channels, header.bits, header.encoding, mixed
    )


def _read_regular_file(name: str) -> bytes:
    """The file's bytes, if it is a regular file of sane size (`nst_tf.io.safe`: a FIFO never blocks)."""
    with safe.open_regular(name, SoundError, words=lambda refusal: _refusal_words(name, refusal)) as handle:
        size = os.fstat(handle.fileno()).st_size
        if size == 0:
            raise SoundError(f"{name}: empty file")
        if size > MAX_DATA_BYTES + 2**20:
            raise SoundError(f"{name}: {size / 2**20:.0f} MiB is too large to read into memory")
        try:
            return handle.read()
        except OSError as exc:
            raise SoundError(f"{name}: cannot read ({exc.strerror})") from None


def _refusal_words(name: str, refusal: safe.Refusal) -> str:
    problem = refusal.problem
    if problem in ("missing", "broken link"):
        return f"{name}: no such file"
    if problem == "directory":
        return f"{name}: is a folder, not a WAV file"
    if problem in ("loop", "denied", "error"):
        return f"{name}: cannot open ({refusal.strerror})"
    return f"{name}: not a regular file (a pipe or device is never read)"


def parse_header(raw: bytes, name: str = "sound") -> WavHeader:
    """Walk the RIFF chunks up to `data`; check format, channels, rate, bits and sizes.

    Raises:
        SoundError: not a RIFF/WAVE file, an unsupported encoding, absurd numbers or a truncated data chunk.
    """
    if len(raw) < 12 or raw[:4] not in (b"RIFF", b"RIFX") or raw[8:12] != b"WAVE":
        if raw[:4] == b"RF64":
            raise SoundError(f"{name}: RF64 (over 4 GiB) WAV files are not supported")
        raise SoundError(f"{name}: not a WAV file (no RIFF/WAVE header)")
    order = "<" if raw[:4] == b"RIFF" else ">"
    fmt, position = None, 12
    while position + 8 <= len(raw):
        chunk, size = raw[position : position + 4], struct.unpack(order + "I", raw[position + 4 : position + 8])[0]
        body = position + 8
        if chunk == b"fmt ":
            fmt = _parse_fmt(raw[body : body + size], order, name)
        elif chunk == b"data":
            if fmt is None:
                raise SoundError(f"{name}: the data chunk comes before the format chunk")
            return _check_data(fmt, size, len(raw) - body, name)
        position = body + size + (size & 1)  # chunks are padded to an even length
    raise SoundError(f"{name}: no {'format' if fmt is None else 'data'} chunk (truncated or not a WAV file)")


def _parse_fmt(body: bytes, order: str, name: str) -> tuple[str, int, int, int]:
    """(encoding, channels, rate, bits) from a fmt chunk."""
    if len(body) < 16:
        raise SoundError(f"{name}: the format chunk is truncated")
    tag, channels, rate, _, block_align, bits = struct.unpack(order + "HHIIHH", body[:16])
    if tag == EXTENSIBLE and len(body) >= 26:
        tag = struct.unpack(order + "H", body[24:26])[0]  # the sub-format GUID starts with the plain tag
    if tag == PCM and bits in _INTEGER_BITS:
        encoding = "pcm"
    elif tag == IEEE_FLOAT and bits in _FLOAT_BITS:
        encoding = "float"
    else:
        raise SoundError(
            f"{name}: unsupported WAV encoding (format tag {tag:#06x}, {bits} bits); "
            "use 8/16/24/32-bit integer PCM or 32/64-bit float"
        )
    if not 1 <= channels <= MAX_CHANNELS:
        raise SoundError(f"{name}: {channels} channels is not a sound (1 to {MAX_CHANNELS} accepted)")
    if not MIN_RATE <= rate <= MAX_RATE:
        raise SoundError(f"{name}: sample rate {rate} Hz is absurd ({MIN_RATE} to {MAX_RATE} Hz accepted)")
    if block_align != channels * bits // 8:
        raise SoundError(f"{name}: inconsistent header (block align {block_align} for {channels}×{bits} bits)")
    return encoding, channels, rate, bits


def _check_data(fmt: tuple[str, int, int, int], size: int, available: int, name: str) -> WavHeader:
    encoding, channels, rate, bits = fmt
    header = WavHeader(encoding, channels, rate, bits, size)
    if size > MAX_DATA_BYTES:
        raise SoundError(f"{name}: {size / 2**20:.1f} MiB of samples is too long to hold in memory")
    if size > available:
        raise SoundError(f"{name}: truncated (the data chunk promises {size} bytes, the file holds {available})")
    if header.frames == 0:
        raise SoundError(f"{name}: no samples (zero frames)")
    return header


def _decode(raw: bytes, name: str) -> np.ndarray:
    """SciPy's decoding of the (already checked) bytes."""
    from scipy.io import wavfile

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", wavfile.WavFileWarning)  # unknown chunks (LIST, fact ...) are skipped
            _, data = wavfile.read(io.BytesIO(raw))
    except (ValueError, EOFError, struct.error) as exc:
        raise SoundError(
            f"{name}: cannot decode ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})"
        ) from None
    return data


def _to_float(data: np.ndarray, header: WavHeader, name: str) -> np.ndarray:
    """Samples as float32 in [-1, 1]: unsigned 8-bit is centred at 128; SciPy left-justifies 24-bit in int32."""
    if data.size == 0:
        raise SoundError(f"{name}: no samples (zero frames)")
    if data.dtype == np.uint8:
        out = (data.astype(np.float32) - 128.0) / 128.0
    elif np.issubdtype(data.dtype, np.integer):
        out = (data / float(2 ** (8 * data.dtype.itemsize - 1))).astype(np.float32)
    else:
        out = data.astype(np.float32)
        if not np.all(np.isfinite(out)):
            raise SoundError(f"{name}: holds NaN or infinite samples")
    return out


def resample(samples: np.ndarray, rate: int, target: int) -> np.ndarray:
    """`samples` at `rate` Hz brought to `target` Hz (polyphase, `scipy.signal.resample_poly`).

    The ratio is limited to a fraction with terms up to 1000 (the filter's length grows with them), so
    e.g. 44100 -> 22051 Hz is off by at most a few parts per million — far below hearing.
    """
    if rate == target:
        return np.asarray(samples, np.float32)
    from scipy.signal import resample_poly

    ratio = Fraction(target, rate).limit_denominator(1000)
    return resample_poly(samples, ratio.numerator, ratio.denominator).astype(np.float32)


def write_wav(path: str | os.PathLike, samples: np.ndarray, rate: int) -> Path:
    """Write mono `samples` (float, clipped to [-1, 1]) as 16-bit PCM, atomically. Returns the path."""
    from scipy.io import wavfile

    path = Path(path)
    pcm = np.round(np.clip(np.asarray(samples, np.float64), -1.0, 1.0) * 32767.0).astype("<i2")
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        wavfile.write(tmp, int(rate), pcm)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
