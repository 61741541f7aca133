"""Verification accuracy of an embedder on a labelled folder, every pair counted.

    python -m recognition.ml.tools.evaluate --data DIR --embedder NAME [--model DIR]
        --out report.json [--plot roc.png] [--write-thresholds]

DIR holds <identity>/<images>. Images without a detected face are left out of the pairs and
counted in the detection rate. --write-thresholds stores the similarity threshold for each false
accept rate, and these metrics, in the artifact's metadata.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
from pathlib import Path

import numpy as np

from recognition.ml.runtime.artifacts import METADATA_FILE, far_key, write_metadata
from recognition.ml.runtime.embedders.dlib_resnet import default_metadata
from recognition.ml.runtime.pipeline import embed_files
from recognition.ml.tools.cli import CliError, collect_images, detector_from_args, run_cli
from recognition.ml.tools.embed import add_embedder_arguments, embedder_from_args
from recognition.ml.tools.metrics import (
    Roc,
    equal_error_rate,
    pair_scores,
    rank1_identification,
    roc_auc,
    roc_curve,
    tar_at_far,
)

FARS = (1e-2, 1e-3, 1e-4)
MIN_IMPOSTORS_PER_FAR = 1.0  # report FAR f only with >= 1/f impostor pairs


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="folder of <identity>/<image> files")
    add_embedder_arguments(parser)
    parser.add_argument("--out", required=True, help="JSON report to write")
    parser.add_argument("--plot", help="PNG with ROC and DET curves")
    parser.add_argument(
        "--write-thresholds",
        action="store_true",
        help="store thresholds and metrics in the artifact's metadata.json",
    )
    return parser.parse_args(argv)


def labelled_images(data: str) -> tuple[list[str], np.ndarray]:
    root = Path(data)
    if not root.is_dir():
        raise CliError(f"--data {data} is not a directory")
    paths = [p for p in collect_images([data]) if len(Path(p).relative_to(root).parts) >= 2]
    if not paths:
        raise CliError(f"no <identity>/<image> files under {data}")
    labels = np.array([Path(p).relative_to(root).parts[0] for p in paths])
    return paths, labels


def verification_metrics(embeddings: np.ndarray, labels: np.ndarray) -> tuple[dict, Roc]:
    genuine, impostor = pair_scores(embeddings, labels)
    if len(genuine) == 0 or len(impostor) == 0:
        raise CliError("need at least two identities and one identity with two detected faces")
    roc = roc_curve(genuine, impostor)
    at_far = {
        far_key(far): tar_at_far(genuine, impostor, far)
        for far in FARS
        if len(impostor) * far >= MIN_IMPOSTORS_PER_FAR
    }
    metrics = {
        "genuine_pairs": len(genuine),
        "impostor_pairs": len(impostor),
        "roc_auc": roc_auc(genuine, impostor),
        "eer": equal_error_rate(roc),
        "tar_at_far": at_far,
        "genuine_similarity_mean": float(genuine.mean()),
        "impostor_similarity_mean": float(impostor.mean()),
    }
    metrics.update(rank1_identification(embeddings, labels))
    return metrics, roc


def timing_summary(timings_ms: dict[str, float], faces: int, images: int) -> dict:
    per_face = sum(timings_ms[s] for s in ("detect", "align", "embed")) / max(faces, 1)
    return {
        "mean_ms_per_face_detect_align_embed": per_face,
        "total_ms_by_stage": timings_ms,
        "mean_ms_per_image_by_stage": {k: v / max(images, 1) for k, v in timings_ms.items()},
    }


def build_report(args, paths, labels, embedded, embedder, detector) -> tuple[dict, Roc]:
    found = embedded.detected
    metrics, roc = verification_metrics(embedded.embeddings[found], labels[found])
    report = {
        "data": os.path.abspath(args.data),
        "embedder": embedder.name,
        "embedder_version": embedder.version,
        "trained": embedder.metadata.get("trained"),
        "detector": detector.name,
        "detector_fallback_reason": detector.fallback_reason,
        "images": len(paths),
        "identities": int(len(np.unique(labels))),
        "detected": int(found.sum()),
        "detection_rate": float(found.mean()),
        "unreadable": embedded.unreadable,
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        **metrics,
        **timing_summary(embedded.timings_ms, int(found.sum()), len(paths)),
    }
    return report, roc


def store_thresholds(model_dir: str | None, embedder, report: dict) -> str:
    if not model_dir:
        raise CliError("--write-thresholds needs the artifact directory (--model DIR)")
    metadata = dict(embedder.metadata)
    metadata["thresholds"] = {key: row["threshold"] for key, row in report["tar_at_far"].items()}
    metadata["metrics"] = {
        key: report[key]
        for key in (
            "data",
            "date",
            "detector",
            "images",
            "identities",
            "detection_rate",
            "genuine_pairs",
            "impostor_pairs",
            "roc_auc",
            "eer",
            "tar_at_far",
            "rank1",
        )
    }
    write_metadata(model_dir, metadata)
    return os.path.join(model_dir, "metadata.json")


def prepare_dlib_artifact(model_dir: str) -> None:
    """dlib's weights come from its package, so its artifact may start as metadata alone."""
    if not (Path(model_dir) / METADATA_FILE).is_file():
        write_metadata(model_dir, default_metadata())


def main(argv=None) -> None:
    args = parse_args(argv)
    paths, labels = labelled_images(args.data)
    if args.write_thresholds and args.model and args.embedder == "dlib-resnet":
        prepare_dlib_artifact(args.model)
    embedder = embedder_from_args(args)
    detector = detector_from_args(args)
    embedded = embed_files(paths, detector, embedder)
    report, roc = build_report(args, paths, labels, embedded, embedder, detector)
    if args.write_thresholds:
        report["thresholds_written_to"] = store_thresholds(args.model, embedder, report)
    try:
        Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
        if args.plot:
            from recognition.ml.tools.plots import plot_roc_det

            plot_roc_det(roc, report, args.plot)
    except OSError as exc:
        raise CliError(f"cannot write report: {exc}") from None
    print_summary(report)


def print_summary(report: dict) -> None:
    tars = ", ".join(f"TAR@FAR{k}={v['tar']:.4f}" for k, v in report["tar_at_far"].items())
    print(
        f"{report['embedder']} ({report['embedder_version']}, detector {report['detector']}): "
        f"{report['images']} images, {report['identities']} identities, detection "
        f"{report['detection_rate']:.2%}, AUC {report['roc_auc']:.4f}, EER {report['eer']:.4f}, "
        f"{tars}, rank-1 {report['rank1']:.4f}, "
        f"{report['mean_ms_per_face_detect_align_embed']:.1f} ms/face"
    )


if __name__ == "__main__":
    run_cli(main)
