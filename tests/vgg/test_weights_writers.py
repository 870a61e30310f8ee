"""Weight files written by their real writers load, and give exactly Keras's own features.

Each file is made inside the test by the program people actually use: Keras 3's `save_weights(
"x.weights.h5")`, Keras's legacy `model.save("x.h5")`, `torch.save` of a torch `state_dict` laid out like
torchvision's VGG (`features.N.weight`), and `scipy.io.savemat` of MatConvNet's SimpleNN layout. The
weights are those of a `keras.applications` VGG16/VGG19 built with `weights=None` (random biases added, so
a bias mix-up shows), and the reference is that Keras model's own layer outputs on the same picture,
preprocessed by Keras's `preprocess_input`. Our extractor must match them to 1e-5 relative.
"""

from __future__ import annotations

import importlib.util

import keras
import numpy as np
import pytest
import scipy.io
from conftest import tiny_image

from nst_tf.cli.main import main
from nst_tf.vgg import weights as W
from nst_tf.vgg.extractor import FeatureExtractor

HAVE_TORCH = importlib.util.find_spec("torch") is not None
APPLICATIONS = {"vgg16": keras.applications.vgg16, "vgg19": keras.applications.vgg19}
CLASSES = {"vgg16": keras.applications.VGG16, "vgg19": keras.applications.VGG19}
SIZE = 32


