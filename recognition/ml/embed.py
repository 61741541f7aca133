"""Embed the largest face of each image into an .npz file.

    python -m recognition.ml.embed --embedder NAME [--model DIR] --out FILE.npz IMAGE...

IMAGE may be a directory (searched recursively for *.jpg, *.jpeg, *.png, sorted). The npz holds
paths (str[n]), embeddings (float32[n,128], zeros where no face), detected (bool[n]) and boxes
(float32[n,4], x y w h).
"""

from __future__ import annotations

import argparse
import os

import numpy as np

from recognition.ml.cli import (
    CliError,
    add_detector_arguments,
    collect_images,
    detector_from_args,
    run_cli,
)
from recognition.ml.embedders import EMBEDDER_NAMES


def add_embedder_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--embedder", required=True, choices=EMBEDDER_NAMES)
    parser.add_argument(
        "--model",
        default=None,
        help="artifact directory (mobilenetv2-siamese: default env FACEPASS_MODEL_DIR; "
        "dlib-resnet: optional metadata-only directory)",
    )
    add_detector_arguments(parser)


def embedder_from_args(args: argparse.Namespace):
    """Load the embedder, turning configuration problems into one-line CLI errors."""
    from recognition.ml.artifacts import ArtifactError
    from recognition.ml.embedders import default_backbone_handle, load_embedder

    model = args.model
    if model is None and args.embedder == "mobilenetv2-siamese":
        model = os.environ.get("FACEPASS_MODEL_DIR")
    if model is not None and not os.path.isdir(model):
        raise CliError(f"model directory {model} does not exist")
    try:
        return load_embedder(args.embedder, model, default_backbone_handle())
    except (ArtifactError, OSError) as exc:
        raise CliError(str(exc)) from None


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_embedder_arguments(parser)
    parser.add_argument("--out", required=True, help="output .npz file")
    parser.add_argument("images", nargs="+", metavar="IMAGE", help="image files or directories")
    args = parser.parse_args(argv)
    paths = collect_images(args.images)
    embedder = embedder_from_args(args)
    detector = detector_from_args(args)
    from recognition.ml.pipeline import embed_files

    result = embed_files(paths, detector, embedder)
    try:
        np.savez(
            args.out,
            paths=np.array(result.paths, dtype=str),
            embeddings=result.embeddings,
            detected=result.detected,
            boxes=result.boxes,
        )
    except OSError as exc:
        raise CliError(f"cannot write {args.out}: {exc.strerror or exc}") from None
    print(
        f"{args.out}: {int(result.detected.sum())}/{len(paths)} faces embedded with "
        f"{embedder.describe()} (detector {detector.name})"
    )


if __name__ == "__main__":
    run_cli(main)
