"""nst_tf.video's library: reader/writer on clips made here, flow/warp/mask on a pan with known flow, the
temporal blend, the warping error, and the stylize_video generator (a flickering stand-in route)."""

from __future__ import annotations

import subprocess
import wave

import numpy as np
import pytest
from conftest import ROOT

from nst_tf.records import Step
from nst_tf.video import flow as vflow
from nst_tf.video import io as vio
from nst_tf.video.stylize import stylize_video
from nst_tf.video.synthetic import pan_zoom_clip, true_backward_flow
from nst_tf.video.temporal import temporal_blend, warping_error

SIZE = (48, 64)  # (height, width): even, as 4:2:0 video needs


def textured(height: int = 160, width: int = 220, seed: int = 0, cell: int = 4) -> np.ndarray:
    """A smooth random picture (1, H, W, 3), random colours every `cell` px, upsampled bicubically: texture
    enough for the flow, no aliasing at a few px of pan."""
    import cv2

    rng = np.random.default_rng(seed)
    noise = rng.uniform(0, 1, (height // cell, width // cell, 3)).astype(np.float32)
    return cv2.resize(noise, (width, height), interpolation=cv2.INTER_CUBIC).clip(0, 1)[np.newaxis]


def make_clip(path, frames, fps=10.0, audio=None, pan=(2.0, 1.0), size=SIZE) -> list[np.ndarray]:
    """A pan clip of (height, width) `size` written with imageio's own writer (not ours); the frames written."""
    import imageio.v2 as imageio

    # colour changing every 12 px: 4:2:0 video keeps chroma at half resolution, finer colour would blur
    clip = pan_zoom_clip(textured(cell=12), frames, size, pan=pan)
    extra = {"audio_path": str(audio), "audio_codec": "aac"} if audio else {}
    with imageio.get_writer(str(path), fps=fps, macro_block_size=1, quality=9, **extra) as writer:
        for frame in clip:
            writer.append_data((frame[0] * 255).round().astype(np.uint8))
    return clip


def make_wav(path, seconds=2.0, rate=8000):
    samples = (np.sin(np.arange(int(seconds * rate)) * 2 * np.pi * 440 / rate) * 12000).astype(np.int16)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1), out.setsampwidth(2), out.setframerate(rate)
        out.writeframes(samples.tobytes())
    return path


def test_probe_and_read_a_clip_made_here(tmp_path):
    clip = make_clip(tmp_path / "in.mp4", 8, fps=10.0)
    info = vio.probe(tmp_path / "in.mp4")
    assert (info.fps, info.width, info.height, info.audio_codec, info.frames) == (10.0, 64, 48, None, 8)
    frames = list(vio.read_frames(info.path))
    assert len(frames) == 8 and frames[0].shape == (1, 48, 64, 3) and frames[0].dtype == np.float32
    # H.264 4:2:0 at imageio's quality 9: measured 0.0195 mean error at 64x48 (chroma at half resolution)
    errors = np.array([[np.abs(a - b).mean() for b in clip] for a in frames])  # (read, written)
    assert np.all(np.diag(errors) < 0.03)
    assert np.array_equal(errors.argmin(axis=1), np.arange(8))  # each frame read is the one written there
    assert len(list(vio.read_frames(info.path, size=(24, 32), limit=3))) == 3
    assert next(vio.read_frames(info.path, size=(24, 32))).shape == (1, 24, 32, 3)


def test_the_shipped_sample_clip_is_what_images_readme_says():
    # the README's video command runs on images/bunny.mp4: a fresh clone must hold a real clip with sound
    info = vio.probe(ROOT / "images" / "bunny.mp4")
    assert (info.fps, info.width, info.height, info.frames, info.audio_codec) == (25.0, 320, 180, 50, "aac")


def test_writer_keeps_fps_size_and_sound(tmp_path):
    make_clip(tmp_path / "in.mp4", 10, fps=5.0, audio=make_wav(tmp_path / "a.wav", seconds=2.0))
    info = vio.probe(tmp_path / "in.mp4")
    assert info.audio_codec == "aac"
    steps = (Step(i, {}, 0.0, image=f) for i, f in enumerate(vio.read_frames(info.path)))
    written = list(vio.write_clip(steps, tmp_path / "out.mp4", info.fps, info))
    out = vio.probe(tmp_path / "out.mp4")
    assert len(written) == 10 and (out.fps, out.width, out.height) == (5.0, 64, 48)
    assert out.audio_codec == "aac" and len(list(vio.read_frames(out.path))) == 10
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.wav", "in.mp4", "out.mp4"]  # no temporary left


def test_quality_trades_file_size_for_fidelity(tmp_path):
    clip = pan_zoom_clip(textured(cell=4), 6, (96, 128), pan=(2.0, 1.0))  # fine texture: what costs bits
    sizes, errors = {}, {}
    for quality in (3.0, vio.QUALITY):
        steps = (Step(i, {}, 0.0, image=f) for i, f in enumerate(clip))
        path = tmp_path / f"q{quality:g}.mp4"
        list(vio.write_clip(steps, path, 10.0, quality=quality))
        sizes[quality] = path.stat().st_size
        errors[quality] = np.mean([np.abs(a - b).mean() for a, b in zip(vio.read_frames(path), clip, strict=True)])
    assert sizes[3.0] < sizes[vio.QUALITY] and errors[3.0] > errors[vio.QUALITY]  # CRF 35 vs CRF 10


def test_writer_leaves_nothing_on_error_and_a_playable_clip_on_ctrl_c(tmp_path):
    frames = pan_zoom_clip(textured(), 6, SIZE)

    def stream(fail: type[BaseException]):
        for index, frame in enumerate(frames):
            if index == 4:
                raise fail()
            yield Step(index, {}, 0.0, image=frame)

    with pytest.raises(RuntimeError):
        list(vio.write_clip(stream(RuntimeError), tmp_path / "broken.mp4", 10.0))
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(KeyboardInterrupt):
        list(vio.write_clip(stream(KeyboardInterrupt), tmp_path / "partial.mp4", 10.0))
    assert [p.name for p in tmp_path.iterdir()] == ["partial.mp4"]
    assert len(list(vio.read_frames(tmp_path / "partial.mp4"))) == 4


def test_check_output_refuses_what_it_may_not_write(tmp_path):
    existing = tmp_path / "mine.mp4"
    existing.write_bytes(b"the user's")
    with pytest.raises(vio.ConfigError, match="exists"):
        vio.check_output(existing, overwrite=False)
    assert vio.check_output(existing, overwrite=True) == existing
    (tmp_path / "dir.mp4").mkdir()
    for bad in (tmp_path / "out.txt", tmp_path / "dir.mp4", tmp_path / "none" / "out.mp4", existing / "x.mp4"):
        with pytest.raises(vio.ConfigError):
            vio.check_output(bad, overwrite=True)
    assert existing.read_bytes() == b"the user's"
    with pytest.raises(vio.ConfigError, match="cannot write"):  # os.access says yes here as root; a probe says no
        vio.check_output("/proc/out.mp4", overwrite=False)


def test_flow_and_warp_follow_a_known_pan_and_zoom():
    pan, zoom = (3.0, 1.0), 0.99
    frames = pan_zoom_clip(textured(), 3, (96, 128), pan, zoom)
    truth = true_backward_flow(2, (96, 128), pan, zoom)
    estimated = vflow.flow(frames[2], frames[1])
    inner = (slice(8, -8), slice(8, -8))  # DIS is unsure at the border, where the content enters the frame
    # sub-pixel: measured median 0.05 px on such pictures; 0.25 px leaves room for other OpenCV builds
    assert np.median(np.abs(estimated - truth)[inner]) < 0.25
    warped = vflow.warp(frames[1], truth)  # the frame before, brought into frame 2 by the true flow
    assert np.abs(warped - frames[2])[0][inner].mean() < 0.01  # only bilinear resampling differs
    assert np.abs(frames[1] - frames[2])[0][inner].mean() > 0.05  # (while the frames themselves differ)


def test_warp_by_whole_pixels_is_a_shift():
    picture = np.arange(5 * 6, dtype=np.float32).reshape(5, 6)
    shifted = vflow.warp(picture, np.broadcast_to(np.float32([2, 1]), (5, 6, 2)))
    assert np.array_equal(shifted[:4, :4], picture[1:, 2:])


def test_reliable_mask_marks_pixels_that_came_from_outside_or_do_not_round_trip():
    height, width = 10, 12
    backward = np.broadcast_to(np.float32([-3, 0]), (height, width, 2)).copy()  # frame t's x was at x − 3
    forward = -backward  # and the frame before's y went to y + 3: consistent
    mask = vflow.reliable_mask(backward, forward)
    assert mask[:, :3].sum() == 0 and mask[:, 3:].min() == 1  # the left 3 columns entered the frame
    stuck = vflow.reliable_mask(backward, np.zeros_like(forward))  # a forward flow that does not come back
    assert stuck.sum() == 0  # |b + f|² = 9 > 0.01·9 + 0.5 everywhere


def test_temporal_blend_by_hand():
    stylized = np.full((1, 2, 2, 3), 0.2, np.float32)
    previous = np.full((1, 2, 2, 3), 0.6, np.float32)
    mask = np.array([[1.0, 0.0], [0.5, 1.0]], np.float32)
    out = temporal_blend(stylized, previous, mask, 0.75)
    assert np.allclose(out[0, :, :, 0], [[0.5, 0.2], [0.35, 0.5]])  # 0.2 + 0.75·m·0.4
    assert np.array_equal(temporal_blend(stylized, previous, mask, 0.0), stylized)
    with pytest.raises(ValueError):
        temporal_blend(stylized, previous, mask, 1.0)


def flickering_route(seed: int = 0):
    """A stand-in stylization: the frame with a fresh random colour cast and grain each call (flicker)."""
    rng = np.random.default_rng(seed)

    def route(frame, start):
        cast = rng.uniform(-0.08, 0.08, 3).astype(np.float32)
        return np.clip(frame + cast + rng.normal(0, 0.03, frame.shape).astype(np.float32), 0, 1)

    return route


def test_stylize_video_blend_lowers_the_warping_error_of_a_flickering_route():
    frames = pan_zoom_clip(textured(), 8, SIZE, pan=(2.0, 1.0))
    steady = [s.image for s in stylize_video(frames, flickering_route(), temporal=True)]
    steps = list(stylize_video(frames, flickering_route(), temporal=False))
    assert [s.info["frame"] for s in steps] == list(range(8)) and steps[0].image.shape == (1, *SIZE, 3)
    flicker = warping_error([s.image for s in steps], frames)
    floor = warping_error(frames, frames)
    assert floor < 0.002 < flicker  # the input pans smoothly; the stand-in route's casts do not
    assert warping_error(steady, frames) < 0.6 * flicker  # measured 0.12x with the default weight 0.6
    assert (
        steps[0].info["reliable"] == 0.0
        and 0.5 < list(stylize_video(frames[:2], flickering_route()))[1].info["reliable"] <= 1.0
    )


def test_warping_error_needs_equal_streams():
    frames = pan_zoom_clip(textured(), 3, SIZE)
    with pytest.raises(ValueError):
        warping_error(frames[:2], frames)
    assert warping_error(frames[:1], frames[:1]) == 0.0


def not_videos(folder) -> list:
    """Files that are no video with a frame: text, zero bytes, sound only, a video stream of zero frames."""
    ffmpeg = [__import__("imageio_ffmpeg").get_ffmpeg_exe(), "-loglevel", "error"]
    (folder / "text.mp4").write_text("not a video\n")
    (folder / "empty.mp4").write_bytes(b"")
    subprocess.run([*ffmpeg, "-i", str(make_wav(folder / "a.wav")), str(folder / "sound.m4a")], check=True)
    lavfi = ["-f", "lavfi", "-i", "color=c=red:s=64x48:r=10", "-frames:v", "0", "-c:v", "mpeg4"]
    subprocess.run([*ffmpeg, *lavfi, str(folder / "zero.mkv")], check=True)
    return [folder / name for name in ("text.mp4", "empty.mp4", "sound.m4a", "zero.mkv")]


def test_probe_refuses_what_is_not_a_video(tmp_path):
    for path in not_videos(tmp_path):
        with pytest.raises(vio.ConfigError, match="not a video|no frames"):
            vio.probe(path)
    with pytest.raises(vio.ConfigError, match="no such file"):
        vio.probe(tmp_path / "missing.mp4")


def test_a_still_picture_is_no_clip_and_a_one_frame_clip_is(tmp_path):
    from PIL import Image

    picture = Image.fromarray((textured(48, 64)[0] * 255).astype(np.uint8))
    for name in ("still.png", "still.jpg", "still.mp4"):  # a still by its content, whatever its name
        picture.save(tmp_path / name, format="JPEG" if name.endswith(".jpg") else "PNG")
        with pytest.raises(vio.ConfigError, match=f"{name}: a still picture, not a clip"):
            vio.probe(tmp_path / name)
    picture.save(tmp_path / "moving.gif", save_all=True, append_images=[picture.rotate(180)], duration=100)
    assert not vio.still_picture(tmp_path / "moving.gif")  # an animated GIF is a clip (ffmpeg reads it)
    make_clip(tmp_path / "one.mp4", 1)
    ffmpeg = [__import__("imageio_ffmpeg").get_ffmpeg_exe(), "-loglevel", "error"]
    lavfi = ["-f", "lavfi", "-i", "testsrc=s=64x48:r=25", "-frames:v", "3", "-c:v", "mpeg1video", "-f", "mpeg1video"]
    subprocess.run([*ffmpeg, *lavfi, str(tmp_path / "stream.mpg")], check=True)  # Pillow opens it as one frame
    for name, frames in (("one.mp4", 1), ("stream.mpg", 3)):
        assert not vio.still_picture(tmp_path / name)
        info = vio.probe(tmp_path / name)
        assert (info.width, info.height, len(list(vio.read_frames(info.path)))) == (64, 48, frames)


def test_only_a_route_that_needs_the_start_gets_it():
    frames = pan_zoom_clip(textured(), 3, SIZE)

    class Recorder:
        def __init__(self, needs_start: bool) -> None:
            self.needs_start, self.starts, self.masks = needs_start, [], []

        def __call__(self, frame, start, *mask):  # a route that needs the start gets the reliable mask too
            self.starts.append(start)
            self.masks.extend(mask)
            return frame

    hungry, plain = Recorder(True), Recorder(False)
    list(stylize_video(frames, hungry)), list(stylize_video(frames, plain))
    assert hungry.starts[0] is None and all(s.shape == frames[0].shape for s in hungry.starts[1:])
    assert np.abs(hungry.starts[2] - frames[2]).mean() < 0.02  # the previous (identity) result, warped here
    assert plain.starts == [None, None, None] and plain.masks == []
    assert hungry.masks[0] is None and hungry.masks[1].shape == SIZE and 0.5 < hungry.masks[2].mean() <= 1.0
    assert list(stylize_video(frames, hungry, temporal=False))[1].info["flow_seconds"] == 0.0


def test_a_route_that_blends_nothing_after_keeps_its_own_frames():
    frames = pan_zoom_clip(textured(), 3, SIZE)
    route, made = flickering_route(), []

    def recorded(frame, start, mask):
        made.append(route(frame, start))
        return made[-1]

    recorded.needs_start, recorded.blend_after = True, False  # as the optimisation route: its cost instead
    assert all(np.array_equal(s.image, m) for s, m in zip(stylize_video(frames, recorded), made, strict=True))
