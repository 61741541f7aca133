"""Synthetic but realistic face galleries for the benchmarks, loaded into PostgreSQL with COPY.

How the vectors are made (FaceSpace):
- Real embeddings by the model under test (recognition.inference.embed_largest_face, the gate
  path) of every photo in ../shared/datasets/celeba-dev/train, cached in var/bench_cache.
- From them: the within-identity covariance (a photo's offset from its person's mean) and the
  between-identity covariance (a person's mean around the crowd's mean).
- A synthetic identity is a real photo's embedding (its base), pulled towards the crowd's mean
  by `base_weight`, plus an identity offset drawn from the between-identity covariance times
  `identity_scale`; each of its photos is the identity plus a photo offset drawn from the
  within-identity covariance times `photo_scale` and a per-photo quality factor
  (`photo_spread`), renormalised to unit length. Offsets follow the real covariances, so the
  crowd keeps the real embeddings' shape (a narrow cone, few dominant directions) instead of
  uniform noise.
- The four numbers are calibrated (FaceSpace.fit) on real pairs (every pair of
  ../shared/datasets/celeba-dev/val): synthetic genuine pairs get the real genuine mean and
  spread, synthetic impostor pairs the real impostor mean, and two identities made from the same
  base photo ("twins") the real impostors' 99th percentile. `calibration_table` prints the real
  and synthetic distributions (mean, std, percentiles) side by side.

Loading (load_galleries): holders (status enrolled, consent given), accepted photo rows without
files, and their embeddings, for several events at once, in rounds of about `chunk_rows`
embeddings: each round takes the next slice of every event and COPYs holders and photos as text
and embeddings as binary (a numpy record array, no per-row Python), embeddings shuffled across
events so that an event's rows are spread over the table as if its enrollment had run alongside
the other events' (not one contiguous block, which would flatter exact search). Ids come from the
tables' own sequences; nothing global is dropped or disabled (indexes, foreign keys, triggers all
stay), so the load measures what a real bulk import would cost.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("FACEPASS_SHARED_DIR", ROOT.parent / "shared")).resolve()
DEV = SHARED / "datasets" / "celeba-dev"
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
PHOTO_MIX = (0.6, 0.25, 0.15)  # share of holders with 1, 2, 3 photos
PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def use_shared_detector() -> None:
    """YuNet from ../shared, as `make` and scripts/test.sh set it (before django.setup): without
    it the detector would try a download and fall back to dlib-hog, other embeddings."""
    yunet = SHARED / "models" / "face_detection_yunet_2026may.onnx"
    if yunet.is_file():
        os.environ.setdefault("FACEPASS_YUNET_MODEL", str(yunet))


# -- real embeddings ------------------------------------------------------------------------------


def identity_images(folder: Path) -> dict[str, list[Path]]:
    return {
        d.name: sorted(p for p in d.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        for d in sorted(Path(folder).iterdir())
        if d.is_dir()
    }


def real_embeddings(model, paths: list[Path]) -> np.ndarray:
    """Embeddings by the model under test (NaN rows: no face), cached in var/bench_cache."""
    from django.conf import settings

    from recognition import inference

    key = hashlib.sha256(json.dumps([model.label, [str(p) for p in paths]]).encode()).hexdigest()
    cache = Path(settings.BASE_DIR) / "var" / "bench_cache" / f"embeddings-{key[:16]}.npy"
    if cache.is_file():
        return np.load(cache)
    rows = []
    for path in paths:
        result = inference.embed_largest_face(model, path.read_bytes())
        rows.append(result.embedding if result.accepted else np.full(model.dimensions, np.nan))
    vectors = np.asarray(rows, np.float32)
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.save(cache, vectors)
    return vectors


def labelled_embeddings(model, folder: Path, max_images: int | None = None):
    """(unit vectors, identity labels) of a <identity>/<photos> folder; faceless photos dropped.

    max_images keeps an evenly spread subset (deterministic, so the cache is reused)."""
    photos = [(label, p) for label, ps in identity_images(folder).items() for p in ps]
    if max_images is not None and max_images < len(photos):
        photos = [photos[i] for i in np.linspace(0, len(photos) - 1, max_images).astype(int)]
    vectors = real_embeddings(model, [p for _, p in photos])
    labels = np.asarray([label for label, _ in photos])
    ok = ~np.isnan(vectors).any(axis=1)
    return normalise(vectors[ok]), labels[ok]


def normalise(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, np.float32)
    return vectors / np.linalg.norm(vectors, axis=-1, keepdims=True)


# -- similarity distributions ---------------------------------------------------------------------


def pair_similarities(vectors: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cosine similarity of every genuine pair and every impostor pair (i < j)."""
    sims = vectors @ vectors.T
    upper = np.triu(np.ones(sims.shape, bool), k=1)
    same = labels[:, None] == labels[None, :]
    return sims[upper & same], sims[upper & ~same]


