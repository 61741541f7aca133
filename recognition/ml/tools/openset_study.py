"""The measurements of the open-set calibration: fusion study, frame fusion, the issue's val
gallery with train strangers (before / after), and the capacity table. Every function returns
JSON-ready dicts (predicted against measured FPIR: openset_validation.py)."""

from __future__ import annotations

import numpy as np

from recognition.ml.runtime.fusion import unit
from recognition.ml.runtime.openset import (
    OpenSetCalibration,
    Tail,
    capacity,
    largest_sensible_gallery,
    per_holder_probability,
    threshold_for,
)
from recognition.ml.tools.openset_data import Labelled, split_scores
from recognition.ml.tools.openset_sim import (
    decide,
    enroll,
    one_to_one,
    tally_genuine,
    tally_strangers,
    top2,
)
from recognition.ml.tools.tail_fit import fit_tail

LEVELS = {"relaxed": 1e-2, "standard": 1e-3, "high": 1e-4}


def level_thresholds(cal: OpenSetCalibration, holders: int, rate: float, photos: int):
    admit = threshold_for(cal, holders, rate, photos)
    review = threshold_for(cal, 1, rate, photos)
    return admit, review


def gate_run(cal, gallery, genuine: Labelled, strangers: Labelled, fusion, margin, levels):
    """The 1:N rule at each level on one gallery: strangers' and holders' outcomes."""
    photos = gallery.photos.shape[1]
    top_s = top2(strangers.vectors, gallery, fusion)
    top_g = top2(genuine.vectors, gallery, fusion)
    rows = {}
    for name, rate in levels.items():
        admit, review = level_thresholds(cal, gallery.size, rate, photos)
        rows[name] = {
            "admit_threshold": round(admit.score, 5),
            "review_threshold": round(review.score, 5),
            "beyond_calibration": admit.beyond_calibration,
            "predicted": _predicted(capacity(cal, gallery.size, rate, photos, margin)),
            "strangers": tally_strangers(decide(top_s, admit.score, review.score, margin)),
            "genuine": tally_genuine(
                decide(top_g, admit.score, review.score, margin), top_g, gallery, genuine.labels
            ),
        }
    return rows


def _predicted(c) -> dict:
    return {
        "fpir": c.expected_fpir,
        "stranger_review": round(c.expected_stranger_review, 5),
        "tpir": round(c.expected_tpir, 4),
        "review": round(c.expected_review, 4),
        "wrong_holder": c.expected_wrong_holder,
    }


def before_rule(gallery, genuine, strangers, table_threshold: float, margin: float) -> dict:
    """Today's face-only rule: best photo (max fusion) >= the 1:1 threshold of the level's
    FAR, runner-up margin, no review band beyond the margin."""
    top_s = top2(strangers.vectors, gallery, "max")
    top_g = top2(genuine.vectors, gallery, "max")
    return {
        "threshold": table_threshold,
        "strangers": tally_strangers(decide(top_s, table_threshold, table_threshold, margin)),
        "genuine": tally_genuine(
            decide(top_g, table_threshold, table_threshold, margin), top_g, gallery, genuine.labels
        ),
    }


def simulate_target(cal, val, strangers, all_train, table, photos, margin) -> dict:
    """The issue's set-up: val people enrolled with `photos` photos, their other photos as
    genuine probes, train photos as strangers."""
    gallery, genuine = enroll(val, photos)
    result = {
        "gallery": gallery.size,
        "enrollment_photos": photos,
        "genuine_probes": len(genuine.labels),
        "stranger_probes": len(strangers.labels),
        "after": gate_run(cal, gallery, genuine, strangers, "template", margin, LEVELS),
        "after_with_look_alike_labels_as_strangers": {
            name: row["strangers"]
            for name, row in gate_run(
                cal, gallery, genuine, all_train, "template", margin, LEVELS
            ).items()
        },
        "before": {
            name: before_rule(gallery, genuine, strangers, table[name], margin) for name in LEVELS
        },
        "one_to_one": {},
    }
    for name, rate in LEVELS.items():
        t11 = threshold_for(cal, 1, rate, photos).score
        result["one_to_one"][name] = {
            "after_template": one_to_one(genuine, strangers, gallery, "template", t11),
            "before_best_photo": one_to_one(genuine, strangers, gallery, "max", table[name]),
        }
    return result


