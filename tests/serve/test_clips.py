"""The page's video route over HTTP against the live app (issue 28's "video with a progress bar"): a tiny clip
through a shipped network gives an mp4 of the frames and size asked for, read back; a non-clip is one line and
leaves nothing; a cancelled clip stops between frames and leaves no result."""

from __future__ import annotations

import json

import httpx
import pytest
from conftest import IMAGES
from test_video import make_clip

from nst_tf.video import io as vio


@pytest.fixture
def client(live_app):
    base, _ = live_app
    with httpx.Client(base_url=base, timeout=120) as session:
        yield session


def events(client: httpx.Client, url: str) -> list[dict]:
    with client.stream("GET", url) as stream:
        return [json.loads(line[len("data: ") :]) for line in stream.iter_lines() if line.startswith("data: ")]


def still_serving(client: httpx.Client) -> None:
    assert client.get("/api/options").status_code == 200


def upload_clip(client: httpx.Client, path) -> dict:
    response = client.post("/api/clips", content=path.read_bytes())
    assert response.status_code == 201, response.text
    return response.json()


def test_a_clip_through_a_shipped_network_gives_an_mp4_of_the_frames_and_size_asked(client, live_app, tmp_path):
    make_clip(tmp_path / "in.mp4", 6, fps=10.0)  # 64x48, 6 frames
    clip = upload_clip(client, tmp_path / "in.mp4")
    assert (clip["width"], clip["height"], clip["frames"], clip["fps"], clip["audio"]) == (64, 48, 6, 10.0, False)
    request = {"route": "video", "via": "network", "model": "the_scream", "clip": {"upload": clip["id"]}}
    job = client.post("/api/jobs", json={**request, "size": 48, "frames": 4}).json()
    stream = events(client, job["events"])
    assert stream[-1] == {"type": "done"}
    frames = [e for e in stream if e["type"] == "frame"]
    assert [(e["done"], e["total"]) for e in frames] == [(0, 4), (1, 4), (2, 4), (3, 4), (4, 4)]  # 4 of the 6
    assert frames[-1]["fps"] > 0
    result = next(e for e in stream if e["type"] == "result")
    assert (result["kind"], result["frames"], result["width"], result["height"]) == ("video", 4, 48, 36)
    assert result["temporal"] is True  # on by default, as `video`'s
    response = client.get(result["url"])
    assert response.status_code == 200 and response.headers["content-type"] == "video/mp4"
    (tmp_path / "out.mp4").write_bytes(response.content)
    info = vio.probe(tmp_path / "out.mp4")
    read = list(vio.read_frames(info.path))
    assert (info.width, info.height, info.fps, len(read)) == (48, 36, 10.0, 4)  # read back: 48 px longest side
    download = client.get(result["url"] + "?download=1")
    assert download.headers["content-disposition"].endswith(f'filename="nst_tf-video-{job["id"][:8]}.mp4"')
    folder = live_app[1].state.workspace.root / "jobs" / job["id"]
    assert sorted(p.name for p in folder.iterdir()) == ["result.mp4"]  # no temporary file left beside it


@pytest.mark.parametrize(
    "content, message",
    [
        ((IMAGES / "chelsea.png").read_bytes(), "the upload: a still picture, not a clip"),
        (b"a text file, not a clip\n" * 40, "the upload: not a video ffmpeg can read"),
    ],
)
def test_a_non_clip_is_one_line_and_leaves_nothing(client, live_app, content, message):
    uploads = live_app[1].state.workspace.root / "uploads"
    before = set(uploads.iterdir())
    response = client.post("/api/clips", content=content)  # the page sends no name: a .mp4 name changes nothing
    assert response.status_code == 400
    error = response.json()["error"]
    assert error.startswith(message) and "\n" not in error
    assert str(live_app[1].state.workspace.root) not in response.text  # the server's paths stay its own
    assert set(uploads.iterdir()) == before
    still_serving(client)


def test_a_picture_upload_is_no_clip_and_a_clip_no_picture(client, tmp_path):
    make_clip(tmp_path / "in.mp4", 2)
    clip = upload_clip(client, tmp_path / "in.mp4")
    photo = client.post("/api/uploads", content=(IMAGES / "chelsea.png").read_bytes()).json()
    as_photo = {"route": "network", "model": "the_scream", "content": {"upload": clip["id"]}}
    as_clip = {"route": "video", "via": "network", "model": "the_scream", "clip": {"upload": photo["id"]}}
    for request in (as_photo, as_clip):
        response = client.post("/api/jobs", json=request)
        assert response.status_code == 400 and "no such upload" in response.json()["error"]