def distribution(values: np.ndarray) -> dict:
    values = np.asarray(values, np.float64)
    pcts = np.percentile(values, [1, 5, 50, 95, 99, 99.9])
    names = ["p1", "p5", "p50", "p95", "p99", "p99.9"]
    return {
        "pairs": int(values.size),
        "mean": round(float(values.mean()), 4),
        "std": round(float(values.std()), 4),
        **{n: round(float(v), 4) for n, v in zip(names, pcts, strict=True)},
    }


def _psd_factor(cov: np.ndarray) -> np.ndarray:
    """L with L @ L.T == cov (cov symmetric positive semi-definite)."""
    values, vectors = np.linalg.eigh((cov + cov.T) / 2)
    return (vectors * np.sqrt(np.clip(values, 0, None))).astype(np.float32)


# -- the generative model -------------------------------------------------------------------------


@dataclass
class FaceSpace:
    """Synthetic identities and photos shaped like the model's real embeddings (module doc).

    identity = centre + base_weight * (real photo - centre) + identity_scale * N(0, between)
    photo    = unit(identity + photo_scale * u * N(0, within)),  u = exp(photo_spread * N(0, 1)
               - photo_spread**2), so E[u**2] = 1 and some photos are worse than others."""

    bases: np.ndarray  # real unit embeddings, one per photo
    between: np.ndarray  # factor of the between-identity covariance
    within: np.ndarray  # factor of the within-identity covariance
    base_weight: float = 1.0
    identity_scale: float = 1.0
    photo_scale: float = 1.0
    photo_spread: float = 0.0
    calibration: dict = field(default_factory=dict)

    @property
    def dimensions(self) -> int:
        return self.bases.shape[1]

    @property
    def centre(self) -> np.ndarray:
        return self.bases.mean(axis=0)

    @classmethod
    def from_real(cls, vectors: np.ndarray, labels: np.ndarray) -> FaceSpace:
        names, owner = np.unique(labels, return_inverse=True)
        counts = np.bincount(owner)
        means = np.zeros((len(names), vectors.shape[1]), np.float64)
        np.add.at(means, owner, vectors)
        means /= counts[:, None]
        several = counts[owner] >= 2  # a lone photo says nothing about within-identity spread
        deviations = (vectors - means[owner])[several]
        dof = max(int(several.sum()) - int((counts >= 2).sum()), 1)
        within = deviations.T @ deviations / dof
        centred = means - means.mean(axis=0)
        between = centred.T @ centred / max(len(names) - 1, 1)
        return cls(normalise(vectors), _psd_factor(between), _psd_factor(within))

    def identities(self, count: int, rng) -> np.ndarray:
        """Identity centres (not unit length): a real base plus an identity offset."""
        return self._identities_from(rng.integers(0, len(self.bases), count), rng)

    def _identities_from(self, picks: np.ndarray, rng) -> np.ndarray:
        centre = self.centre
        base = self.bases[picks]
        noise = rng.standard_normal((len(picks), self.dimensions), dtype=np.float32)
        offset = self.identity_scale * noise @ self.between.T
        return centre + self.base_weight * (base - centre) + offset

    def photos(self, identities: np.ndarray, rng) -> np.ndarray:
        """One unit-length photo embedding per row of `identities`."""
        noise = rng.standard_normal(identities.shape, dtype=np.float32) @ self.within.T
        spread = self.photo_spread
        quality = np.exp(spread * rng.standard_normal(len(identities)) - spread**2)
        scale = (self.photo_scale * quality).astype(np.float32)[:, None]
        return normalise(identities + scale * noise)

    def fit(self, target: dict, rng, samples: int = 2000) -> FaceSpace:
        """Set the four parameters from `target` (distribution() dicts of real pairs):
        - photo_scale: synthetic genuine pairs (two photos of one identity) have the real
          genuine mean similarity, photo_spread: and the real genuine standard deviation;
        - identity_scale: two identities made from the same real base photo ("twins") are
          look-alikes, as similar on average as the real impostor pairs' 99th percentile. A big
          gallery reuses each base photo many times (100,000 holders on ~3,800 photos: ~26
          twins each), and a stranger that similar is common anyway (1 % of all pairs), so
          twins do not crowd the top of a search the way clones would;
        - base_weight: two identities from different bases have the real impostor mean.
        Common random numbers (fixed draws, only the parameters change) make the statistics
        smooth, monotone functions of each parameter; alternating bisections converge."""
        n, d = samples, self.dimensions
        centre = self.centre
        base = self.bases[rng.integers(0, len(self.bases), 2 * n)] - centre
        z_id = rng.standard_normal((3 * n, d), dtype=np.float32) @ self.between.T
        z_ph = rng.standard_normal((3, 2 * n, d), dtype=np.float32) @ self.within.T
        z_q = rng.standard_normal((3, 2 * n)).astype(np.float32)
        first, second = slice(0, n), slice(n, 2 * n)

        def photos(i, rows, p, id_rows=None):
            w, s_id, s_ph, spread = p
            offset = z_id[rows if id_rows is None else id_rows]
            centres = centre + w * base[rows] + s_id * offset
            scale = s_ph * np.exp(spread * z_q[i, rows] - spread**2)[:, None]
            return normalise(centres + scale * z_ph[i, rows])

        def pairs(kind, p):
            a = photos(0, first, p)
            if kind == "genuine":
                b = photos(1, first, p)
            elif kind == "impostor":
                b = photos(2, second, p)
            else:  # twin: same base, another identity offset
                b = photos(2, first, p, id_rows=slice(2 * n, 3 * n))
            return np.einsum("ij,ij->i", a, b)

        def solve(f, goal, lo, hi, increasing=False):  # 12 halvings
            for _ in range(12):
                mid = (lo + hi) / 2
                lo, hi = (mid, hi) if (f(mid) < goal) == increasing else (lo, mid)
            return (lo + hi) / 2

        goals = {
            "genuine_mean": target["genuine"]["mean"],
            "genuine_std": target["genuine"]["std"],
            "impostor_mean": target["impostor"]["mean"],
            "twin_mean": target["impostor"]["p99"],
        }
        p = [1.0, 0.5, 1.0, 0.2]  # base_weight, identity_scale, photo_scale, photo_spread

        def with_(i, v):
            return [*p[:i], v, *p[i + 1 :]]

        for _ in range(4):
            p[2] = solve(
                lambda v: pairs("genuine", with_(2, v)).mean(), goals["genuine_mean"], 0, 4
            )
            p[3] = solve(
                lambda v: pairs("genuine", with_(3, v)).std(), goals["genuine_std"], 0, 1.5, True
            )
            p[1] = solve(lambda v: pairs("twin", with_(1, v)).mean(), goals["twin_mean"], 0, 4)
            p[0] = solve(
                lambda v: pairs("impostor", with_(0, v)).mean(), goals["impostor_mean"], 0, 2
            )
        self.base_weight, self.identity_scale, self.photo_scale, self.photo_spread = (
            round(float(x), 4) for x in p
        )
        return self

    def sample_pairs(self, identities: int, rng) -> dict[str, np.ndarray]:
        """Similarities of synthetic genuine pairs (two photos of one identity), impostor pairs
        (two identities) and twin pairs (two identities made from the same base photo)."""
        half = identities // 2
        picks = rng.integers(0, len(self.bases), identities)
        centres = self._identities_from(picks, rng)
        twins = self._identities_from(picks[:half], rng)
        a, b = self.photos(centres, rng), self.photos(centres, rng)
        return {
            "genuine": np.einsum("ij,ij->i", a, b),
            "impostor": np.einsum("ij,ij->i", a[:half], b[half : 2 * half]),
            "twin": np.einsum("ij,ij->i", a[:half], self.photos(twins, rng)),
        }

    def summary(self) -> dict:
        return {
            "base_embeddings": len(self.bases),
            "base_weight": self.base_weight,
            "identity_scale": self.identity_scale,
            "photo_scale": self.photo_scale,
            "photo_spread": self.photo_spread,
            "between_identity_rms": round(float(np.sqrt((self.between**2).sum())), 4),
            "within_identity_rms": round(float(np.sqrt((self.within**2).sum())), 4),
            **self.calibration,
        }


