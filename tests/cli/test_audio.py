"""The `audio` command: a tiny run writes the whole folder; bad files and settings are one line, exit 2,
nothing written; Ctrl-C and SIGTERM keep what exists (exit 130 and 143)."""

from __future__ import annotations

import csv
import json
import os
import signal

import numpy as np
import pytest
from scipy.io import wavfile

from nst_tf.cli.main import main

TINY = [
    "--iterations",
    "4",
    "--filters",
    "16",
    "--kernel-width",
    "3",
    "--n-fft",
    "128",
    "--griffin-lim-iterations",
    "5",
]


@pytest.fixture()
def sounds(tmp_path):
    """A 0.5 s gliding tone at 8 kHz (content) and 0.6 s of stereo noise at 16 kHz (style)."""
    t = np.arange(4000) / 8000
    wavfile.write(tmp_path / "content.wav", 8000, (0.5 * np.sin(2 * np.pi * (300 * t + 500 * t**2))).astype(np.float32))
    noise = np.random.default_rng(0).standard_normal((9600, 2)) * 3000
    wavfile.write(tmp_path / "style.wav", 16000, noise.astype(np.int16))
    return tmp_path / "content.wav", tmp_path / "style.wav"


def test_a_tiny_transfer_writes_the_whole_run_folder(sounds, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["audio", str(sounds[0]), str(sounds[1]), "-o", str(out), *TINY]) == 0
    for name in ("result.wav", "content.wav", "style.wav", "metrics.csv", "config.json", "report.html", "loss.png"):
        assert (out / name).is_file(), name
    assert (out / "spectrograms.png").is_file() and any((out / "tb").iterdir())
    rate, result = wavfile.read(out / "result.wav")
    assert rate == 8000 and result.dtype == np.int16 and len(result) == 4000
    assert wavfile.read(out / "style.wav")[0] == 8000  # the style as the run used it: resampled, mono
    rows = list(csv.DictReader(open(out / "metrics.csv")))
    assert [int(r["iteration"]) for r in rows] == [0, 1, 2, 3]
    record = json.loads((out / "config.json").read_text())
    assert record["status"] == "complete" and record["command"] == "audio"
    # --precision auto, decided once (conftest forces float32 through NST_TF_PRECISION) and recorded
    assert record["config"]["precision"] == record["precision_decision"]["precision"] == "float32"
    assert record["precision_decision"]["requested"] == "auto"
    assert any("2 channels mixed down" in note for note in record["inputs"])
    assert any("resampled from 16000 Hz to 8000 Hz" in note for note in record["inputs"])
    page = (out / "report.html").read_text()
    assert page.count("<audio") == 3 and "http" not in page
    assert "report:" in capsys.readouterr().out


def test_a_measured_auto_says_so_in_one_line_and_computes_in_bfloat16(sounds, tmp_path, capsys, monkeypatch):
    # "auto" decided by a probe (faked here: bfloat16 at 3x, whatever this CPU is): one line on stderr, the
    # run computes in bfloat16 and config.json records the decision with its figures.
    from nst_tf.perf import precision

    def probe(tf_device, identity):
        figures = {"conv_float32": 1.0, "conv_bfloat16": 3.0, "matmul_float32": 1.0, "matmul_bfloat16": 3.0}
        return precision.Decision("bfloat16", "auto", "probe", identity, 3.0, 3.0, figures)

    monkeypatch.delenv(precision.ENV_VAR, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(precision, "probe", probe)
    out = tmp_path / "run"
    assert main(["audio", str(sounds[0]), str(sounds[1]), "-o", str(out), *TINY]) == 0
    err = capsys.readouterr().err
    assert err.startswith("precision: bfloat16 (probe: bfloat16 convolutions at 3.0x") and err.count("\n") == 1
    record = json.loads((out / "config.json").read_text())
    assert record["config"]["precision"] == "bfloat16" and record["precision_decision"]["conv_speedup"] == 3.0
    assert record["status"] == "complete" and np.isfinite(record["final_costs"]["total"])


def test_texture_mode_makes_a_sound_of_the_asked_duration(sounds, tmp_path):
    out = tmp_path / "texture"
    assert main(["audio", str(sounds[1]), "--mode", "texture", "--duration", "0.75", "-o", str(out), *TINY]) == 0
    rate, result = wavfile.read(out / "result.wav")
    assert rate == 16000 and len(result) == 12000
    assert not (out / "content.wav").exists()
    assert json.loads((out / "config.json").read_text())["config"]["mode"] == "texture"


def _refused(argv, capsys, out) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err and err.startswith("nst_tf: error:")
    assert not out.exists()
    return err


@pytest.mark.timeout(60)  # a FIFO or device must be refused, not opened: a hang fails here instead of blocking CI
@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p.write_bytes(b""), "empty file"),
        (lambda p: p.write_text("not a sound"), "not a WAV file"),
        (lambda p: os.mkfifo(p), "not a regular file"),
        (lambda p: p.mkdir(), "is a folder"),
        (lambda p: None, "no such file"),
    ],
)
def test_bad_sound_files_are_refused_in_one_line(sounds, tmp_path, capsys, make, message):
    bad = tmp_path / "bad.wav"
    make(bad)
    out = tmp_path / "run"
    assert message in _refused(["audio", str(sounds[0]), str(bad), "-o", str(out), *TINY], capsys, out)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--iterations", "0"], "--iterations"),
        (["--n-fft", "4096"], "need at least"),
        (["--duration", "-1"], "--duration"),
        (["--mode", "texture"], "takes STYLE.wav"),
    ],
)
def test_bad_settings_are_refused_in_one_line(sounds, tmp_path, capsys, extra, message):
    out = tmp_path / "run"
    assert message in _refused(["audio", str(sounds[0]), str(sounds[1]), "-o", str(out), *TINY, *extra], capsys, out)


