"""Rejection rate of the quality gates on a folder of photos, to tune QualityThresholds.

python -m recognition.ml.tools.quality_report --data DIR [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from dataclasses import replace

import numpy as np
from tqdm import tqdm

from recognition.ml.runtime.imageio import ImageDecodeError, read_image_file
from recognition.ml.runtime.quality import QualityThresholds, assess_quality
from recognition.ml.tools.cli import (
    add_detector_arguments,
    collect_images,
    detector_from_args,
    run_cli,
)

FIGURES = ("face_px", "sharpness", "brightness", "clipped_fraction", "yaw_ratio")


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="folder of photos (searched recursively)")
    parser.add_argument("--json", help="also write the full report here")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="override a QualityThresholds field, e.g. --set min_sharpness=15",
    )
    add_detector_arguments(parser)
    return parser.parse_args(argv)


def thresholds_from(overrides: list[str]) -> QualityThresholds:
    values = {}
    for item in overrides:
        name, _, value = item.partition("=")
        values[name] = float(value)
    return replace(QualityThresholds(), **values)


def assess_folder(paths, detector, thresholds):
    rows = []
    for path in tqdm(paths, desc="quality", unit="img", file=sys.stderr):
        try:
            image = read_image_file(path)
        except (OSError, ImageDecodeError) as exc:
            rows.append({"path": path, "code": "unreadable", "figures": {}, "error": str(exc)})
            continue
        verdict = assess_quality(image, detector.detect(image), thresholds)
        rows.append({"path": path, "code": verdict.code, "figures": verdict.figures})
    return rows


def summarise(rows, thresholds: QualityThresholds, detector_name: str) -> dict:
    counts = Counter(row["code"] for row in rows if row["code"])
    figures = {
        name: np.percentile([r["figures"][name] for r in rows if name in r["figures"]], [1, 5, 50])
        for name in FIGURES
    }
    return {
        "images": len(rows),
        "detector": detector_name,
        "rejected": sum(counts.values()),
        "rejection_rate": sum(counts.values()) / max(len(rows), 1),
        "by_code": {code: {"count": n, "rate": n / len(rows)} for code, n in counts.items()},
        "thresholds": thresholds.as_dict(),
        "figure_percentiles_1_5_50": {
            k: [round(float(v), 3) for v in p] for k, p in figures.items()
        },
        "rejects": [row for row in rows if row["code"]],
    }


def print_summary(report: dict) -> None:
    print(f"images: {report['images']}  detector: {report['detector']}")
    print(f"rejected: {report['rejected']} ({report['rejection_rate']:.2%})")
    for code, entry in sorted(report["by_code"].items()):
        print(f"  {code:18s} {entry['count']:5d}  {entry['rate']:.2%}")
    print("figure percentiles (1%, 5%, 50%):")
    for name, values in report["figure_percentiles_1_5_50"].items():
        print(f"  {name:12s} {values}")
    print("rejected files:")
    for row in report["rejects"]:
        shown = {k: round(v, 2) for k, v in row["figures"].items()}
        print(f"  {row['code']:18s} {row['path']} {shown}")


def main(argv=None) -> None:
    args = parse_args(argv)
    thresholds = thresholds_from(args.set)
    detector = detector_from_args(args)
    rows = assess_folder(collect_images([args.data]), detector, thresholds)
    report = summarise(rows, thresholds, detector.name)
    print_summary(report)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(report, handle, indent=2)


if __name__ == "__main__":
    run_cli(main)
