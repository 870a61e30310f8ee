"""Sound style transfer into a run folder: the library entry behind the `audio` command.

`plan_sound_run(paths, config, output, overwrite)` reads the WAV files and checks every setting and the
output place (nothing written); `decide_precision(plan)` decides `--precision auto` (after the checks, so a
refusal probes nothing; `write_sound_run` does it for a plan not yet decided); `write_sound_run(plan,
tensorboard, on_step)` makes the folder (see `nst_tf.audio.run_folder`), consumes `synthesize`'s Step
stream into it, reconstructs the phase, writes result.wav at a safe loudness, the picture and report.html.
Ctrl-C or SIGTERM stops it keeping what was written (config.json says "interrupted"); the returned `SoundRun`
says how it ended. `sound_to_folder` is both in one call. Without a folder, `stylize_sound(paths, config)` is
the stream: one Step per iteration, the last carrying the spectrogram (`image`) and the sound itself
(`info["sound"]`, `info["rate"]`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nst_tf.audio.transfer import AudioConfig, AudioInputs
from nst_tf.errors import ConfigError
from nst_tf.records import Step

RESULT_PEAK = 0.99  # a louder result is scaled down to this peak rather than clipped


@dataclass
class SoundPlan:
    """A checked sound run: the settings (precision resolved), the prepared inputs, the planned folder, the
    source paths, and the precision decision (nst_tf.perf.precision.Decision)."""

    config: AudioConfig
    inputs: AudioInputs
    folder: object  # nst_tf.io.rundir.RunFolder, planned (nothing made yet)
    paths: list[str]
    decision: object = None


@dataclass
class SoundRun:
    """How a sound run ended: its folder, "complete" or "interrupted", iterations done, the last Step,
    and the interruption (KeyboardInterrupt or Terminated) when there was one."""

    path: Path
    status: str
    iterations_done: int
    last: Step | None = None
    interruption: KeyboardInterrupt | None = field(default=None, repr=False)


def plan_sound_run(paths: list[str], config: AudioConfig, output: str | Path, overwrite: bool = False) -> SoundPlan:
    """Read and check the sounds (CONTENT STYLE, or STYLE in texture mode), the settings and the output
    folder; nothing is written.

    Raises:
        ConfigError, SoundError: bad input, in one line.
    """
    from nst_tf.audio import run_folder
    from nst_tf.audio.transfer import prepare
    from nst_tf.io.sound import read_wav

    config.validate()
    wanted = 1 if config.mode == "texture" else 2
    if len(paths) != wanted:
        usage = "STYLE.wav" if wanted == 1 else "CONTENT.wav STYLE.wav"
        raise ConfigError(f"--mode {config.mode} takes {usage}, got {len(paths)} file(s)")
    sounds = [read_wav(path) for path in paths]
    content, style = (None, sounds[0]) if wanted == 1 else sounds
    inputs = prepare(content, style, config)
    folder = run_folder.plan(Path(output), overwrite)  # checks only: nothing exists yet
    return SoundPlan(config, inputs, folder, list(paths))


def decide_precision(plan: SoundPlan) -> SoundPlan:
    """The plan with "auto" decided once for the run (nst_tf.perf.precision: may probe, so TensorFlow is
    imported) and the Decision beside it, for config.json and the command's line. A plan decided already
    comes back as it is."""
    if plan.decision is not None:
        return plan
    config, decision = resolve_audio_precision(plan.config)
    return dataclasses.replace(plan, config=config, decision=decision)


def resolve_audio_precision(config: AudioConfig):
    """(config with its precision decided, the Decision)."""
    from nst_tf.perf.precision import resolve_precision

    decision = resolve_precision(config.precision)
    return config.replace(precision=decision.precision), decision


def progress_line(step: Step, iterations: int) -> str:
    """The `audio` command's progress line for one iteration."""
    c = step.costs
    return (
        f"step {step.iteration + 1:>5}/{iterations}  total {c['total']:.5g}  content {c['content']:.5g}  "
        f"style {c['style']:.5g}  {step.seconds:.1f}s"
    )


def sound_to_folder(
    paths: list[str], config: AudioConfig | None = None, output: str | Path = "output/sound", **options
) -> SoundRun:
    """Check, then write a whole sound run folder: `write_sound_run(plan_sound_run(...), **options)`."""
    plan = plan_sound_run(list(paths), config or AudioConfig(), output, options.pop("overwrite", False))
    return write_sound_run(plan, **options)


def stylize_sound(paths: list[str], config: AudioConfig | None = None) -> Iterator[Step]:
    """The sound of CONTENT.wav in the texture of STYLE.wav (texture mode: STYLE.wav only), as a stream.

    Yields one Step per iteration (`costs` total/content/style, `evaluations`); the last one's `image` is
    the optimised log-magnitude spectrogram (frames, bins) and its `info` {"sound": (length,) float32 at
    most RESULT_PEAK loud, "rate": Hz}. Nothing is written.
    """
    from nst_tf.audio.transfer import prepare, synthesize, to_waveform
    from nst_tf.io.sound import read_wav

    config, _ = resolve_audio_precision((config or AudioConfig()).validate())
    wanted = 1 if config.mode == "texture" else 2
    if len(paths) != wanted:
        raise ConfigError(f"mode {config.mode} takes {wanted} sound(s), got {len(paths)}")
    sounds = [read_wav(path) for path in paths]
    inputs = prepare(*((None, sounds[0]) if wanted == 1 else sounds), config)
    for step in synthesize(inputs, config):
        if step.image is not None:  # the last iteration
            sound, _ = safe_loudness(to_waveform(step.image, inputs, config))
            step = Step(
                step.iteration,
                step.costs,
                step.seconds,
                step.image,
                evaluations=step.evaluations,
                info={"sound": sound, "rate": inputs.rate},
            )
        yield step