def test_an_occupied_folder_is_not_replaced(sounds, tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "precious.txt").write_text("keep me")
    argv = ["audio", str(sounds[0]), str(sounds[1]), "-o", str(out), *TINY]
    assert main(argv) == 2 and "already exists" in capsys.readouterr().err
    assert main([*argv, "--overwrite"]) == 2 and "not an nst_tf run folder" in capsys.readouterr().err
    assert (out / "precious.txt").read_text() == "keep me"


@pytest.mark.parametrize(("how", "code"), [("ctrl-c", 130), ("sigterm", 143)])
def test_interruption_keeps_what_exists(sounds, tmp_path, monkeypatch, capsys, how, code):
    from nst_tf.audio import transfer

    real = transfer.synthesize
    handler_before = signal.getsignal(signal.SIGTERM)

    def interrupted(inputs, config):
        for step in real(inputs, config):
            yield step
            if step.iteration == 1:
                if how == "ctrl-c":
                    raise KeyboardInterrupt
                os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(transfer, "synthesize", interrupted)
    out = tmp_path / "run"
    assert main(["audio", str(sounds[0]), str(sounds[1]), "-o", str(out), *TINY, "--iterations", "50"]) == code
    assert "interrupted after 2 iterations" in capsys.readouterr().err
    record = json.loads((out / "config.json").read_text())
    assert record["status"] == "interrupted" and record["iterations_done"] == 2
    assert len(list(csv.DictReader(open(out / "metrics.csv")))) == 2
    assert (out / "content.wav").is_file() and (out / "report.html").is_file() and not (out / "result.wav").exists()
    assert signal.getsignal(signal.SIGTERM) is handler_before  # the run's SIGTERM handler is taken down again


@pytest.mark.parametrize(("amplitude", "gain"), [(3.0, 0.33), (0.5, 1.0)])
def test_a_loud_result_is_scaled_to_peak_0_99_and_a_quiet_one_kept(sounds, tmp_path, monkeypatch, amplitude, gain):
    # README: result.wav is "scaled to peak 0.99 if louder, never clipped". Griffin-Lim's output is replaced by
    # a known waveform, so the peak written is exactly what the scaling makes of it.
    from nst_tf.audio import transfer

    wave = amplitude * np.sin(2 * np.pi * 440 * np.arange(4000) / 8000)
    monkeypatch.setattr(transfer, "to_waveform", lambda *args, **kwargs: wave.astype(np.float32))
    out = tmp_path / "run"
    assert main(["audio", str(sounds[0]), str(sounds[1]), "-o", str(out), *TINY]) == 0
    rate, written = wavfile.read(out / "result.wav")
    peak = np.abs(written.astype(np.float64)).max() / 32767
    expected = min(amplitude, 0.99)
    assert abs(peak - expected) <= 1 / 32767, peak  # one 16-bit step
    assert json.loads((out / "config.json").read_text())["result_gain"] == pytest.approx(gain, abs=1e-6)  # 6 digits
    # the shape is kept (a scaled sine, not a clipped one): samples are proportional to the waveform
    np.testing.assert_allclose(written / 32767, wave * (expected / amplitude), atol=1 / 32767)