def calibrated_space(model, *, train: Path, val: Path, max_train_images=None, seed=0) -> FaceSpace:
    """The FaceSpace of `model`: shapes from train, scales calibrated on val's real pairs."""
    train_vectors, train_labels = labelled_embeddings(model, train, max_train_images)
    val_vectors, val_labels = labelled_embeddings(model, val)
    return calibrate(train_vectors, train_labels, val_vectors, val_labels, seed=seed)


def calibrate(vectors, labels, target_vectors, target_labels, seed=0, samples=2000) -> FaceSpace:
    """A FaceSpace shaped like (vectors, labels), whose synthetic genuine and impostor pairs have
    the mean similarities of the real pairs of (target_vectors, target_labels)."""
    rng = np.random.default_rng(seed)
    genuine, impostor = pair_similarities(target_vectors, target_labels)
    space = FaceSpace.from_real(vectors, labels)
    target = {"genuine": distribution(genuine), "impostor": distribution(impostor)}
    space.fit(target, rng, samples)
    synthetic = space.sample_pairs(20_000, rng)
    space.calibration = {
        "base_identities": int(len(np.unique(labels))),
        "target_images": len(target_vectors),
        "target_identities": int(len(np.unique(target_labels))),
        "real_genuine": distribution(genuine),
        "synthetic_genuine": distribution(synthetic["genuine"]),
        "real_impostor": distribution(impostor),
        "synthetic_impostor": distribution(synthetic["impostor"]),
        "synthetic_twin": distribution(synthetic["twin"]),
    }
    return space


