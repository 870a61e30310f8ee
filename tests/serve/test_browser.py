"""The page in a real browser (issue 28): headless Chromium (Debian's, /usr/bin/chromium) driven by
Playwright's Python package against the live app; marked `browser`. Playwright's own browser downloads are
never used (`executable_path`); .ci/run installs chromium, so CI runs these."""

from __future__ import annotations

import pytest
from conftest import IMAGES
from test_video import make_clip

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
# quiet and offline: no sandbox (CI runs as root), no GPU, no background fetches, updates or sync
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]  # fmt: skip
TIMEOUT_MS = 240_000  # a first job loads TensorFlow's graphs: seconds alone, a minute or more on 2 busy cores


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, live_app):
    base, _ = live_app
    context = browser.new_context(viewport={"width": 1200, "height": 760})
    tab = context.new_page()
    outside = []
    tab.on("request", lambda request: outside.append(request.url) if not request.url.startswith(base) else None)
    tab.goto(base + "/")
    tab.wait_for_selector("#networks input", state="attached")
    yield tab
    context.close()
    assert [url for url in outside if not url.startswith(("blob:", "data:"))] == []  # offline: nothing else


def test_upload_a_photo_pick_a_shipped_network_and_see_the_result(page):
    page.set_input_files("#photo-file", str(IMAGES / "chelsea.png"))
    page.wait_for_function("document.getElementById('status').textContent.includes('451x300')")
    page.check("#network-the_scream", force=True)  # the radio hides behind its thumbnail
    page.fill("#size", "96")
    page.click("#run")
    page.wait_for_function("document.getElementById('download').hidden === false", timeout=TIMEOUT_MS)
    page.wait_for_function("document.getElementById('result').complete")  # the browser has decoded it
    size = page.evaluate(
        "[document.getElementById('result').naturalWidth, document.getElementById('result').naturalHeight]"
    )
    assert size == [96, 64]  # 451x300 at 96 px on its longer side, decoded by the browser
    assert page.get_attribute("#download", "href").endswith("result.png?download=1")
    assert page.is_hidden("#error")
    page.wait_for_function("document.getElementById('run').disabled === false")


def test_any_painting_in_one_pass_with_a_strength_gives_a_result_and_a_score(page):
    page.select_option("#photo-sample", "coffee.png")
    page.check("input[name=route][value=painting]")
    assert page.is_hidden("#networks") and page.is_visible("#alpha")
    page.set_input_files("#style-file", str(IMAGES / "ihc.png"))
    page.wait_for_function("document.getElementById('status').textContent.includes('512x512')")
    page.select_option("#method", "adain")
    page.fill("#alpha", "0.5")  # a range input: fill sets its value and fires input
    assert page.text_content("#alpha-value") == "0.5"
    page.fill("#size", "64")
    page.click("#run")
    page.wait_for_function("document.getElementById('score').textContent.startsWith('score:')", timeout=TIMEOUT_MS)
    page.wait_for_function("document.getElementById('result').complete")
    assert (
        page.evaluate("document.getElementById('result').naturalWidth") == 64
    )  # coffee.png is 600x400: 64 px on its longer side
    assert page.is_hidden("#error")


def choose_optimisation(page, iterations: int, size: int) -> None:
    """The form set for the optimisation route: chelsea in ihc's style, `iterations` steps at `size` px."""
    page.select_option("#photo-sample", "chelsea.png")
    page.check("input[name=route][value=optimise]")
    page.select_option("#style-sample", "ihc.png")
    page.fill("#iterations", str(iterations))
    page.fill("#size", str(size))


def watch_counter(page, element_id: str) -> list[int]:
    """Every value the page writes into the counter `element_id`, in order (a MutationObserver reporting back)."""
    seen: list[int] = []
    page.expose_function("reportCounter", lambda text: seen.append(int(text)))
    page.evaluate(
        f"new MutationObserver(() => window.reportCounter(document.getElementById('{element_id}').textContent))"
        f".observe(document.getElementById('{element_id}'), {{childList: true}})"
    )
    return seen