def fusion_study(train, val, strangers, excluded, margin, rate=1e-3, seed=0) -> list[dict]:
    """Each holder fusion with K = 1..3 enrollment photos: thresholds from its own tail fitted
    on train, then the val gallery at FPIR `rate` (N = 50) and 1:1 at FAR `rate`."""
    rows = []
    for fusion in ("template", "max", "top2"):
        for photos in (1, 2, 3):
            if photos == 1 and fusion != "template":
                continue  # with one photo every fusion is the plain score
            rng = np.random.default_rng(seed + photos)
            scores, _ = split_scores(train, photos, fusion, rng, excluded)
            tail = Tail.from_block(photos, fit_tail(scores, 1e-3, 1.0))
            gallery, genuine = enroll(val, photos)
            admit = tail.score_at(per_holder_probability(gallery.size, rate))
            review = tail.score_at(rate)
            top_s = top2(strangers.vectors, gallery, fusion)
            top_g = top2(genuine.vectors, gallery, fusion)
            g = tally_genuine(decide(top_g, admit, review, margin), top_g, gallery, genuine.labels)
            s = tally_strangers(decide(top_s, admit, review, margin))
            v = one_to_one(genuine, strangers, gallery, fusion, review)
            rows.append(
                {
                    "fusion": fusion,
                    "photos": photos,
                    "gallery": gallery.size,
                    "genuine_probes": g["probes"],
                    "admit_threshold": round(admit, 5),
                    "tpir": round(g["tpir"], 4),
                    "admitted_or_review": round(g["admitted_or_review"], 4),
                    "wrong_holder_admits": g["admitted_wrong_holder"],
                    "stranger_admits": s["admitted"],
                    "stranger_fpir_measured": s["fpir"],
                    "one_to_one_threshold": round(review, 5),
                    "one_to_one_tar": round(v["genuine_admit_rate"], 4),
                    "one_to_one_far_measured": v["far_measured"],
                }
            )
    return rows


def frame_study(cal, val, strangers, photos, margin, rate=1e-3, seed=0) -> list[dict]:
    """Attempts of F = 1..3 frames (distinct photos of one person: more varied than a camera's
    burst, so an upper bound on what frame fusion changes), fused three ways, judged with the
    single-frame calibration."""
    rng = np.random.default_rng(seed)
    gallery, genuine = enroll(val, photos)
    admit, review = level_thresholds(cal, gallery.size, rate, photos)
    rows = []
    for frames in (1, 2, 3):
        g_sets, g_labels = _frame_sets(genuine, frames, rng)
        s_sets, _ = _frame_sets(strangers, frames, rng)
        for method in ("mean-score", "template", "max") if frames > 1 else ("mean-score",):
            top_g = _frame_top2(g_sets, gallery, method)
            top_s = _frame_top2(s_sets, gallery, method)
            g = tally_genuine(
                decide(top_g, admit.score, review.score, margin), top_g, gallery, g_labels
            )
            s = tally_strangers(decide(top_s, admit.score, review.score, margin))
            rows.append(
                {
                    "frames": frames,
                    "frame_fusion": method,
                    "attempts_genuine": g["probes"],
                    "attempts_stranger": s["probes"],
                    "tpir": round(g["tpir"], 4),
                    "admitted_or_review": round(g["admitted_or_review"], 4),
                    "stranger_admits": s["admitted"],
                    "stranger_reach_admit_threshold": int((top_s.best >= admit.score).sum()),
                    "stranger_reach_review_threshold": int((top_s.best >= review.score).sum()),
                    "predicted_fpir": admit.expected_fpir,
                }
            )
    return rows


def _frame_sets(data: Labelled, frames: int, rng) -> tuple[np.ndarray, np.ndarray]:
    sets, labels = [], []
    for name in data.identities:
        members = rng.permutation(np.flatnonzero(data.labels == name))
        for start in range(0, len(members) - frames + 1, frames):
            sets.append(data.vectors[members[start : start + frames]])
            labels.append(name)
    return np.stack(sets), np.array(labels)


def _frame_top2(sets: np.ndarray, gallery, method: str):
    from recognition.ml.tools.openset_sim import Top2

    holder_templates = unit(unit(gallery.photos).mean(axis=1))
    if method == "template":
        return Top2.of(unit(sets.mean(axis=1)) @ holder_templates.T)
    per_frame = np.einsum("afd,hd->afh", sets, holder_templates)
    return Top2.of(per_frame.mean(axis=1) if method == "mean-score" else per_frame.max(axis=1))


def sensible_sizes(cal, photos, margin) -> dict:
    """Per level: the most holders at which face-only still admits half without review."""
    return {
        name: largest_sensible_gallery(cal, rate, photos, margin) for name, rate in LEVELS.items()
    }


def capacity_table(cal, sizes, photos, margin) -> list[dict]:
    rows = []
    for size in sizes:
        for name, rate in LEVELS.items():
            c = capacity(cal, size, rate, photos, margin)
            rows.append(
                {
                    "holders": size,
                    "level": name,
                    "admit_threshold": round(c.admit_threshold, 5),
                    "review_threshold": round(c.review_threshold, 5),
                    "beyond_calibration": c.beyond_calibration,
                    "expected_fpir": c.expected_fpir,
                    "expected_tpir": round(c.expected_tpir, 4),
                    "expected_review": round(c.expected_review, 4),
                    "expected_wrong_holder": c.expected_wrong_holder,
                    "expected_stranger_review": round(c.expected_stranger_review, 4),
                    "face_only_sensible": c.face_only_sensible,
                    "level_fpir": rate,
                }
            )
    return rows
