"""Embed the largest face of each image into an .npz file.

    python -m recognition.ml.tools.embed --embedder NAME [--model DIR] --out FILE.npz IMAGE...

IMAGE may be a directory (searched recursively for *.jpg, *.jpeg, *.png, sorted). The npz holds
paths (str[n]), embeddings (float32[n,128], zeros where no face), detected (bool[n]) and boxes
(float32[n,4], x y w h).
"""

from __future__ import annotations

import argparse
import os

import numpy as np

from recognition.ml.runtime.artifacts import ArtifactError
from recognition.ml.runtime.embedders import EMBEDDER_NAMES, load_embedder
from recognition.ml.runtime.pipeline import embed_files
from recognition.ml.tools.cli import (
    CliError,
    add_runtime_arguments,
    collect_images,
    detector_from_args,
    run_cli,
    runtime_config_from_args,
)


def add_embedder_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--embedder", required=True, choices=EMBEDDER_NAMES)
    parser.add_argument(
        "--model",
        default=None,
        help="artifact directory (required for mobilenetv2-siamese and contrastive-cnn; "
        "dlib-resnet: optional metadata-only directory)",
    )
    add_runtime_arguments(parser)


def embedder_from_args(args: argparse.Namespace):
    """Load the embedder, turning configuration problems into one-line CLI errors."""
    model = args.model
    if model is not None and not os.path.isdir(model):
        raise CliError(f"model directory {model} does not exist")
    try:
        return load_embedder(args.embedder, model, runtime_config_from_args(args))
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
