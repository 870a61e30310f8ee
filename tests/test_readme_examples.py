"""Every ```python block of README.md runs as written from the repository's root (issue 22).

Each block runs in a fresh namespace, in a temporary folder that holds links to the repository's images/
and sounds/ and an empty output/ (the networks are package data), so the examples' relative paths work and
nothing is written into the checkout. A block that raises fails the test with the block's first line in the message.
"""

from __future__ import annotations

import os
import re

import pytest
from conftest import ROOT

BLOCKS = re.findall(r"^```python\n(.*?)^```", (ROOT / "README.md").read_text(encoding="utf-8"), re.M | re.S)


def test_the_readme_has_an_example_for_every_family():
    text = "\n".join(BLOCKS)
    for entry in ("stylize(", "stylize_photos(", "stylize_universal(", "train_network(", "stylize_sound("):
        assert entry in text, entry


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_block_runs(index, tmp_path, monkeypatch):
    for name in ("images", "sounds"):
        os.symlink(ROOT / name, tmp_path / name)
    (tmp_path / "output").mkdir()
    monkeypatch.chdir(tmp_path)
    code = compile(BLOCKS[index], f"README.md python block {index + 1}", "exec")
    exec(code, {"__name__": f"readme_block_{index + 1}"})
    if "save_image(" in BLOCKS[index] or "write_wav(" in BLOCKS[index]:  # what it says it writes is there
        assert any((tmp_path / "output").iterdir())
