"""The students recognition.ml.training.distill can train (--arch), and what differs between them.

mobilenetv2: MobileNetV2 rebuilt at --input-size from a pretrained SavedModel (--backbone) with the
MobileFaceNet head (recognition.ml.training.mobileface), frozen up to --freeze-until; the pretrained
backbone learns at a fraction of the head's rate. Identity term: batch-hard triplet. Artifact kind
"mobilenetv2-siamese".

contrastive-cnn: the design's small siamese CNN (recognition.ml.training.networks), grayscale
inside the model, trained from scratch: every weight learns at --lr. Identity term: its
contrastive loss (Hadsell et al.) on the P x K batch. Artifact kind "contrastive-cnn".
"""

from __future__ import annotations

import argparse

ARCHS = ("mobilenetv2", "contrastive-cnn")
EMBEDDER = {"mobilenetv2": "mobilenetv2-siamese", "contrastive-cnn": "contrastive-cnn"}
# Per arch: input size, triplet weight, contrastive weight, when the flags leave them unset.
DEFAULTS = {
    "mobilenetv2": {"input_size": 112, "w_triplet": 0.1, "w_contrastive": 0.0, "dropout": 0.0},
    "contrastive-cnn": {"input_size": 64, "w_triplet": 0.0, "w_contrastive": 0.1, "dropout": 0.0},
}
HEAD_PREFIXES = ("gdc", "embedding")  # mobilenetv2's face head


def resolve_defaults(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    """Fill the arch-dependent flags left unset; --backbone is needed only by mobilenetv2."""
    for name, value in DEFAULTS[args.arch].items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if args.arch == "mobilenetv2" and not args.backbone:
        parser.error("--arch mobilenetv2 needs --backbone (a MobileNetV2 SavedModel)")


def build_student(args):
    """The student model: float32 RGB [b, s, s, 3] in [0, 1] -> unit [b, 128]."""
    if args.arch == "contrastive-cnn":
        from recognition.ml.training.networks import build_contrastive_cnn

        return build_contrastive_cnn(input_size=args.input_size, dropout=args.dropout)
    from recognition.ml.training import mobileface

    model = mobileface.build_face_model(args.input_size, dropout=args.dropout)
    mobileface.load_backbone_weights(model, args.backbone)
    mobileface.freeze_until(model, args.freeze_until, args.backbone_batchnorm)
    return model


def split_variables(model, arch: str = "mobilenetv2") -> tuple[list, list]:
    """(head, pretrained backbone) trainable variables: the pretrained backbone learns at a
    fraction of the head's rate. Adam moves every weight by about the learning rate per step
    whatever its scale, so at the head's 1e-3 it overwrote ImageNet's small conv weights
    within 100 steps (measured: train cosine to the teacher stuck at 0.97, val AUC 0.64).
    The contrastive CNN starts from random weights: all of it is 'head'."""
    if arch == "contrastive-cnn":
        return list(model.trainable_weights), []
    head: list = []
    backbone: list = []
    for layer in model.layers:
        target = head if layer.name.startswith(HEAD_PREFIXES) else backbone
        target.extend(layer.trainable_weights)
    return head, backbone


def base_metadata(args, version_time: str) -> dict:
    """The artifact's metadata before its training section."""
    from recognition.ml.runtime.embedders.mobilenet import base_metadata as mobilenet_metadata

    embedder = EMBEDDER[args.arch]
    prefix = "mobilenetv2-distilled" if args.arch == "mobilenetv2" else f"{args.arch}-distilled"
    data = mobilenet_metadata(args.backbone or "", trained=True, version=f"{prefix}-{version_time}")
    data.update(name=embedder, embedder=embedder, input_size=args.input_size, margin=args.margin)
    if args.arch == "contrastive-cnn":
        del data["backbone_handle"]
        data["input"] = "float32 RGB in [0, 1], made grayscale inside the model"
    return data
