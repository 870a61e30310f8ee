"""The `audio` command: style transfer and texture synthesis for sound (Ulyanov & Lebedev 2016).

    python -m nst_tf audio CONTENT.wav STYLE.wav -o DIR [options]
    python -m nst_tf audio STYLE.wav --mode texture --duration 6 -o DIR

Reads the WAV files and checks every setting first: a bad file or setting is one line on stderr and exit
status 2, and nothing is written. Then it makes DIR (see `nst_tf.audio.run_folder` for what goes in it),
runs the optimisation with a progress line every few iterations, reconstructs the phase and writes the
result, the pictures and report.html. Ctrl-C or SIGTERM stops it keeping what was written (metrics,
config.json with status "interrupted", the inputs, the report): exit status 130 or 143. Defaults come from
`nst_tf.audio.transfer.AudioConfig`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import signal
import sys
import time
from pathlib import Path

import numpy as np

from nst_tf.audio.transfer import MODES, OPTIMIZERS, AudioConfig
from nst_tf.errors import ConfigError

_DEFAULTS = AudioConfig()
RESULT_PEAK = 0.99  # a louder result is scaled down to this peak rather than clipped


def add_parser(subparsers) -> None:
    """Add the `audio` command to an argparse subparsers object."""
    p = subparsers.add_parser(
        "audio",
        help="style transfer for sound: a content WAV in the texture of a style WAV",
        description="Audio style transfer (Ulyanov & Lebedev 2016): spectrograms, a random 1-D convolution, "
        "Griffin-Lim. In --mode texture give only STYLE.wav.",
    )
    p.add_argument("sounds", nargs="+", metavar="WAV", help="CONTENT.wav STYLE.wav (texture mode: STYLE.wav)")
    p.add_argument("-o", "--output", required=True, metavar="DIR", help="the run folder to create")
    p.add_argument("--overwrite", action="store_true", help="replace DIR if it holds an earlier audio run")
    p.add_argument("--mode", choices=MODES, default=_DEFAULTS.mode, help="transfer (default) or texture")
    p.add_argument("--iterations", type=int, default=_DEFAULTS.iterations, help="optimiser iterations")
    p.add_argument("--content-weight", type=float, default=_DEFAULTS.content_weight, help="α")
    p.add_argument("--style-weight", type=float, default=_DEFAULTS.style_weight, help="β")
    p.add_argument("--filters", type=int, default=_DEFAULTS.filters, help="random convolution filters")
    p.add_argument("--kernel-width", type=int, default=_DEFAULTS.kernel_width, help="filter width in frames")
    p.add_argument("--n-fft", type=int, default=_DEFAULTS.n_fft, help="STFT window length in samples")
    p.add_argument("--seed", type=int, default=_DEFAULTS.seed, help="filters, start and phases come from it")
    p.add_argument("--duration", type=float, help="seconds to make (default: the content's, or the style's)")
    p.add_argument("--optimizer", choices=OPTIMIZERS, default=_DEFAULTS.optimizer)
    p.add_argument("--learning-rate", type=float, default=_DEFAULTS.learning_rate, help="Adam only")
    p.add_argument("--griffin-lim-iterations", type=int, default=_DEFAULTS.griffin_lim_iterations)
    p.add_argument("--no-tb", action="store_true", help="write no TensorBoard event files")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress output")


def config_from_args(args: argparse.Namespace) -> AudioConfig:
    return AudioConfig(
        mode=args.mode,
        iterations=args.iterations,
        content_weight=args.content_weight,
        style_weight=args.style_weight,
        filters=args.filters,
        kernel_width=args.kernel_width,
        n_fft=args.n_fft,
        seed=args.seed,
        duration=args.duration,
        optimizer=args.optimizer,
        learning_rate=args.learning_rate,
        griffin_lim_iterations=args.griffin_lim_iterations,
    ).validate()


class Terminated(BaseException):
    """SIGTERM arrived (raised in the main thread by the handler, like KeyboardInterrupt for Ctrl-C)."""


def _on_sigterm(signum, frame) -> None:
    raise Terminated


def command(args: argparse.Namespace) -> int:
    """Check everything, make the run folder, optimise, reconstruct, report. Returns the exit status."""
    from nst_tf.audio.transfer import prepare
    from nst_tf.io.sound import read_wav

    config = config_from_args(args)
    wanted = 1 if config.mode == "texture" else 2
    if len(args.sounds) != wanted:
        usage = "STYLE.wav" if wanted == 1 else "CONTENT.wav STYLE.wav"
        raise ConfigError(f"--mode {config.mode} takes {usage}, got {len(args.sounds)} file(s)")
    sounds = [read_wav(path) for path in args.sounds]
    content, style = (None, sounds[0]) if wanted == 1 else sounds
    inputs = prepare(content, style, config)
    run_dir = _claim_run_dir(Path(args.output), args.overwrite)
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        return _run(run_dir, inputs, config, args, sounds)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _claim_run_dir(run_dir: Path, overwrite: bool) -> Path:
    """DIR if it is free (missing or an empty folder); an earlier audio run's folder only with --overwrite."""
    if run_dir.exists() or run_dir.is_symlink():
        if not run_dir.is_dir() or run_dir.is_symlink():
            raise ConfigError(f"{run_dir} exists and is not a folder")
        if any(run_dir.iterdir()):
            if not overwrite:
                raise ConfigError(f"{run_dir} is not empty; pass --overwrite to replace an earlier audio run there")
            if not _is_audio_run(run_dir):
                raise ConfigError(f"{run_dir} does not hold an audio run (no config.json of one); not replacing it")
            shutil.rmtree(run_dir)
    return run_dir


