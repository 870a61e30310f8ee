"""The `audio` command: style transfer and texture synthesis for sound (Ulyanov & Lebedev 2016).

    python -m nst_tf audio CONTENT.wav STYLE.wav -o DIR [options]
    python -m nst_tf audio STYLE.wav --mode texture --duration 6 -o DIR

Reads the WAV files and checks every setting and the output place first: a bad file or setting is one
line on stderr and exit status 2, and nothing is written. Then it makes DIR (see `nst_tf.audio.run_folder`
for what goes in it), runs the optimisation with a progress line every few iterations, reconstructs the
phase and writes the result, the picture and report.html. Ctrl-C or SIGTERM stops it keeping what was
written (metrics, config.json with status "interrupted", the inputs, the report): exit status 130 or 143.
Defaults come from `nst_tf.audio.transfer.AudioConfig`.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from pathlib import Path

import numpy as np

from nst_tf.audio.transfer import MODES, OPTIMIZERS, AudioConfig
from nst_tf.cli.common import HelpFormatter, import_tensorflow_quietly, interrupted_status, sigterm_as_interrupt
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
        formatter_class=HelpFormatter,
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
    p.add_argument(
        "--seed", type=int, default=_DEFAULTS.seed, help="filters, start and phases come from it (default: 0)"
    )
    p.add_argument("--duration", type=float, help="seconds to make (default: the content's, or the style's)")
    p.add_argument("--optimizer", choices=OPTIMIZERS, default=_DEFAULTS.optimizer, help="L-BFGS-B or Adam")
    p.add_argument("--learning-rate", type=float, default=_DEFAULTS.learning_rate, help="Adam only")
    p.add_argument(
        "--griffin-lim-iterations", type=int, default=_DEFAULTS.griffin_lim_iterations, help="phase reconstruction"
    )
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


def command(args: argparse.Namespace) -> int:
    """Check everything, make the run folder, optimise, reconstruct, report. Returns the exit status."""
    from nst_tf.audio import run_folder
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
    folder = run_folder.plan(Path(args.output), args.overwrite)  # checks only: nothing exists yet
    with sigterm_as_interrupt():
        try:
            import_tensorflow_quietly()
        except KeyboardInterrupt as exc:
            sys.stderr.write("nst_tf: interrupted before the run started; nothing was written\n")
            return interrupted_status(exc)
        return _run(folder, inputs, config, args)


def _run(planned, inputs, config: AudioConfig, args: argparse.Namespace) -> int:
    """Create the folder, optimise, reconstruct; Ctrl-C or SIGTERM keeps what exists (exit 130 or 143)."""
    from nst_tf.audio.run_folder import AudioRunFolder
    from nst_tf.io.provenance import library_versions

    record = {
        "command": "audio",
        "status": "running",
        "sounds": [str(Path(p).resolve()) for p in args.sounds],
        "inputs": list(inputs.notes),
        "rate": inputs.rate,
        "samples": inputs.length,
        "config": config.to_dict(),
        "versions": library_versions(),
    }
    weights = {"content": config.content_weight if config.mode == "transfer" else 0.0, "style": config.style_weight}
    try:
        folder = AudioRunFolder(planned, inputs.rate, config.hop_length, tensorboard=not args.no_tb)
    except KeyboardInterrupt as exc:
        sys.stderr.write(f"nst_tf: interrupted while making {planned.path}; what was written is there\n")
        return interrupted_status(exc)
    spectrograms: dict[str, np.ndarray] = {}
    progress: list = []  # the latest AudioStep, kept even when the loop is interrupted
    try:
        folder.write_config(record)
        _write_inputs(folder, inputs, config, spectrograms)
        last = _optimise(folder, inputs, config, args.quiet, progress)
        _write_result(folder, inputs, config, last, record, spectrograms)
    except KeyboardInterrupt as stop:  # Ctrl-C, or SIGTERM as common.Terminated
        last = progress[-1] if progress else None
        _finish(folder, record, weights, "interrupted", last, spectrograms)
        done = last.iteration + 1 if last else 0
        sys.stderr.write(f"nst_tf: interrupted after {done} iterations; what was made so far is in {folder.path}\n")
        return interrupted_status(stop)
    _finish(folder, record, weights, "complete", last, {})
    if not args.quiet:
        print(f"wrote {folder.path / 'result.wav'} ({inputs.length / inputs.rate:.2f} s at {inputs.rate} Hz)")
        print(f"report: {folder.path / 'report.html'}")
    return 0


def _write_inputs(folder, inputs, config: AudioConfig, spectrograms: dict) -> None:
    """content.wav and style.wav as the run uses them, and their spectrograms for the picture."""
    from nst_tf.audio.spectrogram import log_magnitude

    for name, samples in (("content", inputs.content), ("style", inputs.style)):
        if samples is not None:
            folder.sound(name, samples)
            spectrograms[name] = log_magnitude(samples, config.n_fft, config.hop_length)


def _optimise(folder, inputs, config: AudioConfig, quiet: bool, progress: list):
    """Run the loop: a metrics row per iteration, about 20 progress lines. Returns the last AudioStep."""
    from nst_tf.audio.transfer import synthesize

    every = max(1, config.iterations // 20)
    for step in synthesize(inputs, config):
        folder.step(step.iteration, step.costs, step.seconds, step.evaluations)
        progress[:] = [step]
        done = step.iteration + 1
        if not quiet and (step.iteration % every == 0 or done == config.iterations):
            c = step.costs
            print(
                f"step {done:>5}/{config.iterations}  total {c['total']:.5g}  content {c['content']:.5g}  "
                f"style {c['style']:.5g}  {step.seconds:.1f}s",
                flush=True,
            )
    return progress[-1]


def _write_result(folder, inputs, config: AudioConfig, last, record: dict, spectrograms: dict) -> None:
    """Griffin–Lim, result.wav (scaled down to RESULT_PEAK if louder, never clipped) and the picture."""
    from nst_tf.audio.spectrogram import log_magnitude
    from nst_tf.audio.transfer import to_waveform

    began = time.perf_counter()
    result = to_waveform(last.spectrogram, inputs, config)
    peak = float(np.abs(result).max())
    gain = min(1.0, RESULT_PEAK / peak) if peak > 0 else 1.0
    folder.sound("result", result * gain, step=last.iteration + 1)
    spectrograms["result"] = log_magnitude(result * gain, config.n_fft, config.hop_length)
    record.update(griffin_lim_seconds=round(time.perf_counter() - began, 3), result_gain=round(gain, 6))
    folder.pictures(spectrograms, last.spectrogram)


def _finish(folder, record: dict, weights: dict, status: str, last, spectrograms: dict) -> None:
    """Final config.json, loss plot and report; for an interrupted run also the inputs' picture."""
    record.update(status=status, iterations_done=last.iteration + 1 if last else 0)
    if last is not None:
        record.update(seconds=round(last.seconds, 3), final_costs=last.costs, evaluations=last.evaluations)
    with contextlib.suppress(KeyboardInterrupt):  # a second Ctrl-C must not lose the record
        if spectrograms and "result" not in spectrograms:
            folder.pictures(spectrograms, None)
    folder.finish(record, weights)
