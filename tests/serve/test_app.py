"""The web app's limits and refusals over plain HTTP against a live server (issue 28): a too-large upload,
a path from the client, a non-picture, an unknown job; each refused with one JSON line while the server
goes on serving, and nothing outside the app's folder read or written."""

from __future__ import annotations

import json

import httpx
import pytest
from conftest import IMAGES, ROOT

MB = 1024 * 1024


@pytest.fixture
def client(live_app):
    base, _ = live_app
    with httpx.Client(base_url=base, timeout=120) as session:
        yield session


def still_serving(client: httpx.Client) -> None:
    response = client.get("/api/options")
    assert response.status_code == 200
    assert "starry_night" in [net["name"] for net in response.json()["networks"]]


def events(client: httpx.Client, url: str) -> list[dict]:
    with client.stream("GET", url) as stream:
        return [json.loads(line[len("data: ") :]) for line in stream.iter_lines() if line.startswith("data: ")]


def test_the_page_and_its_files_come_from_the_app(client):
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    for name in ("app.js", "style.css"):
        assert f"/page/{name}" in page.text
        assert client.get(f"/page/{name}").status_code == 200
    # offline: nothing on the page or in its script points at another host
    script = client.get("/page/app.js").text
    assert "http://" not in page.text + script and "https://" not in page.text + script


@pytest.mark.parametrize("url", ["/api/uploads", "/api/clips"])  # a picture, a clip
def test_an_80_mb_upload_is_refused_before_it_is_read_and_the_server_keeps_serving(client, live_app, url):
    junk = b"\0" * (80 * MB)
    try:
        response = client.post(url, content=junk)
    except httpx.TransportError:  # the server may close before the whole body is sent: then ask the status
        pytest.fail("the server closed the connection without answering 413")
    assert response.status_code == 413
    assert "limit is 52 MB" in response.json()["error"]
    assert list((live_app[1].state.workspace.root / "uploads").iterdir()) == []  # nothing kept
    still_serving(client)


def test_a_streamed_upload_without_a_length_stops_at_the_limit(client, live_app):
    def chunks():  # no Content-Length: the server counts as the bytes arrive
        for _ in range(60):
            yield b"\0" * MB

    response = client.post("/api/uploads", content=chunks())
    assert response.status_code == 413
    assert "over the limit" in response.json()["error"]
    assert list((live_app[1].state.workspace.root / "uploads").iterdir()) == []
    still_serving(client)


@pytest.mark.parametrize(
    "url",
    [
        "/api/samples/..%2F..%2Fetc%2Fpasswd",
        "/api/samples/../../etc/passwd",
        "/page/..%2F..%2F..%2Fetc%2Fpasswd",
        "/api/jobs/..%2F..%2Fetc%2Fpasswd/result.png",
        "/api/networks/..%2F..%2Fetc/thumb.png",
    ],
)
def test_a_path_from_the_client_is_refused(client, url):
    response = client.get(url)
    assert response.status_code == 404
    assert "root:" not in response.text
    assert set(response.json()) == {"error"}
    still_serving(client)


def test_a_path_in_a_job_request_is_refused(client):
    for content in ({"upload": "../../etc/passwd"}, {"sample": "../../etc/passwd"}, "/etc/passwd"):
        request = {"route": "network", "model": "starry_night", "content": content}
        response = client.post("/api/jobs", json=request)
        assert response.status_code == 400, content
        assert "\n" not in response.json()["error"] and "Traceback" not in response.text
    still_serving(client)


def test_a_non_picture_is_refused_by_its_content_whatever_its_name(client, live_app):
    response = client.post("/api/uploads", content=b"<?php echo 1; ?>" * 100, headers={"X-Filename": "cat.png"})
    assert response.status_code == 400
    assert response.json()["error"].startswith("the upload: not a picture")
    assert str(live_app[1].state.workspace.root) not in response.text  # the server's paths stay its own
    assert list((live_app[1].state.workspace.root / "uploads").iterdir()) == []


def test_unknown_job_ids_are_404(client):
    for url in ("/api/jobs/" + "0" * 32, "/api/jobs/nonsense/events", "/api/jobs/" + "a" * 32 + "/result.png"):
        response = client.get(url)
        assert response.status_code == 404, url
        assert response.json() == {"error": "no such job"}
    assert client.post("/api/jobs/" + "f" * 32 + "/cancel").status_code == 404


