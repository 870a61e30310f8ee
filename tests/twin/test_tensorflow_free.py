"""The PyTorch mirror (`nst_tf.twin`) stays TensorFlow-free: the comparison that needs both lives in nst_tf.parity."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import nst_tf.twin

ROOT = Path(__file__).resolve().parents[2]
TWIN_MODULES = sorted(f"nst_tf.twin.{m.name}" for m in pkgutil.iter_modules(nst_tf.twin.__path__))


def test_the_comparison_modules_are_outside_the_twin():
    assert not any("parity" in name for name in TWIN_MODULES)
    assert {"compare", "tf_side", "report"} <= {m.name for m in pkgutil.iter_modules([str(ROOT / "nst_tf" / "parity")])}


@pytest.mark.parametrize("module", TWIN_MODULES)
def test_importing_a_twin_module_imports_no_tensorflow(module):
    pytest.importorskip("torch")
    code = f"import sys, {module}; print(sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"
