"""Enrollment throughput in one process: photos/s through decode -> detect -> quality -> align ->
embed, embedding each batch's accepted faces together, timed after a warm-up.

    python benchmarks/enrollment_throughput.py --embedder NAME [--model DIR] --data DIR --n 200
        [--batch 16] [--out results.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

# Runnable as a plain script from anywhere: the repository root holds the `recognition` package.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from recognition.ml.runtime.pipeline import FacePipeline  # noqa: E402
from recognition.ml.tools.cli import collect_images, detector_from_args, run_cli  # noqa: E402
from recognition.ml.tools.embed import add_embedder_arguments, embedder_from_args  # noqa: E402

WARMUP_PHOTOS = 8


def parse_args(argv, description):
    parser = argparse.ArgumentParser(description=description)
    add_embedder_arguments(parser)
    parser.add_argument("--data", required=True, help="folder of photos (searched recursively)")
    parser.add_argument("--n", type=int, default=200, help="photos to process")
    parser.add_argument("--batch", type=int, default=16, help="photos per pipeline call")
    parser.add_argument("--out", help="also write the JSON here")
    # The ML core reads no environment; a benchmark takes `make`'s model settings as defaults.
    parser.set_defaults(
        yunet_model=os.environ.get("FACEPASS_YUNET_MODEL") or None,
        dlib_runtime=os.environ.get("FACEPASS_DLIB_RUNTIME", "onnx"),
    )
    return parser.parse_args(argv)


def load_photos(data: str, n: int) -> list[bytes]:
    """n photos spread evenly over the folder, read into memory so disk speed is not measured."""
    paths = collect_images([data])
    step = max(1, len(paths) // n)
    return [Path(path).read_bytes() for path in paths[::step][:n]]


def setup(args):
    pipeline = FacePipeline(detector_from_args(args), embedder_from_args(args))
    photos = load_photos(args.data, args.n + WARMUP_PHOTOS)
    pipeline.process(photos[:WARMUP_PHOTOS])  # graph tracing, caches, thread pools
    return pipeline, photos[WARMUP_PHOTOS:]


def run_batches(pipeline: FacePipeline, photos: list[bytes], batch: int):
    results = []
    start = time.perf_counter()
    for offset in range(0, len(photos), batch):
        results.extend(pipeline.process(photos[offset : offset + batch]))
    return results, time.perf_counter() - start


def environment(pipeline: FacePipeline) -> dict:
    return {
        "embedder": pipeline.embedder.describe(),
        "detector": pipeline.detector.name,
        "cpu_count": os.cpu_count(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "machine": platform.machine(),
        "python": platform.python_version(),
    }


def emit(result: dict, out: str | None) -> None:
    text = json.dumps(result, indent=2)
    print(text)
    if out:
        Path(out).write_text(text + "\n")


def main(argv=None) -> None:
    args = parse_args(argv, __doc__.splitlines()[0])
    pipeline, photos = setup(args)
    results, seconds = run_batches(pipeline, photos, args.batch)
    accepted = sum(result.accepted for result in results)
    emit(
        {
            "benchmark": "enrollment_throughput",
            "photos": len(photos),
            "accepted": accepted,
            "batch": args.batch,
            "seconds": round(seconds, 3),
            "photos_per_second": round(len(photos) / seconds, 2),
            **environment(pipeline),
        },
        args.out,
    )


if __name__ == "__main__":
    run_cli(main)