def calibration_table(space: FaceSpace) -> str:
    columns = ("mean", "std", "p1", "p5", "p50", "p95", "p99", "p99.9")
    rows = [f"{'pairs':<22} " + " ".join(f"{c:>7}" for c in columns)]
    keys = ("real_genuine", "synthetic_genuine", "real_impostor", "synthetic_impostor")
    for key in (*keys, "synthetic_twin"):
        d = space.calibration[key]
        cells = [d[k] for k in columns]
        rows.append(f"{key:<22} " + " ".join(f"{v:7.4f}" for v in cells))
    return "\n".join(rows)


# -- COPY -----------------------------------------------------------------------------------------


def reserve_ids(cursor, table: str, count: int) -> np.ndarray:
    """`count` ids from the table's own sequence (distinct even under concurrent inserts)."""
    if count == 0:
        return np.zeros(0, np.int64)
    cursor.execute(
        "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
        [table, count],
    )
    return np.fromiter((row[0] for row in cursor.fetchall()), np.int64, count)


def _copy_text_value(value) -> str:
    if value is None:
        return r"\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, dict | list):
        value = json.dumps(value)
    if isinstance(value, datetime):
        value = value.isoformat()
    text = str(value)
    if any(c in text for c in "\t\n\r\\"):
        raise ValueError(f"COPY text value needs escaping: {text!r}")
    return text


def copy_model_rows(cursor, model, count: int, columns: dict) -> None:
    """COPY `count` rows of a Django model as text.

    `columns` maps a column to a per-row sequence or to one value for every row; every other
    concrete column gets the field's default, so a field someone adds later still loads."""
    from django.db import connection

    names, per_row, constant = [], [], {}
    for f in model._meta.concrete_fields:
        if f.column in columns:
            value = columns[f.column]
        elif f.primary_key:
            raise ValueError(f"{model.__name__}: ids come from reserve_ids")
        elif f.has_default() or f.null or f.blank:
            default = f.get_default() if f.has_default() else (None if f.null else "")
            value = f.get_db_prep_save(default, connection)
            value = getattr(value, "adapted", getattr(value, "obj", value))  # Jsonb wrapper
        else:
            raise ValueError(f"{model.__name__}.{f.name} needs a value")
        names.append(f.column)
        if isinstance(value, list | tuple | np.ndarray):
            per_row.append((len(names) - 1, list(value)))
        else:
            constant[len(names) - 1] = _copy_text_value(value)
    template = [constant.get(i, "") for i in range(len(names))]
    lines = []
    for row in range(count):
        cells = list(template)
        for i, values in per_row:
            cells[i] = _copy_text_value(values[row])
        lines.append("\t".join(cells))
    table = model._meta.db_table
    sql = f"COPY {table} ({', '.join(names)}) FROM STDIN"
    with cursor.copy(sql) as copy:
        copy.write("\n".join(lines) + "\n" if lines else "")


