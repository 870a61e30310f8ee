"""The library entries of the one-pass families yield `nst_tf.records.Step`s (issue 22): photos through a
network as a stream, in order, each Step naming its source; the same pictures the network gives directly."""

from __future__ import annotations

import numpy as np
import pytest

from nst_tf.errors import ConfigError
from nst_tf.feedforward.settings import ApplySettings
from nst_tf.records import Step


@pytest.fixture(scope="module")
def network():
    import keras

    from nst_tf.feedforward.networks import build_generator

    keras.utils.set_random_seed(0)
    return build_generator("johnson", width=0.125, build_size=16)


def _photos():
    rng = np.random.default_rng(0)
    sizes = [(32, 40), (24, 32), (32, 40)]  # two of one size: batched together
    return [rng.random((1, h, w, 3), dtype=np.float32) for h, w in sizes]


def test_stylize_photos_streams_one_step_per_photo_in_order(network):
    from nst_tf.feedforward.apply import Stylizer, stylize_photos

    photos = _photos()
    steps = list(stylize_photos(network, iter(photos), ApplySettings(batch=2)))  # an iterator: read 2 at a time
    assert all(isinstance(s, Step) for s in steps) and [s.iteration for s in steps] == [0, 1, 2]
    assert [s.image.shape for s in steps] == [p.shape for p in photos]
    assert all(s.info["source"] is None and s.info["seconds"] > 0 for s in steps)
    direct = Stylizer(network)
    for step, photo in zip(steps, photos, strict=True):
        # same forward pass on the same float32 input; batching only regroups pictures (instance norm is
        # per picture), so the difference is float32 round-off of one conv stack, well under 1e-5
        np.testing.assert_allclose(step.image, direct(photo), atol=1e-5)


def test_stylize_photos_names_the_source_file_and_sizes_it(network, tmp_path):
    from nst_tf.feedforward.apply import stylize_photos
    from nst_tf.io.images import save_image

    path = save_image(_photos()[0], tmp_path / "photo.png")
    (step,) = stylize_photos(network, [path], ApplySettings(image_size=20))
    assert step.info["source"] == str(path) and step.image.shape == (1, 16, 20, 3)


def test_stylize_photos_refuses_a_photo_too_small_before_any_picture(network):
    from nst_tf.feedforward.apply import Stylizer, stylize_photos

    stylizer = Stylizer(network)
    if stylizer.min_size <= 2:
        pytest.skip("this network takes any size")
    tiny = np.zeros((1, 2, 2, 3), np.float32)
    with pytest.raises(ConfigError, match="smaller than"):
        list(stylize_photos(stylizer, [_photos()[0], tiny]))


def test_run_to_folder_writes_a_run_folder_and_continue_run_goes_on(tmp_path):
    import csv
    import json

    from conftest import tiny_image

    from nst_tf.config import Config
    from nst_tf.io.images import save_image
    from nst_tf.optim.to_folder import continue_run, run_to_folder

    content = save_image(tiny_image(32, 48, seed=1), tmp_path / "content.png")
    style = save_image(tiny_image(32, 48, seed=2), tmp_path / "style.png")
    config = Config(iterations=2, image_size=32, weights="random", seed=0, snapshot_every=1, optimizer="adam")
    folder = run_to_folder([str(content), str(style)], config, tmp_path / "runs", "r", tensorboard=False)
    assert folder == tmp_path / "runs" / "r" and (folder / "generated.png").is_file()
    assert json.loads((folder / "config.json").read_text())["status"] == "complete"
    assert continue_run(folder, 4, tensorboard=False) == folder
    with open(folder / "metrics.csv") as handle:
        assert [int(row["iteration"]) for row in csv.DictReader(handle)] == [0, 1, 2, 3]
    with pytest.raises(ConfigError):  # a taken name without overwrite: refused, nothing replaced
        run_to_folder([str(content), str(style)], config, tmp_path / "runs", "r")


def test_library_modules_never_import_the_command_line():
    import ast
    from pathlib import Path

    package = Path(__file__).resolve().parent.parent / "nst_tf"
    offenders = []
    for path in package.rglob("*.py"):
        if "cli" in path.relative_to(package).parts[:1] or path.name == "__main__.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n == "nst_tf.cli" or n.startswith("nst_tf.cli.")]
    assert offenders == []
