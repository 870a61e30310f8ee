"""The training loop under MirroredStrategy with two logical CPU devices gives the one-device update.

Logical devices must be configured before TensorFlow initialises, so the check runs in a child process.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

CHILD = r"""
import sys, tempfile
import numpy as np
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import keras
from nst_tf.training.loop import TrainState, make_strategy, make_train_step, train_loop
from nst_tf.feedforward.networks import build_generator
from nst_tf.feedforward.loss import total_variation

def one_step(strategy, batch):
    keras.utils.set_random_seed(0)
    with strategy.scope():
        model = build_generator("johnson", width=0.125, build_size=16)
        state = TrainState(tempfile.mkdtemp(), model, keras.optimizers.SGD(learning_rate=10.0))
    # A loss that is a mean over pictures, so the replicas' mean equals the whole batch's.
    losses = lambda x: {"total": tf.reduce_mean(tf.square(model(x) - 0.25)) + total_variation(model(x))}
    step = make_train_step(strategy, state, losses)
    data = tf.data.Dataset.from_tensors(batch).repeat()
    records = list(train_loop(step, iter(strategy.experimental_distribute_dataset(data)), state, 1, 0))
    return records, [np.asarray(v) for v in model.trainable_variables]

batch = np.random.default_rng(0).random((4, 16, 16, 3), dtype=np.float32)
two = make_strategy()
assert two.num_replicas_in_sync == 2, two.num_replicas_in_sync
rec2, w2 = one_step(two, batch)
rec1, w1 = one_step(tf.distribute.get_strategy(), batch)
assert rec2[0].iteration == rec1[0].iteration == 0
np.testing.assert_allclose(rec2[0].costs["total"], rec1[0].costs["total"], rtol=1e-5)
for a, b in zip(w1, w2):
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
print("ok")
"""


def test_mirrored_two_cpus_matches_one_device():
    env = dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="3")
    done = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, env=env, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.startswith("ok")
