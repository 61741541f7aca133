"""Enrollment throughput through the real worker code path, database writes included.

Creates a throw-away organization with N ticket holders and photos from a face
folder, runs the enrollment batches in this process exactly as the Celery task
does (claim, decode, detect, quality, align, embed, store in pgvector, duplicate
check), reports photos/s per embedder, then deletes everything it created.

    DEBUG=1 .venv/bin/python benchmarks/enrollment_worker.py \
        --data ../shared/datasets/celeba-dev/val --n 200 \
        --embedder dlib-resnet --embedder mobilenetv2-siamese=/path/to/artifact
"""

import argparse
import json
import os
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "facepass_site.settings")
SHIPPED_DLIB = "recognition/artifacts/dlib-resnet"


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="<identity>/<images> folder")
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument(
        "--embedder",
        action="append",
        default=[],
        help="NAME or NAME=ARTIFACT_DIR; repeat to compare (default: dlib-resnet)",
    )
    parser.add_argument("--out", help="write the JSON result here too")
    return parser.parse_args()


def image_paths(data: Path, n: int) -> list[Path]:
    paths = sorted(p for p in data.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    if not paths:
        raise SystemExit(f"no images under {data}")
    return (paths * (n // len(paths) + 1))[:n]


def model_row(spec: str):
    from recognition.ml.runtime.artifacts import read_metadata
    from recognition.ml.runtime.embedders.dlib_resnet import default_metadata
    from recognition.services import embedding_model_register

    name, _, artifact = spec.partition("=")
    artifact = artifact or (SHIPPED_DLIB if name == "dlib-resnet" else "")
    metadata = read_metadata(artifact) if artifact else default_metadata()
    if name != metadata["embedder"]:
        raise SystemExit(f"{spec}: artifact is a {metadata['embedder']} model")
    return embedding_model_register(metadata=metadata, artifact_path=artifact)


def make_photos(event, paths, prefix):
    from django.core.files.base import ContentFile

    from attendees.models import EnrollmentPhoto, TicketHolder

    photos = []
    for index, path in enumerate(paths):
        holder = TicketHolder.objects.create(
            event=event,
            ticket_code=f"{prefix}{index}",
            name=f"Bench {prefix}{index}",
            consent_at=event.starts_at,
        )
        photo = EnrollmentPhoto(holder=holder)
        photo.image.save("bench.jpg", ContentFile(path.read_bytes()), save=False)
        photo.save()
        photos.append(photo)
    return photos


def run_one(spec: str, paths: list[Path], batch_size: int) -> dict:
    from django.utils import timezone

    from enrollment.workflow import enrollment_process
    from events.models import Event, Organization
    from recognition import inference

    model = model_row(spec)
    org = Organization.objects.create(name="benchmark", slug=f"bench-{uuid.uuid4().hex[:8]}")
    now = timezone.now()
    event = Event.objects.create(
        organization=org, name="bench", slug="bench", starts_at=now, ends_at=now + timedelta(1)
    )
    try:
        warm = make_photos(event, paths[:batch_size], "W")
        inference.pipeline_for(model)  # model load is start-up cost, not throughput
        enrollment_process(photo_ids=[warm[0].pk], batch_size=batch_size, model=model)
        photos = make_photos(event, paths, "B")
        started, processed, accepted = time.perf_counter(), 0, 0
        for photo in photos:
            summary = enrollment_process(photo_ids=[photo.pk], batch_size=batch_size, model=model)
            processed += summary["processed"]
            accepted += summary["accepted"]
        elapsed = time.perf_counter() - started
    finally:
        cleanup(org)
    return {
        "embedder": model.kind,
        "model": model.label,
        "photos": processed,
        "accepted": accepted,
        "seconds": round(elapsed, 2),
        "photos_per_second": round(processed / elapsed, 1),
        "batch_size": batch_size,
    }


def cleanup(org) -> None:
    from attendees.models import EnrollmentPhoto

    for photo in EnrollmentPhoto.objects.filter(holder__event__organization=org):
        photo.image.delete(save=False)
    org.delete()


def main():
    args = parse_args()
    import django

    django.setup()
    from django.conf import settings

    # Other waiting photos would be swept into the batches; the benchmark needs a quiet queue.
    paths = image_paths(Path(args.data), args.n)
    results = [run_one(spec, paths, args.batch_size) for spec in args.embedder or ["dlib-resnet"]]
    report = {
        "cpu_count": os.cpu_count(),
        "database": settings.DATABASES["default"]["NAME"],
        "results": results,
    }
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
