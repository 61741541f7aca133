"""Milliseconds per face for each pipeline stage (decode, detect, quality, align, embed).

    python benchmarks/stage_times.py --embedder NAME [--model DIR] --data DIR --n 200
        [--batch 16] [--out results.json]

Embedding runs once per batch; its time is shared evenly among that batch's accepted faces.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from enrollment_throughput import (  # noqa: E402
    emit,
    environment,
    parse_args,
    run_batches,
    setup,
)

from recognition.ml.runtime.pipeline import STAGES  # noqa: E402
from recognition.ml.tools.cli import run_cli  # noqa: E402


def summarise(values: list[float]) -> dict[str, float]:
    array = np.array(values)
    return {
        "mean_ms": round(float(array.mean()), 3),
        "p50_ms": round(float(np.percentile(array, 50)), 3),
        "p95_ms": round(float(np.percentile(array, 95)), 3),
    }


def main(argv=None) -> None:
    args = parse_args(argv, __doc__.splitlines()[0])
    pipeline, photos = setup(args)
    results, seconds = run_batches(pipeline, photos, args.batch)
    accepted = [result for result in results if result.accepted]
    stages = {
        stage: summarise([result.timings_ms[stage] for result in accepted])
        for stage in STAGES
        if accepted
    }
    total = sum(entry["mean_ms"] for entry in stages.values())
    emit(
        {
            "benchmark": "stage_times",
            "photos": len(photos),
            "accepted_faces": len(accepted),
            "batch": args.batch,
            "per_face_ms_by_stage": stages,
            "per_face_ms_total": round(total, 3),
            "wall_seconds": round(seconds, 3),
            **environment(pipeline),
        },
        args.out,
    )


if __name__ == "__main__":
    run_cli(main)
