"""Where a result came from (nst_tf.io.provenance): the library versions and the machine, recorded without
importing TensorFlow."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys

import nst_tf
from nst_tf.io import provenance


def test_versions_name_nst_tf_python_and_the_installed_libraries():
    versions = provenance.library_versions()
    assert versions["nst_tf"] == nst_tf.__version__
    assert versions["python"] == platform.python_version()
    assert {"tensorflow", "keras", "numpy"} <= set(versions)


def test_the_machine_is_read_not_described_and_asking_imports_no_tensorflow():
    code = (
        "import json, sys; from nst_tf.io import provenance; "
        "print(json.dumps([provenance.machine(), 'tensorflow' in sys.modules]))"
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    found, tensorflow_loaded = json.loads(done.stdout)
    assert not tensorflow_loaded
    assert set(found) == {"platform", "processor", "cpus"}  # "gpus" only once TensorFlow is imported
    assert found["cpus"] == (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count())
    assert found["processor"] == provenance.cpu_model() and found["processor"].strip()


def test_with_tensorflow_imported_the_machine_counts_its_gpus():
    import tensorflow as tf

    assert provenance.machine()["gpus"] == len(tf.config.list_physical_devices("GPU"))
