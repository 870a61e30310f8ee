"""Shared fixtures: tiny pictures, offline weights resolution, and the project's own images.

Every test runs offline (NST_TF_OFFLINE=1) with an empty Keras cache and no pretrained/ folder in sight,
so weight resolution behaves as on a fresh machine without network; precision "auto" resolves to float32
(NST_TF_PRECISION) unless a test says otherwise.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# "auto" precision resolves to float32 in every test, in this process and the CLI's subprocesses alike: the
# probe's choice differs by machine (bfloat16 with AMX) and must not change what a test sees, nor write a
# cache into the user's home. Tests of the probe and of bfloat16 unset or override it.
os.environ["NST_TF_PRECISION"] = "float32"
# Idle OpenMP workers of PyTorch spin by default; on a shared 2-core machine that starves the busy ones (10x
# slower steps under load). Read once, when torch loads: so here, before any test module imports torch.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

# A suite started as a background job of a non-interactive shell (`cmd &`) inherits SIGINT ignored, and so would
# every child (Python keeps an ignored SIGINT): the Ctrl-C tests' runs could not be interrupted, and Ctrl-C is what
# they test. A handler instead of SIG_IGN here: each child starts with the default, as a terminal's job would.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

ROOT = Path(__file__).resolve().parent.parent
IMAGES = ROOT / "images"


# pytest-timeout's default (pyproject.toml) is 300 s; a test marked slow gets this instead, unless it says
# its own @pytest.mark.timeout. The slowest (a train, resume and apply in child processes) took 240 s on 2
# loaded cores.
SLOW_TIMEOUT_S = 900


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.get_closest_marker("slow") and not item.get_closest_marker("timeout"):
            item.add_marker(pytest.mark.timeout(SLOW_TIMEOUT_S))


@pytest.fixture(autouse=True)
def offline_weights(tmp_path_factory, monkeypatch):
    """No downloads, an empty Keras cache, and a pretrained/ folder of the test's own."""
    home = tmp_path_factory.mktemp("keras_home")
    pretrained = tmp_path_factory.mktemp("pretrained")
    monkeypatch.setenv("NST_TF_OFFLINE", "1")
    monkeypatch.setenv("KERAS_HOME", str(home))
    monkeypatch.setenv("NST_TF_PRETRAINED", str(pretrained))
    return pretrained


def tiny_image(height: int = 32, width: int = 48, seed: int = 0) -> np.ndarray:
    """A smooth, colourful (1, H, W, 3) float32 picture in [0, 1]."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    phases = rng.uniform(0, 2 * np.pi, size=3)
    channels = [0.5 + 0.4 * np.sin(x / (3 + c) + y / (5 + c) + phases[c]) for c in range(3)]
    return np.stack(channels, axis=2)[np.newaxis].astype(np.float32)


@pytest.fixture
def content_image() -> np.ndarray:
    return tiny_image(32, 48, seed=1)


@pytest.fixture
def style_image() -> np.ndarray:
    return tiny_image(40, 40, seed=2)


@pytest.fixture(scope="session")
def shipped_universal():
    """`shipped_universal(method)`: the shipped decoders' float32 `Universal` model, loaded (decoders, VGG16, the
    graphs traced: ~8 s on 2 cores) by the first test that asks for that method and shared by the rest. Only
    for tests that use the model as it is loaded; one that replaces an attribute puts it back."""
    models = {}

    def get(method: str):
        if method not in models:
            from nst_tf.universal.settings import UniversalSettings
            from nst_tf.universal.stream import load_universal

            models[method] = load_universal(UniversalSettings(method=method, precision="float32"))
        return models[method]

    return get