def _timestamp_micros(moment: datetime) -> int:
    return int((moment - PG_EPOCH).total_seconds() * 1_000_000)


def copy_embeddings(cursor, *, photo_ids, model_id, event_ids, holder_ids, vectors, now) -> None:
    """COPY FaceEmbedding rows in PostgreSQL's binary format, built as one numpy record array."""
    from recognition.models import FaceEmbedding

    count, dims = vectors.shape
    record = np.dtype(
        [("fields", ">i2")]
        + [item for name in ("photo", "model", "event", "holder") for item in _int8_field(name)]
        + [("len_v", ">i4"), ("dim", ">i2"), ("unused", ">i2"), ("vector", ">f4", (dims,))]
        + _int8_field("created")
    )
    rows = np.zeros(count, record)
    rows["fields"] = 6
    for name in ("photo", "model", "event", "holder", "created"):
        rows[f"len_{name}"] = 8
    rows["len_v"] = 4 + 4 * dims
    rows["photo"], rows["model"], rows["event"] = photo_ids, model_id, event_ids
    rows["holder"], rows["dim"], rows["vector"] = holder_ids, dims, vectors
    rows["created"] = _timestamp_micros(now)
    header = b"PGCOPY\n\xff\r\n\x00" + b"\x00" * 8
    table = FaceEmbedding._meta.db_table
    sql = (
        f"COPY {table} (photo_id, model_id, event_id, holder_id, vector, created_at) "
        "FROM STDIN (FORMAT BINARY)"
    )
    with cursor.copy(sql) as copy:
        copy.write(header + rows.tobytes() + b"\xff\xff")


def _int8_field(name: str) -> list:
    return [(f"len_{name}", ">i4"), (name, ">i8")]


def insert_gallery(cursor, *, event_ids, model_id, vectors, owners, now=None, prefix="S"):
    """Holders, one accepted photo row per vector, and the embeddings; returns the holder ids.

    event_ids: the event of each holder; owners: the holder index (into event_ids) of each
    vector. Ticket codes are f"{prefix}{holder_id}". Run it inside a transaction."""
    from attendees.models import EnrollmentPhoto, TicketHolder

    now = now or datetime.now(UTC)
    event_ids = np.asarray(event_ids, np.int64)
    owners = np.asarray(owners, np.int64)
    holder_ids = reserve_ids(cursor, TicketHolder._meta.db_table, len(event_ids))
    photo_ids = reserve_ids(cursor, EnrollmentPhoto._meta.db_table, len(owners))
    copy_model_rows(
        cursor,
        TicketHolder,
        len(holder_ids),
        {
            "id": holder_ids,
            "event_id": event_ids,
            "ticket_code": [f"{prefix}{i}" for i in holder_ids.tolist()],
            "name": [f"Bench holder {prefix}{i}" for i in holder_ids.tolist()],
            "consent_at": now,
            "consent_text_version": "bench",
            "status": TicketHolder.Status.ENROLLED.value,
            "created_at": now,
            "updated_at": now,
        },
    )
    copy_model_rows(
        cursor,
        EnrollmentPhoto,
        len(photo_ids),
        {
            "id": photo_ids,
            "holder_id": holder_ids[owners],
            "image": "",
            "status": EnrollmentPhoto.Status.ACCEPTED.value,
            "attempts": 1,
            "created_at": now,
            "processed_at": now,
        },
    )
    copy_embeddings(
        cursor,
        photo_ids=photo_ids,
        model_id=model_id,
        event_ids=event_ids[owners],
        holder_ids=holder_ids[owners],
        vectors=np.asarray(vectors, np.float32),
        now=now,
    )
    return holder_ids


# -- whole galleries ------------------------------------------------------------------------------


@dataclass
class LoadedEvent:
    event_id: int
    holders: int
    rows: int = 0
    holder_ids: list = field(default_factory=list)  # np arrays per round, joined at the end
    identities: list = field(default_factory=list)  # kept only for events asked to be kept

    def finish(self):
        self.holder_ids = np.concatenate(self.holder_ids) if self.holder_ids else np.zeros(0)
        if self.identities:
            self.identities = np.concatenate(self.identities)
        return self


