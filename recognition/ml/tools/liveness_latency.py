"""What the liveness check adds to a gate decision: wall and CPU time of LivenessChecker.measure
on bursts whose frames are already decoded and detected (as the gate worker has them).

    python -m recognition.ml.tools.liveness_latency var/liveness-bursts/test \\
        --yunet-model YUNET.onnx --frames 5 --opencv-threads 1 --bursts 60

Wall time depends on what else the machine runs (the load average is printed with it); CPU time
of the process is the cost on idle cores.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import cv2
import numpy as np

from recognition.ml.runtime.detection import YuNetDetector
from recognition.ml.runtime.liveness import LivenessChecker, LivenessThresholds
from recognition.ml.tools.cli import IMAGE_SUFFIXES, CliError, run_cli


def load_bursts(root: str, frames: int, count: int, detector) -> list[tuple[list, list]]:
    from pathlib import Path

    folders = sorted({p.parent for p in Path(root).rglob("*") if p.suffix in IMAGE_SUFFIXES})
    out = []
    for folder in folders:
        paths = sorted(p for p in folder.iterdir() if p.suffix in IMAGE_SUFFIXES)[:frames]
        images = [cv2.imread(str(p), cv2.IMREAD_COLOR) for p in paths]
        faces = [(detector.detect(image) or [None])[0] for image in images]
        if len(images) == frames and all(face is not None for face in faces):
            out.append((images, faces))
        if len(out) == count:
            break
    if not out:
        raise CliError(f"no burst of {frames} frames with a face in every frame under {root}")
    return out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("bursts")
    parser.add_argument("--yunet-model", required=True)
    parser.add_argument("--predictor", default=None)
    parser.add_argument("--frames", type=int, default=5)
    parser.add_argument("--bursts", dest="count", type=int, default=60)
    parser.add_argument("--opencv-threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    if args.predictor is None:
        from recognition.ml.dlib.models import dlib_model_path

        args.predictor = dlib_model_path("shape_predictor_68_face_landmarks")
    cv2.setNumThreads(args.opencv_threads)
    bursts = load_bursts(args.bursts, args.frames, args.count, YuNetDetector(args.yunet_model))
    checker = LivenessChecker(LivenessThresholds(), args.predictor)
    checker.measure(*bursts[0])  # warm-up
    timings: dict[str, list[float]] = {}
    for _ in range(args.repeats):
        for frames, faces in bursts:
            _, _, measured = checker.measure(frames, faces)
            for key, value in measured.items():
                timings.setdefault(key, []).append(value)
    summary = {
        "bursts": len(bursts),
        "frames": args.frames,
        "opencv_threads": args.opencv_threads,
        "load_average": os.getloadavg(),
        "cpus": os.cpu_count(),
        "ms": {
            key: {
                "p50": round(float(np.median(v)), 2),
                "p95": round(float(np.percentile(v, 95)), 2),
            }
            for key, v in timings.items()
        },
        "at": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    run_cli(main)
