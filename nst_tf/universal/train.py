"""Training the universal decoders: reconstruction (Li et al. 2017) and AdaIN (Huang & Belongie 2017).

A reconstruction decoder learns to invert the frozen encoder at its level: loss = pixel MSE (pictures in
[0, 1]) + `feature_weight` × the relative feature MSE ‖φ(D(φ(x))) − φ(x)‖² / ‖φ(x)‖² at the same level.
Li et al. weigh raw squared errors 1 : 1 on their normalised VGG; with Caffe-scale features the raw feature
term would swamp the pixels, so it is made relative (scale-free) here. The AdaIN decoder learns to invert
AdaIN's output: content loss ‖φ4(D(t)) − t‖² with t = AdaIN(φ4(c), φ4(s)), plus `style_weight` × the mean/std
style loss Σ_k ‖μ(φk(D(t))) − μ(φk(s))‖² + ‖σ(φk(D(t))) − σ(φk(s))‖² over relu1_1 … relu4_1, both relative
to the target's scale for the same reason.

Pictures come through the feed-forward trainer's tf.data pipeline (`nst_tf.training.data.photo_dataset`,
wrapped by `picture_batches`). `train_decoder` trains through the one training loop of the per-style networks
(`nst_tf.training.loop`: a compiled step from a losses function, `tf.train.CheckpointManager` into
`checkpoint_dir`, resume from its latest checkpoint, a stop flag read between steps), yielding one
`nst_tf.records.Step` per step. `DecoderTraining` (the recipe) lives in `nst_tf.universal.settings`.
Precision (`cfg.precision`, resolved from "auto" by `DecoderRun`): "bfloat16" runs the encoder's convolutions
in bfloat16 (`BFloat16Extractor`, its flipped-kernel gradient too) and builds the decoder under Keras's
"mixed_bfloat16" policy; what each hands out is cast to float32, so AdaIN's means and variances, the style loss's
means and standard deviations, every loss, the decoder's variables and Adam's state stay float32. The
least-squares fit of the level-1 decoder always solves in float64 on float32 features.
`save_decoder` writes the shipped artefact: `NAME.weights.h5` plus `NAME.json` saying how it was made.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import asdict
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from nst_tf.errors import ConfigError
from nst_tf.io.ownership import OwnedFiles, recognise_json
from nst_tf.records import Step
from nst_tf.training.data import Augment, PhotoFolder, photo_dataset
from nst_tf.training.loop import TrainState, make_strategy, make_train_step, train_loop
from nst_tf.universal.networks import LEVEL_LAYERS, build_decoder, build_encoder
from nst_tf.universal.settings import DecoderTraining
from nst_tf.vgg.extractor import BFloat16Extractor, FeatureExtractor
from nst_tf.vgg.weights import VGGWeights

log = logging.getLogger(__name__)


def adain_tf(content: tf.Tensor, style: tf.Tensor, eps: float = 1e-5) -> tf.Tensor:
    """AdaIN (Huang & Belongie eq. 8): content normalised per channel, given the style's mean and std."""
    c_mean, c_var = tf.nn.moments(content, axes=[1, 2], keepdims=True)
    s_mean, s_var = tf.nn.moments(style, axes=[1, 2], keepdims=True)
    return (content - c_mean) * tf.sqrt((s_var + eps) / (c_var + eps)) + s_mean