@pytest.mark.parametrize(
    "request_body, message",
    [
        ({"route": "run"}, "route must be one of"),
        ({"route": "network", "content": {"sample": "chelsea.png"}, "model": "monalisa"}, "model must be one of"),
        ({"route": "painting", "content": {"sample": "chelsea.png"}, "style": {"sample": "ihc.png"}}, "method"),
        ({"route": "optimise", "content": {"sample": "chelsea.png"}, "style": {"sample": "ihc.png"}, "size": 10**6},
         "size must be between 32 and 1024"),
        ({"route": "network", "content": {"sample": "chelsea.png"}, "model": "the_scream", "size": float("nan")},
         "size must be a number, not nan"),
        ({"route": "network", "content": {"sample": "chelsea.png"}, "model": "the_scream", "size": 64.5},
         "size must be a whole number"),
    ],
)  # fmt: skip
def test_bad_job_requests_are_one_line_400s(client, request_body, message):
    body = json.dumps(request_body)  # NaN as Python's json writes it (a page could send it as text)
    response = client.post("/api/jobs", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert message in response.json()["error"]


def test_an_upload_then_a_shipped_network_makes_a_result_served_by_job_id(client, live_app):
    upload = client.post("/api/uploads", content=(IMAGES / "chelsea.png").read_bytes())
    assert upload.status_code == 201 and upload.json()["width"] == 451
    request = {"route": "network", "model": "the_scream", "content": {"upload": upload.json()["id"]}, "size": 64}
    job = client.post("/api/jobs", json=request).json()
    stream = events(client, job["events"])
    assert [e["type"] for e in stream][0] == "started" and stream[-1] == {"type": "done"}
    result = next(e for e in stream if e["type"] == "result")
    assert (result["width"], result["height"]) == (64, 43)  # chelsea is 451x300: 64 px on the longer side
    picture = client.get(result["url"])
    assert picture.status_code == 200 and picture.content[:8] == b"\x89PNG\r\n\x1a\n"
    download = client.get(result["url"] + "?download=1")
    assert download.headers["content-disposition"].startswith("attachment;")
    assert client.get(f"/api/jobs/{job['id']}/config.json").status_code == 404  # only the two fixed names
    assert (IMAGES / "chelsea.png").stat().st_size == len(client.get("/api/samples/chelsea.png").content)


def test_a_cancelled_optimisation_stops_between_steps(client):
    request = {"route": "optimise", "content": {"sample": "chelsea.png"}, "style": {"sample": "ihc.png"}}
    job = client.post("/api/jobs", json={**request, "size": 48, "iterations": 1000}).json()
    with client.stream("GET", job["events"]) as stream:
        for line in stream.iter_lines():
            if line.startswith("data: ") and json.loads(line[6:])["type"] == "step":
                assert client.post(f"/api/jobs/{job['id']}/cancel").status_code == 200
                break
    final = events(client, job["events"])
    assert final[-1] == {"type": "cancelled"}
    steps = [e for e in final if e["type"] == "step"]
    assert 1 <= len(steps) < 1000  # stopped long before the 1000 steps asked for
    assert "result" not in [e["type"] for e in final]
    still_serving(client)


def test_a_server_error_is_one_json_line_and_the_server_keeps_serving(client, monkeypatch):
    from nst_tf.serve import routes

    def broken(*args):
        raise RuntimeError("a bug\nwith a second line")

    monkeypatch.setattr(routes, "plan_job", broken)
    response = client.post("/api/jobs", json={"route": "network"})
    assert response.status_code == 500
    assert response.json() == {"error": "internal error: RuntimeError"}  # no traceback, no message from inside
    monkeypatch.undo()
    still_serving(client)


def test_the_page_files_ship_in_the_wheel():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+, as tests/test_packaging.py
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["nst_tf"]
    page = ROOT / "nst_tf" / "serve" / "page"
    shipped = {path for pattern in patterns for path in (ROOT / "nst_tf").glob(pattern)}
    assert {"index.html", "app.js", "style.css"} <= {path.name for path in page.iterdir()}
    assert set(page.iterdir()) <= shipped