def safe_loudness(result: np.ndarray) -> tuple[np.ndarray, float]:
    """(the sound scaled down to RESULT_PEAK if louder, never clipped; the gain used)."""
    peak = float(np.abs(result).max())
    gain = min(1.0, RESULT_PEAK / peak) if peak > 0 else 1.0
    return result * gain, gain


def write_sound_run(
    plan: SoundPlan, tensorboard: bool = True, on_step: Callable[[Step], None] | None = None
) -> SoundRun:
    """Make the folder, optimise, reconstruct, report. A KeyboardInterrupt while the folder is being made
    propagates (what was written is there); one during the run is caught and reported in the result."""
    from nst_tf.audio.run_folder import AudioRunFolder
    from nst_tf.io.provenance import library_versions

    plan = decide_precision(plan)
    config, inputs = plan.config, plan.inputs
    record = {
        "command": "audio",
        "status": "running",
        "sounds": [str(Path(p).resolve()) for p in plan.paths],
        "inputs": list(inputs.notes),
        "rate": inputs.rate,
        "samples": inputs.length,
        "config": config.to_dict(),
        "precision_decision": plan.decision.to_dict(),
        "versions": library_versions(),
    }
    weights = {"content": config.content_weight if config.mode == "transfer" else 0.0, "style": config.style_weight}
    folder = AudioRunFolder(plan.folder, inputs.rate, config.hop_length, tensorboard=tensorboard)
    spectrograms: dict[str, np.ndarray] = {}
    progress: list[Step] = []  # the latest Step, kept even when the loop is interrupted
    try:
        folder.write_config(record)
        _write_inputs(folder, inputs, config, spectrograms)
        last = _optimise(folder, inputs, config, progress, on_step)
        _write_result(folder, inputs, config, last, record, spectrograms)
    except KeyboardInterrupt as stop:  # Ctrl-C, or SIGTERM as nst_tf.runtime.Terminated
        last = progress[-1] if progress else None
        _finish(folder, record, weights, "interrupted", last, spectrograms)
        done = last.iteration + 1 if last else 0
        return SoundRun(folder.path, "interrupted", done, last, stop)
    _finish(folder, record, weights, "complete", last, {})
    return SoundRun(folder.path, "complete", last.iteration + 1, last)


def _write_inputs(folder, inputs: AudioInputs, config: AudioConfig, spectrograms: dict) -> None:
    """content.wav and style.wav as the run uses them, and their spectrograms for the picture."""
    from nst_tf.audio.spectrogram import log_magnitude

    for name, samples in (("content", inputs.content), ("style", inputs.style)):
        if samples is not None:
            folder.sound(name, samples)
            spectrograms[name] = log_magnitude(samples, config.n_fft, config.hop_length)


def _optimise(folder, inputs: AudioInputs, config: AudioConfig, progress: list, on_step) -> Step:
    """Run the loop: a metrics row per iteration. Returns the last Step."""
    from nst_tf.audio.transfer import synthesize

    for step in synthesize(inputs, config):
        folder.step(step.iteration, step.costs, step.seconds, step.evaluations)
        progress[:] = [step]
        if on_step is not None:
            on_step(step)
    return progress[-1]


def _write_result(folder, inputs: AudioInputs, config: AudioConfig, last: Step, record: dict, spectrograms) -> None:
    """Griffin–Lim, result.wav (scaled down to RESULT_PEAK if louder, never clipped) and the picture."""
    from nst_tf.audio.spectrogram import log_magnitude
    from nst_tf.audio.transfer import to_waveform

    began = time.perf_counter()
    result, gain = safe_loudness(to_waveform(last.image, inputs, config))
    folder.sound("result", result, step=last.iteration + 1)
    spectrograms["result"] = log_magnitude(result, config.n_fft, config.hop_length)
    record.update(griffin_lim_seconds=round(time.perf_counter() - began, 3), result_gain=round(gain, 6))
    folder.pictures(spectrograms, last.image)


def _finish(folder, record: dict, weights: dict, status: str, last: Step | None, spectrograms: dict) -> None:
    """Final config.json, loss plot and report; for an interrupted run also the inputs' picture."""
    record.update(status=status, iterations_done=last.iteration + 1 if last else 0)
    if last is not None:
        record.update(seconds=round(last.seconds, 3), final_costs=last.costs, evaluations=last.evaluations)
    with contextlib.suppress(KeyboardInterrupt):  # a second Ctrl-C must not lose the record
        if spectrograms and "result" not in spectrograms:
            folder.pictures(spectrograms, None)
    folder.finish(record, weights)