def picture_batches(
    paths: list[str], crop: int, batch: int, seed: int = 0, augment: Augment | None = None
) -> Iterator[tf.Tensor]:
    """Endless (batch, crop, crop, 3) float32 crops in [0, 1] of the pictures at `paths`, each picture's
    shorter side first scaled to 1.25 × `crop`: the feed-forward trainer's pipeline (`photo_dataset`).

    Fewer pictures than a batch are listed again until they fill one (a batch of 4 from 2 style pictures).
    With `augment` each picture is first scaled to 1.25 × `crop` × `augment.zoom`, and cut at random scales
    from there (`Augment`), so its coarsest crops are at the plain pipeline's scale.

    Raises:
        ConfigError: `paths` is empty.
    """
    if not paths:
        raise ConfigError("the decoders' training needs at least one picture")
    listed = [str(p) for p in paths] * -(-batch // len(paths))
    resize_to = round(crop * 1.25 * (augment.zoom if augment else 1.0))
    dataset, _ = photo_dataset(PhotoFolder(tuple(listed)), crop, batch, seed, resize_to=resize_to, augment=augment)
    return iter(dataset)


def reconstruction_losses(encoder: FeatureExtractor, decoder: keras.Model, level: int, cfg):
    """losses((photos, target)) -> {"total", "pixel", "feature"}: `decoder` learning to invert `encoder`.

    `target` is the photos' features at the level, computed once beforehand (`encode_crops`). With
    `cfg.feature_weight == 0` the encoder never runs: pixel loss only, the decoder's own cost.
    """
    layer = LEVEL_LAYERS[level]

    def losses(batch: tuple[tf.Tensor, tf.Tensor]) -> dict[str, tf.Tensor]:
        photos, target = batch
        decoded = tf.cast(decoder(target, training=True), tf.float32)  # (N, H, W, 3); a mixed decoder's is bfloat16
        pixel = tf.reduce_mean(tf.square(decoded - photos))
        feature = tf.constant(0.0)
        if cfg.feature_weight:
            feature = tf.reduce_mean(tf.square(encoder(decoded)[layer] - target)) / (
                tf.reduce_mean(tf.square(target)) + 1e-8
            )
        return {"total": pixel + cfg.feature_weight * feature, "pixel": pixel, "feature": feature}

    return losses


def encode_crops(
    photos: list[str], encoder: FeatureExtractor, layer: str, cfg, count: int, chunk: int = 8
) -> tf.data.Dataset:
    """`count` random crops of `photos` and their features, computed once, as an endless shuffled dataset of
    (crops, features) batches.

    Departure from Li et al. (fresh random crops every step): on a shared 2-core CPU, encoding every batch
    costs more than training the decoder, so a fixed pool of crops is encoded once and reused.
    """
    crops, features = [], []
    source = picture_batches(photos, cfg.crop, chunk, seed=cfg.seed)
    for _ in range(-(-count // chunk)):
        batch = next(source)
        crops.append(batch.numpy())
        features.append(encoder(batch)[layer].numpy())
    data = tf.data.Dataset.from_tensor_slices((np.concatenate(crops), np.concatenate(features)))
    return data.repeat().shuffle(count, seed=cfg.seed).batch(cfg.batch, drop_remainder=True).prefetch(2)


def adain_losses(encoder: FeatureExtractor, decoder: keras.Model, cfg):
    """losses((photos, styles)) -> {"total", "content", "style"}: Huang & Belongie's objective."""
    layers = [LEVEL_LAYERS[k] for k in (1, 2, 3, 4)]
    deepest = LEVEL_LAYERS[4]

    def losses(batch: tuple[tf.Tensor, tf.Tensor]) -> dict[str, tf.Tensor]:
        photos, styles = batch
        style_features = encoder(styles)
        target = tf.stop_gradient(adain_tf(encoder(photos)[deepest], style_features[deepest]))
        decoded = tf.cast(decoder(target, training=True), tf.float32)  # a mixed decoder hands out bfloat16
        out = encoder(decoded)
        content = tf.reduce_mean(tf.square(out[deepest] - target)) / (tf.reduce_mean(tf.square(target)) + 1e-8)
        style = 0.0
        for name in layers:
            o_mean, o_var = tf.nn.moments(out[name], axes=[1, 2])
            s_mean, s_var = tf.nn.moments(style_features[name], axes=[1, 2])
            scale = tf.reduce_mean(tf.square(s_mean)) + tf.reduce_mean(s_var) + 1e-8
            diff = tf.reduce_mean(tf.square(o_mean - s_mean)) + tf.reduce_mean(
                tf.square(tf.sqrt(o_var + 1e-5) - tf.sqrt(s_var + 1e-5))
            )
            style += diff / scale
        return {"total": content + cfg.style_weight * style, "content": content, "style": style}

    return losses


def train_decoder(
    weights: VGGWeights,
    photos: list[str],
    cfg: DecoderTraining,
    checkpoint_dir: str | Path,
    styles: list[str] | None = None,
    decoder: keras.Model | None = None,
    should_stop: Callable[[], bool] = lambda: False,
) -> Iterator[Step]:
    """Train one decoder through the one training loop (`nst_tf.training.loop`); one Step per step.

    Args:
        weights: the encoder's VGG16 weights.
        photos: training photo paths.
        cfg: the recipe.
        checkpoint_dir: where CheckpointManager keeps its checkpoints; training resumes from the latest.
        styles: style picture paths (mode "adain" only).
        decoder: start from this decoder (e.g. a reconstruction decoder for AdaIN); default: a new one.
        should_stop: read between two steps; when it turns true the loop checkpoints and ends.

    Yields:
        Step(iteration=the step count after it minus one, costs={"total", "pixel", "feature"} or
        {"total", "content", "style"}, seconds=the step's own).
    """
    decoder = decoder or build_decoder(cfg.level, cfg.width, precision=cfg.precision)
    optimizer = keras.optimizers.Adam(cfg.learning_rate)
    optimizer.build(decoder.trainable_variables)
    strategy = make_strategy("default")
    state = TrainState(str(checkpoint_dir), decoder, optimizer, name="decoder")
    state.restore()
    if int(state.step.numpy()) >= cfg.steps:  # nothing left to do: don't build the inputs
        return
    if cfg.mode == "adain":
        photo_batches = picture_batches(photos, cfg.crop, cfg.batch, seed=cfg.seed)
        kind = BFloat16Extractor if cfg.precision == "bfloat16" else FeatureExtractor
        encoder = kind(weights, [LEVEL_LAYERS[k] for k in (1, 2, 3, 4)], pooling="max")
        losses = adain_losses(encoder, decoder, cfg)
        jitter = Augment() if cfg.augment_styles else None
        style_batches = picture_batches(styles or [], cfg.crop, cfg.batch, seed=cfg.seed + 1, augment=jitter)
        batches = zip(photo_batches, style_batches, strict=False)
    else:
        encoder = build_encoder(weights, cfg.level, cfg.precision)
        losses = reconstruction_losses(encoder, decoder, cfg.level, cfg)
        batches = iter(encode_crops(photos, encoder, LEVEL_LAYERS[cfg.level], cfg, cfg.crops_per_photo * len(photos)))
    log.info("training inputs ready")
    step = make_train_step(strategy, state, losses)
    yield from train_loop(step, batches, state, cfg.steps, cfg.checkpoint_every, should_stop)


def fit_level1_decoder(weights: VGGWeights, photos: list[str], cfg: DecoderTraining, samples: int = 4096):
    """The relu1_1 decoder by linear least squares: its single 3×3 conv (64 -> 3, reflection padded, no
    activation) is linear in its weights, so the pixel MSE has one exact minimiser, found here from `samples`
    random pixels of each of `cfg.steps` crops (normal equations in float64, a tiny ridge). Departure from Li
    et al. (who train every decoder by SGD): same objective without its feature term, solved exactly, in
    seconds instead of the hundreds of Adam steps a shared 2-core CPU cannot spare.
    """
    from nst_tf.universal.networks import FEATURE_SCALE

    encoder, decoder = build_encoder(weights, 1), build_decoder(1, 1.0)
    rng = np.random.default_rng(cfg.seed)
    gram, rhs = np.zeros((577, 577)), np.zeros((577, 3))
    crops = picture_batches(photos, cfg.crop, 1, seed=cfg.seed)
    for _ in range(cfg.steps):
        crop = next(crops)  # (1, S, S, 3)
        features = encoder(crop)[LEVEL_LAYERS[1]] / FEATURE_SCALE[1]  # what the decoder's conv sees
        padded = tf.pad(features, [[0, 0], [1, 1], [1, 1], [0, 0]], mode="REFLECT")
        patches = tf.image.extract_patches(padded, [1, 3, 3, 1], [1, 1, 1, 1], [1, 1, 1, 1], "VALID")
        patches = patches.numpy().reshape(-1, 576)  # (S·S, 3·3·64) in the kernel's (row, col, channel) order
        picked = rng.choice(patches.shape[0], size=min(samples, patches.shape[0]), replace=False)
        x = np.concatenate([patches[picked], np.ones((len(picked), 1), np.float32)], axis=1).astype(np.float64)
        gram += x.T @ x
        rhs += x.T @ crop.numpy().reshape(-1, 3)[picked].astype(np.float64)
    solution = np.linalg.solve(gram + 1e-6 * np.trace(gram) / 577 * np.eye(577), rhs)
    conv = decoder.get_layer("conv0")
    conv.set_weights([solution[:576].reshape(3, 3, 64, 3).astype(np.float32), solution[576].astype(np.float32)])
    return decoder


def plan_decoder_files(folder: str | Path, name: str) -> OwnedFiles:
    """Check that NAME.weights.h5 and NAME.json may be written into `folder` (the ownership rule: an existing
    pair is replaced only when nst_tf saved it — the ledger, or a NAME.json with this trainer's record);
    nothing is created.

    Raises:
        ConfigError: the folder cannot be used, or a file there of those names is not nst_tf's.
    """
    meta_is_ours = recognise_json({"name": name, "level": None, "training": None})

    def ours(path: Path) -> bool:
        return meta_is_ours(path.parent / f"{name}.json")

    return OwnedFiles.plan(folder, (f"{name}.weights.h5", f"{name}.json"), True, "-o", recognise=ours)


def save_decoder(decoder: keras.Model, folder: str | Path, name: str, cfg: DecoderTraining, info: dict) -> Path:
    """Write `folder/NAME.weights.h5` and `folder/NAME.json` (the recipe and `info`); returns the weights path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.weights.h5"
    decoder.save_weights(path)
    meta = {"name": name, "level": cfg.level, "width": cfg.width, "training": asdict(cfg), **info}
    (folder / f"{name}.json").write_text(json.dumps(meta, indent=2) + "\n")
    return path
