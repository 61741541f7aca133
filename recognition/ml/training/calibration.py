"""Thresholds of a freshly trained artifact, measured end to end (detect, align, embed) on
identities the training never saw; shared by every trainer (train, distill)."""

from __future__ import annotations

from argparse import Namespace
from pathlib import Path


def calibrate_artifact(args: Namespace, embedder: str, out: Path) -> None:
    """Thresholds by FAR on --val go into the artifact at `out`: the gate reads them from there.
    `args` carries the trainer's val, detector, model_cache_dir and yunet_model options."""
    from recognition.ml.runtime.embedders import load_embedder
    from recognition.ml.tools import evaluate

    load_embedder.cache_clear()  # the artifact at `out` was just rewritten
    argv = ["--data", args.val, "--embedder", embedder, "--model", str(out)]
    argv += ["--out", str(out / "evaluation.json"), "--plot", str(out / "roc.png")]
    argv += ["--write-thresholds", "--detector", args.detector]
    argv += ["--model-cache-dir", args.model_cache_dir]
    if args.yunet_model:
        argv += ["--yunet-model", args.yunet_model]
    evaluate.main(argv)