class Reference:
    """A keras.applications VGG with random weights, and its own feature maps of one picture."""

    def __init__(self, architecture: str) -> None:
        self.architecture = architecture
        self.names = W.conv_layer_names(architecture)
        self.model = CLASSES[architecture](weights=None, include_top=False, input_shape=(SIZE, SIZE, 3))
        rng = np.random.default_rng(len(self.names))
        for name in self.names:  # Keras starts biases at zero; random ones make a bias mix-up visible
            bias = self.model.get_layer(name).bias
            bias.assign(rng.normal(0.0, 0.1, size=bias.shape).astype(np.float32))
        self.picture = tiny_image(SIZE, SIZE, seed=4)  # (1, 32, 32, 3) RGB in [0, 1]
        outputs = [self.model.get_layer(name).output for name in self.names]
        probe = keras.Model(self.model.input, outputs)
        preprocessed = APPLICATIONS[architecture].preprocess_input(self.picture * 255.0)  # a new array
        self.features = dict(zip(self.names, (np.asarray(f) for f in probe(preprocessed)), strict=True))

    def layers(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """{keras name: (HWIO kernel, bias)} as numpy, as Keras holds them (for BGR input)."""
        return {n: tuple(np.asarray(v) for v in self.model.get_layer(n).get_weights()) for n in self.names}

    def check(self, loaded: W.VGGWeights) -> None:
        """Our extractor on `loaded` gives Keras's feature maps (max pooling, valid padding, as Keras)."""
        assert loaded.architecture == self.architecture
        extractor = FeatureExtractor(loaded, self.names, pooling="max", pool_padding="valid")
        ours = extractor(self.picture)
        for name in self.names:
            want, got = self.features[name], ours[name].numpy()
            assert want.shape == got.shape and np.abs(want).max() > 0.1, name
            assert np.abs(want - got).max() / np.abs(want).max() < 1e-5, name


@pytest.fixture(scope="module", params=["vgg16", "vgg19"])
def reference(request) -> Reference:
    return Reference(request.param)


def test_keras3_save_weights(reference, tmp_path):
    path = tmp_path / f"{reference.architecture}.weights.h5"
    reference.model.save_weights(path)
    loaded = W.load_weights_file(path, require=reference.architecture)
    assert loaded.format == "keras3-weights-h5" and loaded.preprocessing == W.CAFFE
    reference.check(loaded)


def test_keras_legacy_model_save(reference, tmp_path):
    path = tmp_path / f"{reference.architecture}.h5"
    reference.model.save(path)  # Keras 3 writes its legacy HDF5 format for a .h5 name
    loaded = W.load_weights_file(path)
    assert loaded.format == "keras-h5" and loaded.preprocessing == W.CAFFE
    reference.check(loaded)


@pytest.mark.skipif(not HAVE_TORCH, reason="torch is not installed")
def test_torch_save_of_a_torchvision_style_state_dict(reference, tmp_path):
    import torch

    modules, channels = [], 3
    for count, width in zip(W.VGG_BLOCKS[reference.architecture], W.BLOCK_CHANNELS, strict=True):
        for _ in range(count):
            modules += [torch.nn.Conv2d(channels, width, 3, padding=1), torch.nn.ReLU(inplace=True)]
            channels = width
        modules.append(torch.nn.MaxPool2d(2, 2))
    features = torch.nn.Sequential(*modules)  # torchvision's vgg.features, conv at the same indices
    convs = [m for m in features if isinstance(m, torch.nn.Conv2d)]
    with torch.no_grad():
        for conv, (kernel, bias) in zip(convs, reference.layers().values(), strict=True):
            conv.weight.copy_(torch.from_numpy(kernel.transpose(3, 2, 0, 1)))  # HWIO -> OIHW
            conv.bias.copy_(torch.from_numpy(bias))
    path = tmp_path / f"{reference.architecture}_caffe.pth"  # Keras's weights: a Caffe-input port
    torch.save({f"features.{k}": v for k, v in features.state_dict().items()}, path)
    loaded = W.load_weights_file(path)
    assert loaded.format == "torch-pth" and loaded.preprocessing == W.CAFFE
    reference.check(loaded)


def test_scipy_savemat_of_matconvnet(reference, tmp_path):
    entries = []
    for i, (name, (kernel, bias)) in enumerate(reference.layers().items()):
        if i == 0:  # MatConvNet's nets take RGB: conv1_1's input channels in the other order than Keras's
            kernel = np.ascontiguousarray(kernel[:, :, ::-1, :])
        weights = np.empty((1, 2), dtype=object)
        weights[0, 0], weights[0, 1] = kernel, bias.reshape(-1, 1)
        block, conv = name.removeprefix("block").split("_conv")
        entries.append({"name": f"conv{block}_{conv}", "type": "conv", "weights": weights, "pad": np.ones((1, 4))})
        entries.append({"name": f"relu{block}_{conv}", "type": "relu"})
    cells = np.empty((1, len(entries)), dtype=object)
    cells[0, :] = entries
    path = tmp_path / f"imagenet-{reference.architecture}.mat"
    scipy.io.savemat(path, {"layers": cells, "meta": {"normalization": {"averageImage": [[W.MATCONVNET.mean]]}}})
    loaded = W.load_weights_file(path)
    assert loaded.format == "matconvnet-mat" and loaded.preprocessing == W.MATCONVNET
    reference.check(loaded)


def test_a_users_own_sequential_vgg16_loads_by_model_order(tmp_path):
    """Layers named conv2d, conv2d_1 ... (no VGG names anywhere) are taken in model order."""
    stack = [keras.Input((SIZE, SIZE, 3))]
    for count, width in zip(W.VGG_BLOCKS["vgg16"], W.BLOCK_CHANNELS, strict=True):
        stack += [keras.layers.Conv2D(width, 3, padding="same", activation="relu") for _ in range(count)]
        stack.append(keras.layers.MaxPooling2D())
    model = keras.Sequential(stack)
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert not any(layer.name.startswith("block") for layer in convs)
    model.save_weights(tmp_path / "mine.weights.h5")
    model.save(tmp_path / "mine.h5")
    for path in (tmp_path / "mine.weights.h5", tmp_path / "mine.h5"):
        loaded = W.load_weights_file(path, require="vgg16")
        for name, layer in zip(W.conv_layer_names("vgg16"), convs, strict=True):
            np.testing.assert_array_equal(loaded.layers[name][0], np.asarray(layer.kernel))


def test_a_keras3_file_verifies_on_the_command_line(capsys, tmp_path):

    model = keras.applications.VGG19(weights=None, include_top=False, input_shape=(SIZE, SIZE, 3))
    model.save_weights(tmp_path / "vgg19.weights.h5")
    assert main(["weights", "verify", str(tmp_path / "vgg19.weights.h5"), "--require", "vgg19"]) == 0
    out = capsys.readouterr().out
    assert "format: keras3-weights-h5" in out and "VGG19, 16 conv layers, 20,024,384 parameters" in out
