"""The benchmark gallery loader (benchmarks/gallery.py): COPY'd rows are real, consistent rows."""

import numpy as np
import pytest
from django.db.models import Count, F

from attendees.models import EnrollmentPhoto, TicketHolder
from benchmarks import gallery
from recognition.models import FaceEmbedding
from recognition.selectors import nearest_holders


def clustered_faces(identities=30, photos=8, seed=0):
    """Stand-in for a model's real embeddings: identities in a cone, photos around each."""
    rng = np.random.default_rng(seed)
    crowd = rng.normal(size=128)
    centres = gallery.normalise(crowd + 0.6 * np.linalg.norm(crowd) * _unit(rng, identities))
    vectors = np.repeat(centres, photos, axis=0) + 0.25 * _unit(rng, identities * photos)
    labels = np.repeat([f"id{i}" for i in range(identities)], photos)
    return gallery.normalise(vectors), labels


def _unit(rng, count):
    return gallery.normalise(rng.normal(size=(count, 128)))


@pytest.fixture
def space():
    vectors, labels = clustered_faces()
    return gallery.calibrate(vectors, labels, vectors, labels, seed=1)


def test_calibration_matches_the_real_pair_means(space):
    cal = space.calibration
    assert cal["synthetic_genuine"]["mean"] == pytest.approx(cal["real_genuine"]["mean"], abs=0.01)
    assert cal["synthetic_impostor"]["mean"] == pytest.approx(
        cal["real_impostor"]["mean"], abs=0.01
    )
    assert cal["real_genuine"]["mean"] > cal["real_impostor"]["mean"] + 0.2
    assert "synthetic_impostor" in gallery.calibration_table(space)


@pytest.mark.django_db(transaction=True)  # rounds commit: deferred foreign keys are checked
def test_loaded_galleries_are_consistent_rows_with_identity_structure(org_a, default_model, space):
    from tests.conftest import make_event

    big, small = make_event(org_a, "Stadium"), make_event(org_a, "Club")
    rng = np.random.default_rng(2)
    loaded, stats = gallery.load_galleries(
        event_ids=[big.pk, small.pk],
        holders=[60, 25],
        model_id=default_model.pk,
        space=space,
        rng=rng,
        keep_identities={big.pk},
        chunk_rows=40,  # several rounds, events interleaved
    )
    assert stats["rounds"] > 1
    by_event = {e.event_id: e for e in loaded}

    # counts: holders per event, one accepted photo row per embedding, 1-3 photos a holder
    for event, holders in ((big, 60), (small, 25)):
        rows = FaceEmbedding.objects.filter(event=event, model=default_model)
        assert TicketHolder.objects.filter(event=event).count() == holders
        assert by_event[event.pk].holders == holders
        assert rows.count() == by_event[event.pk].rows
        assert set(by_event[event.pk].holder_ids.tolist()) == set(
            TicketHolder.objects.filter(event=event).values_list("pk", flat=True)
        )
    assert FaceEmbedding.objects.count() == EnrollmentPhoto.objects.count() == stats["rows"]
    per_holder = TicketHolder.objects.annotate(n=Count("photos")).values_list("n", flat=True)
    assert set(per_holder) <= {1, 2, 3} and 2 in set(per_holder)
    assert not TicketHolder.objects.exclude(status="enrolled").exists()
    assert not TicketHolder.objects.filter(consent_at__isnull=True).exists()
    photo = EnrollmentPhoto.objects.first()
    assert (photo.status, photo.image.name, photo.quality, photo.face_box) == (
        "accepted",
        "",
        {},
        None,
    )

    # foreign keys agree with each other (the database checked that they exist at commit)
    assert not FaceEmbedding.objects.exclude(photo__holder_id=F("holder_id")).exists()
    assert not FaceEmbedding.objects.exclude(holder__event_id=F("event_id")).exists()

    # unit vectors; one identity's photos are closer to each other than to other identities
    rows = list(FaceEmbedding.objects.values_list("holder_id", "vector"))
    owners = np.array([h for h, _ in rows])
    vectors = np.stack([np.asarray(v) for _, v in rows])
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    genuine, impostor = gallery.pair_similarities(vectors, owners)
    assert genuine.size and np.percentile(genuine, 5) > np.percentile(impostor, 50)
    assert genuine.mean() > impostor.mean() + 0.2

    # probes: fresh photos of enrolled identities find their holder; impostors are not enrolled
    vectors, expected = gallery.probes(space, by_event[big.pk], 20, 0.25, rng)
    assert (expected == -1).sum() == 5 and np.allclose(np.linalg.norm(vectors, axis=1), 1)
    found = [
        nearest_holders(event=big, model=default_model, vector=v, exact=True)[0].holder_id
        for v in vectors[expected >= 0]
    ]
    assert np.mean(np.array(found) == expected[expected >= 0]) >= 0.8
