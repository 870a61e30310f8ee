"""A generic training loop for the one-pass networks, under a `tf.distribute` strategy, resumable.

The one training loop: the per-style and texture networks (`nst_tf.feedforward.trainer`) and the universal
decoders (`nst_tf.universal.train`) all train through it. Three pieces:

- `TrainState`: the model, its optimizer and a step counter in one `tf.train.Checkpoint`, saved and restored
  through a `tf.train.CheckpointManager` (so a run resumes where its last checkpoint left it).
- `make_train_step(strategy, model, optimizer, compute_losses)`: one compiled step. Each replica computes
  `compute_losses(batch) -> {"total": …, …}` on its share of the global batch, takes the gradient of
  total / replicas (Keras 3's optimizer sums the replicas' gradients), applies it and bumps the step counter;
  the losses come back averaged over replicas.
- `train_loop(...)`: a generator of `nst_tf.records.Step`s, one per step (`iteration` the step count after
  it minus one, `costs` the losses, `seconds` the step's own wall time); it checkpoints every N steps and at the end,
  and stops cleanly between steps when `should_stop()` turns true (Ctrl-C/SIGTERM handlers set it).

Strategies: `make_strategy()` gives `tf.distribute.MirroredStrategy` over the devices TensorFlow sees (all
GPUs, else the logical CPUs). On several machines the same code runs under
`tf.distribute.MultiWorkerMirroredStrategy` with `TF_CONFIG` set on each worker (see `make_strategy`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator

import keras
import tensorflow as tf

from nst_tf.records import Step

log = logging.getLogger(__name__)


def make_strategy(kind: str = "mirrored") -> tf.distribute.Strategy:
    """The distribution strategy for training.

    Args:
        kind: "mirrored": MirroredStrategy over every GPU, else every logical CPU device (one by default; a
            test splits the CPU in two with `tf.config.set_logical_device_configuration`). "multi-worker":
            MultiWorkerMirroredStrategy; each machine runs the same command with `TF_CONFIG` set, e.g.
            `TF_CONFIG='{"cluster": {"worker": ["host1:12345", "host2:12345"]}, "task": {"type": "worker",
            "index": 0}}'` on host1 and index 1 on host2; checkpoints should go to a shared folder.
            "default": no distribution (the default strategy).
    """
    if kind == "default":
        return tf.distribute.get_strategy()
    if kind == "multi-worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    gpus = tf.config.list_logical_devices("GPU")
    devices = [d.name for d in (gpus or tf.config.list_logical_devices("CPU"))]
    # NCCL (the GPU default) is absent on CPU-only machines; reducing on one device works everywhere.
    return tf.distribute.MirroredStrategy(devices, cross_device_ops=tf.distribute.ReductionToOneDevice())


class TrainState:
    """Model, optimizer and step counter, checkpointed together in `directory`.

    Create it (and the model and optimizer) inside `strategy.scope()`.
    """

    def __init__(
        self,
        directory: str,
        model: keras.Model,
        optimizer: keras.optimizers.Optimizer,
        keep: int = 2,
        name: str = "model",
    ):
        # `name`: the model's key in the checkpoint ("decoder" for the universal decoders, whose checkpoints
        # have always used it, so that older checkpoint folders still resume).
        self.model = model
        self.optimizer = optimizer
        self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
        self.checkpoint = tf.train.Checkpoint(optimizer=optimizer, step=self.step, **{name: model})
        self.manager = tf.train.CheckpointManager(self.checkpoint, directory, max_to_keep=keep)

    def restore(self) -> int:
        """Load the latest checkpoint, if any; returns the step count it had (0 when none)."""
        latest = self.manager.latest_checkpoint
        if latest:
            # Keras 3 makes Adam's slots on first use; made now, they are restored now, not deferred (and lost).
            self.optimizer.build(self.model.trainable_variables)
            self.checkpoint.restore(latest).assert_existing_objects_matched()
            log.info("resumed from %s at step %d", latest, int(self.step.numpy()))
        return int(self.step.numpy())

    def save(self) -> str:
        """Write a checkpoint numbered by the step count; returns its path."""
        return self.manager.save(checkpoint_number=int(self.step.numpy()))


def make_train_step(
    strategy: tf.distribute.Strategy,
    state: TrainState,
    compute_losses: Callable[[tf.Tensor], dict[str, tf.Tensor]],
) -> Callable[[tf.Tensor], dict[str, tf.Tensor]]:
    """One compiled, distributed training step: `step(distributed_batch) -> {name: mean loss}`.

    `compute_losses(batch)` runs the model on a replica's share of the batch and returns scalar losses with a
    "total" entry; everything it closes over is frozen at trace time.
    """
    model, optimizer = state.model, state.optimizer
    replicas = strategy.num_replicas_in_sync

    def replica_step(batch: tf.Tensor) -> dict[str, tf.Tensor]:
        with tf.GradientTape() as tape:
            losses = compute_losses(batch)
            scaled = tf.cast(losses["total"], tf.float32) / replicas  # the optimizer sums over replicas
        variables = model.trainable_variables
        gradients = tape.gradient(scaled, variables)
        optimizer.apply_gradients(zip(gradients, variables, strict=True))
        return losses

    @tf.function(reduce_retracing=True)
    def step(batch) -> dict[str, tf.Tensor]:
        per_replica = strategy.run(replica_step, args=(batch,))
        state.step.assign_add(1)
        return {name: strategy.reduce(tf.distribute.ReduceOp.MEAN, v, axis=None) for name, v in per_replica.items()}

    return step


def train_loop(
    step: Callable[[tf.Tensor], dict[str, tf.Tensor]],
    batches: Iterator,
    state: TrainState,
    total_steps: int,
    checkpoint_every: int = 200,
    should_stop: Callable[[], bool] = lambda: False,
) -> Iterator[Step]:
    """Run `step` on `batches` until the state's step count reaches `total_steps`, one record per step.

    Checkpoints every `checkpoint_every` steps and once more when it ends (finished, stopped by
    `should_stop`, or closed by the caller), so a stopped run resumes from its last step.
    A non-finite total loss stops the loop with FloatingPointError (after no checkpoint: the last good one stays).
    """
    saved_at = int(state.step.numpy())
    try:
        while int(state.step.numpy()) < total_steps and not should_stop():
            start = time.perf_counter()
            losses = {name: float(value) for name, value in step(next(batches)).items()}
            seconds = time.perf_counter() - start
            done = int(state.step.numpy())
            if not all(map(_finite, losses.values())):
                saved_at = done  # do not checkpoint a diverged model
                raise FloatingPointError(f"the loss is not finite at step {done}: {losses}")
            yield Step(done - 1, losses, seconds)
            if checkpoint_every and done % checkpoint_every == 0:
                state.save()
                saved_at = done
    finally:
        if int(state.step.numpy()) != saved_at:
            state.save()


def _finite(value: float) -> bool:
    return value == value and abs(value) != float("inf")