def _is_audio_run(run_dir: Path) -> bool:
    try:
        return json.loads((run_dir / "config.json").read_text()).get("command") == "audio"
    except (OSError, ValueError, AttributeError):
        return False


def _run(run_dir: Path, inputs, config: AudioConfig, args: argparse.Namespace, sounds) -> int:
    from nst_tf.audio.run_folder import AudioRunFolder
    from nst_tf.audio.spectrogram import log_magnitude
    from nst_tf.audio.transfer import synthesize, to_waveform

    record = {
        "command": "audio",
        "status": "running",
        "sounds": [str(Path(p).resolve()) for p in args.sounds],
        "inputs": list(inputs.notes),
        "rate": inputs.rate,
        "samples": inputs.length,
        "config": config.to_dict(),
        "versions": _versions(),
    }
    folder = AudioRunFolder(run_dir, inputs.rate, config.hop_length, config.n_fft, tensorboard=not args.no_tb)
    weights = {"content": config.content_weight if config.mode == "transfer" else 0.0, "style": config.style_weight}
    spectrograms: dict[str, np.ndarray] = {}
    done, last = 0, None
    try:
        folder.write_config(record)
        for name, samples in (("content", inputs.content), ("style", inputs.style)):
            if samples is not None:
                folder.sound(name, samples)
                spectrograms[name] = log_magnitude(samples, config.n_fft, config.hop_length)
        every = max(1, config.iterations // 20)
        for step in synthesize(inputs, config):
            folder.step(step.iteration, step.costs, step.seconds, step.evaluations)
            done, last = step.iteration + 1, step
            if not args.quiet and (step.iteration % every == 0 or done == config.iterations):
                c = step.costs
                print(
                    f"step {done:>5}/{config.iterations}  total {c['total']:.5g}  content {c['content']:.5g}  "
                    f"style {c['style']:.5g}  {step.seconds:.1f}s",
                    flush=True,
                )
        began = time.perf_counter()
        result = to_waveform(last.spectrogram, inputs, config)
        peak = float(np.abs(result).max())
        gain = min(1.0, RESULT_PEAK / peak) if peak > 0 else 1.0
        folder.sound("result", result * gain, step=done)
        spectrograms["result"] = log_magnitude(result * gain, config.n_fft, config.hop_length)
        record.update(griffin_lim_seconds=round(time.perf_counter() - began, 3), result_gain=round(gain, 6))
        folder.pictures(spectrograms, last.spectrogram)
    except (KeyboardInterrupt, Terminated) as stop:
        code = 143 if isinstance(stop, Terminated) else 130
        _finish(folder, record, weights, "interrupted", done, last, spectrograms)
        sys.stderr.write(f"nst_tf: interrupted after {done} iterations; what was made so far is in {run_dir}\n")
        return code
    _finish(folder, record, weights, "complete", done, last, {})
    if not args.quiet:
        print(f"wrote {run_dir / 'result.wav'} ({inputs.length / inputs.rate:.2f} s at {inputs.rate} Hz)")
        print(f"report: {run_dir / 'report.html'}")
    return 0


def _finish(folder, record: dict, weights: dict, status: str, done: int, last, spectrograms: dict) -> None:
    """Final config.json, loss plot and report; for an interrupted run also the inputs' pictures."""
    record.update(status=status, iterations_done=done)
    if last is not None:
        record.update(seconds=round(last.seconds, 3), final_costs=last.costs, evaluations=last.evaluations)
    with contextlib.suppress(KeyboardInterrupt, Terminated):  # a second Ctrl-C must not lose the record
        if spectrograms and "result" not in spectrograms:
            folder.pictures(spectrograms, None)
    folder.finish(record, weights)


def _versions() -> dict[str, str]:
    import platform

    import scipy
    import tensorflow

    from nst_tf import __version__

    return {
        "nst_tf": __version__,
        "python": platform.python_version(),
        "tensorflow": tensorflow.__version__,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
    }