def load_galleries(
    *,
    event_ids: list[int],
    holders: list[int],
    model_id: int,
    space: FaceSpace,
    rng,
    photo_mix=PHOTO_MIX,
    keep_identities=(),
    chunk_rows: int = 50_000,
    progress=None,
) -> tuple[list[LoadedEvent], dict]:
    """Fill each event with `holders[i]` synthetic holders (1..len(photo_mix) photos each).

    Rounds of about chunk_rows embeddings, one transaction each, events interleaved (module
    doc). Identity centres of the events whose ids are in keep_identities are returned, for
    probes. Uses Django's default connection."""
    from django.db import connection, transaction

    mix = np.asarray(photo_mix, np.float64) / np.sum(photo_mix)
    mean_photos = float((np.arange(1, len(mix) + 1) * mix).sum())
    expected_rows = sum(holders) * mean_photos
    rounds = max(1, int(np.ceil(expected_rows / chunk_rows)))
    events = [LoadedEvent(e, n) for e, n in zip(event_ids, holders, strict=True)]
    slices = [np.array_split(np.arange(n), rounds) for n in holders]
    timings = {"generate_s": 0.0, "copy_s": 0.0, "commit_s": 0.0}
    now = datetime.now(UTC)
    for r in range(rounds):
        started = time.perf_counter()
        holder_events, vectors, owners = [], [], []
        for event, parts in zip(events, slices, strict=True):
            count = len(parts[r])
            if not count:
                continue
            centres = space.identities(count, rng)
            if event.event_id in keep_identities:
                event.identities.append(centres)
            photos = rng.choice(np.arange(1, len(mix) + 1), size=count, p=mix)
            owner = np.repeat(np.arange(count), photos) + len(holder_events)
            vectors.append(space.photos(np.repeat(centres, photos, axis=0), rng))
            owners.append(owner)
            holder_events.extend([event.event_id] * count)
            event.rows += int(photos.sum())
        owners = np.concatenate(owners)
        shuffle = rng.permutation(len(owners))  # events' rows interleaved in the heap
        vectors = np.concatenate(vectors)[shuffle]
        owners = owners[shuffle]
        timings["generate_s"] += time.perf_counter() - started
        started = time.perf_counter()
        with transaction.atomic(), connection.cursor() as cursor:
            ids = insert_gallery(
                cursor,
                event_ids=holder_events,
                model_id=model_id,
                vectors=vectors,
                owners=owners,
                now=now,
            )
            copied = time.perf_counter()
            timings["copy_s"] += copied - started
        timings["commit_s"] += time.perf_counter() - copied  # deferred foreign-key checks
        offset = 0
        for event, parts in zip(events, slices, strict=True):
            count = len(parts[r])
            event.holder_ids.append(ids[offset : offset + count])
            offset += count
        if progress:
            progress(r + 1, rounds, sum(e.rows for e in events))
    stats = {k: round(v, 2) for k, v in timings.items()}
    stats.update(rounds=rounds, rows=sum(e.rows for e in events), holders=sum(holders))
    return [e.finish() for e in events], stats


def probes(space: FaceSpace, event: LoadedEvent, count: int, impostor_fraction: float, rng):
    """Query vectors for one event: fresh photos of enrolled identities (genuine, expected holder
    id) and photos of identities that are not enrolled (impostor, expected id -1)."""
    impostors = int(round(count * impostor_fraction))
    genuine = count - impostors
    picks = rng.choice(len(event.identities), size=genuine, replace=genuine > event.holders)
    vectors = np.concatenate(
        [
            space.photos(event.identities[picks], rng),
            space.photos(space.identities(impostors, rng), rng),
        ]
    )
    expected = np.concatenate([event.holder_ids[picks], np.full(impostors, -1, np.int64)])
    order = rng.permutation(count)  # any prefix is a fair sample of both kinds
    return vectors[order].astype(np.float32), expected[order]


def make_events(organization_name: str, count: int, slug_prefix: str = "bench"):
    """A throw-away organization with `count` events (gates open); returns (org, events)."""
    import uuid
    from datetime import timedelta

    from django.utils import timezone

    from events.models import Event
    from events.services import event_create, organization_create

    slug = f"{slug_prefix}-{uuid.uuid4().hex[:8]}"
    org = organization_create(name=organization_name, slug=slug)
    now = timezone.now()
    events = [
        event_create(
            organization=org,
            name=f"Bench event {i}",
            slug=f"event-{i}",
            starts_at=now - timedelta(hours=1),
            ends_at=now + timedelta(days=2),
            status=Event.Status.GATES_OPEN,
        )
        for i in range(count)
    ]
    return org, events