@pytest.mark.parametrize(
    "change, message",
    [
        ({"via": "optimise"}, "via must be one of network, painting"),
        ({"frames": 241}, "frames must be between 1 and 240"),
        ({"size": 1024}, "size must be between 32 and 512"),
        ({"temporal": "yes"}, "temporal must be true or false"),
        ({"via": "painting", "style": {"sample": "ihc.png"}, "method": "lut"}, "method must be one of"),
    ],
)
def test_bad_video_requests_are_one_line_400s(client, tmp_path, change, message):
    make_clip(tmp_path / "in.mp4", 2)
    clip = upload_clip(client, tmp_path / "in.mp4")
    request = {"route": "video", "via": "network", "model": "the_scream", "clip": {"upload": clip["id"]}}
    response = client.post("/api/jobs", json={**request, **change})
    assert response.status_code == 400 and message in response.json()["error"]


def test_a_cancelled_clip_stops_between_frames_and_leaves_no_result(client, live_app, tmp_path):
    make_clip(tmp_path / "long.mp4", 120, fps=24.0, pan=(1.0, 0.5))
    clip = upload_clip(client, tmp_path / "long.mp4")
    request = {"route": "video", "via": "network", "model": "the_scream", "clip": {"upload": clip["id"]}}
    job = client.post("/api/jobs", json={**request, "size": 64, "frames": 120}).json()
    with client.stream("GET", job["events"]) as stream:
        for line in stream.iter_lines():
            if line.startswith("data: ") and '"frame"' in line and '"done": 0' not in line:
                assert client.post(f"/api/jobs/{job['id']}/cancel").status_code == 200
                break
    final = events(client, job["events"])
    assert final[-1] == {"type": "cancelled"}
    done = [e["done"] for e in final if e["type"] == "frame"]
    assert 1 <= done[-1] < 120  # stopped long before the clip's end
    assert "result" not in [e["type"] for e in final]
    assert list((live_app[1].state.workspace.root / "jobs" / job["id"]).iterdir()) == []  # no partial clip
    assert client.get(f"/api/jobs/{job['id']}/result.mp4").status_code == 404
    still_serving(client)


def test_a_clip_through_a_painting_frame_by_frame_gives_its_frames(client, tmp_path):
    make_clip(tmp_path / "in.mp4", 3, fps=10.0)
    clip = upload_clip(client, tmp_path / "in.mp4")
    request = {"route": "video", "via": "painting", "style": {"sample": "ihc.png"}, "method": "adain", "alpha": 0.5}
    job = client.post("/api/jobs", json={**request, "clip": {"upload": clip["id"]}, "size": 32, "temporal": False})
    stream = events(client, job.json()["events"])
    assert stream[-1] == {"type": "done"}, stream[-1]
    result = next(e for e in stream if e["type"] == "result")
    assert (result["frames"], result["width"], result["height"], result["temporal"]) == (3, 32, 24, False)
    (tmp_path / "out.mp4").write_bytes(client.get(result["url"]).content)
    assert len(list(vio.read_frames(tmp_path / "out.mp4"))) == 3


def test_the_sample_clip_runs_without_an_upload_and_an_unknown_one_is_a_400(client, tmp_path):
    assert client.get("/api/options").json()["clips"] == ["bunny.mp4"]  # images/bunny.mp4, package data
    preview = client.get("/api/samples/bunny.mp4")
    assert preview.status_code == 200 and preview.content == (IMAGES / "bunny.mp4").read_bytes()
    request = {"route": "video", "via": "network", "model": "the_scream", "clip": {"sample": "bunny.mp4"}}
    job = client.post("/api/jobs", json={**request, "size": 32, "frames": 2})
    result = next(e for e in events(client, job.json()["events"]) if e["type"] == "result")
    assert (result["frames"], result["width"], result["height"]) == (2, 32, 18)  # 320x180 at 32 px, even sides
    (tmp_path / "out.mp4").write_bytes(client.get(result["url"]).content)
    info = vio.probe(tmp_path / "out.mp4")
    assert (len(list(vio.read_frames(info.path))), info.fps, info.audio_codec) == (2, 25.0, "aac")  # sound kept
    for name in ("chelsea.png", "../bunny.mp4", "nothing.mp4"):  # a picture sample is not a clip
        response = client.post("/api/jobs", json={**request, "clip": {"sample": name}})
        assert response.status_code == 400 and "no sample clip" in response.json()["error"]
    still_serving(client)