def test_an_optimisation_updates_its_progress_on_the_page(page):
    choose_optimisation(page, iterations=12, size=64)
    seen = watch_counter(page, "iteration")
    page.click("#run")
    page.wait_for_function("document.getElementById('score').textContent.startsWith('score:')", timeout=TIMEOUT_MS)
    assert seen[-1] == 12 and len(set(seen)) > 1  # the counter moved step by step, up to the last
    points = page.get_attribute("#curve-line", "points").split()
    assert len(points) == 12  # one point of the cost curve per step
    page.wait_for_function("document.getElementById('snapshot').complete")
    assert page.evaluate("document.getElementById('snapshot').naturalWidth") == 64
    assert "content distance" in page.text_content("#score")


def test_a_non_picture_upload_is_one_line_on_the_page(page, tmp_path):
    fake = tmp_path / "holiday.jpg"
    fake.write_text("not a picture at all\n" * 50)
    page.set_input_files("#photo-file", str(fake))
    page.wait_for_selector("#error:not([hidden])")
    assert (
        page.text_content("#error") == "the upload: not a picture (PNG, JPEG, WEBP, BMP, GIF, TIFF, PPM, AVIF are read)"
    )


def test_cancel_stops_a_running_optimisation(page):
    choose_optimisation(page, iterations=1000, size=48)
    page.click("#run")
    page.wait_for_function("Number(document.getElementById('iteration').textContent) >= 2", timeout=TIMEOUT_MS)
    page.click("#cancel")
    page.wait_for_function("document.getElementById('status').textContent === 'cancelled'", timeout=60_000)
    assert int(page.text_content("#iteration")) < 1000
    assert page.is_enabled("#run") and page.is_disabled("#cancel") and page.is_hidden("#result")


def test_a_clip_through_a_network_moves_the_progress_bar_and_ends_in_a_video_element(page, tmp_path):
    page.select_option("#clip-sample", "bunny.mp4")  # the package's sample clip: a clip without an upload
    assert page.is_disabled("input[name=route][value=optimise]") and page.is_visible("#frames")
    page.wait_for_function("document.getElementById('clip-preview').readyState >= 1")  # the browser reads it
    make_clip(tmp_path / "clip.mp4", 10, fps=10.0)  # 64x48, 10 frames
    page.set_input_files("#clip-file", str(tmp_path / "clip.mp4"))
    page.wait_for_function("document.getElementById('status').textContent.includes('64x48, 10 frames at 10 fps')")
    assert page.input_value("#clip-sample") == ""  # the upload replaced the sample
    assert page.is_disabled("input[name=route][value=optimise]") and page.is_visible("#frames")
    assert page.is_checked("#temporal")  # temporal consistency on by default, as `video`'s
    page.check("#network-the_scream", force=True)
    page.fill("#size", "64")
    page.fill("#frames", "8")
    seen = watch_counter(page, "frames-done")
    page.click("#run")
    page.wait_for_function("document.getElementById('result-video').hasAttribute('src')", timeout=TIMEOUT_MS)
    assert seen[-1] == 8 and len(set(seen)) > 2  # the bar moved frame by frame, up to the last
    assert page.evaluate("(bar => [bar.value, bar.max])(document.getElementById('frames-bar'))") == [8, 8]
    page.wait_for_function("document.getElementById('result-video').readyState >= 1")  # the browser read the clip
    size = page.evaluate("(video => [video.videoWidth, video.videoHeight])(document.getElementById('result-video'))")
    assert size == [64, 48]
    assert page.get_attribute("#download", "href").endswith("result.mp4?download=1")
    assert page.is_hidden("#result") and page.is_hidden("#error")
    page.wait_for_function("document.getElementById('run').disabled === false")
