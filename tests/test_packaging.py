"""Installed like a library: a wheel built from the repository, installed elsewhere (not editable), serves
the shipped networks, universal style transfer and the main command from another folder, reading its own
package data; and the version lives in one place (issue 22)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, tiny_image

from nst_tf.io.images import save_image

# What a wheel is built from: the project's metadata, the package, and the pictures nst_tf/samples links to.
SOURCES = ("pyproject.toml", "README.md", "nst_tf", "images")


def test_the_version_lives_in_nst_tf_only():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in project["project"]
    assert "version" in project["project"]["dynamic"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "nst_tf.__version__"}


def test_package_data_covers_every_shipped_file():
    """Every file under nst_tf/models/ and nst_tf/samples/ matches a package-data pattern (a new kind of
    file there would otherwise be missing from the wheel while the checkout still works)."""
    tomllib = pytest.importorskip("tomllib")
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["nst_tf"]
    package = ROOT / "nst_tf"
    shipped = {path for pattern in patterns for path in package.glob(pattern) if path.is_file()}
    present = {path for room in ("models", "samples") for path in (package / room).rglob("*") if path.is_file()}
    assert present and present - shipped == set()


def _build_and_install(tmp_path: Path) -> Path:
    """Build a wheel from a copy of the repository (the build writes build/ and *.egg-info beside its
    sources, which must not land in the checkout) and install it into tmp_path/site; returns that folder."""
    source = tmp_path / "source"
    source.mkdir()
    for name in SOURCES:
        if (ROOT / name).is_dir():
            ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
            shutil.copytree(ROOT / name, source / name, symlinks=True, ignore=ignore)
        else:
            shutil.copy2(ROOT / name, source / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input", "-q"]
    wheels = tmp_path / "wheels"
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", str(source), "-w", str(wheels)], check=True)
    (wheel,) = wheels.glob("nst_tf-*.whl")
    site = tmp_path / "site"
    subprocess.run([*pip, "install", "--no-deps", "--no-index", "--target", str(site), str(wheel)], check=True)
    return site


def _installed_env(site: Path) -> dict[str, str]:
    """The environment of a user of the installed wheel: the package from `site` only (the venv's
    site-packages, which the interpreter adds itself, give the dependencies), no override of its data."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NST_TF_") or k == "NST_TF_OFFLINE"}
    env.pop("PYTHONPATH", None)
    env.update(PYTHONPATH=str(site), NST_TF_OFFLINE="1", TF_CPP_MIN_LOG_LEVEL="2")
    return env


@pytest.mark.slow
def test_a_wheel_installed_elsewhere_serves_apply_universal_and_run(tmp_path):
    site = _build_and_install(tmp_path)
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = _installed_env(site)

    def nst(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "nst_tf", *args], cwd=work, env=env, capture_output=True, text=True, timeout=600
        )

    probe = subprocess.run(
        [sys.executable, "-c", "import nst_tf; from nst_tf.io import package_data as p; "
         "print(nst_tf.__file__); print(p.models_dir()); print(p.decoders_dir()); print(p.sample_picture('ihc.png'))"],
        cwd=work, env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    paths = [Path(line) for line in probe.stdout.splitlines()]
    for path in paths:
        assert path.resolve().is_relative_to(site.resolve()), path  # the installed copy, not the checkout
    assert (paths[1] / "starry_night" / "model.weights.h5").is_file()
    assert (paths[2] / "wct_relu3_1.weights.h5").is_file()
    assert paths[3].is_file() and not paths[3].is_symlink()  # the wheel holds the picture, not the link

    photo, style = work / "photo.png", work / "style.png"
    save_image(tiny_image(48, 64, seed=1), photo)
    save_image(tiny_image(48, 64, seed=2), style)
    for args, made in (
        (("apply", "starry_night", "photo.png", "-o", "out.png"), work / "out.png"),
        (("universal", "photo.png", "style.png", "-o", "u.png", "--image-size", "64"), work / "u.png"),
        (("run", "photo.png", "style.png", "--image-size", "32", "--iterations", "2", "--no-tb", "-q"), None),
    ):
        done = nst(*args)
        assert done.returncode == 0, (args, done.stderr[-2000:])
        assert "Traceback" not in done.stderr
        if made is not None:
            assert made.is_file() and made.stat().st_size > 0, args
    (run_folder,) = (work / "output").iterdir()
    assert (run_folder / "generated.png").is_file()
