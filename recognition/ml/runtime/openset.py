"""Open-set (1:N) thresholds by gallery size, from a model's calibrated stranger score tail.

A face-only gate compares an attempt with every holder of the event. At security level f (the
FPIR: the share of strangers admitted as someone) and N holders, each holder gets the same
share of the budget: a stranger may outscore one holder's threshold with probability

    p(N, f) = 1 - (1 - f) ** (1 / N)        (about f / N),

so that 1 - (1 - p) ** N = f whatever the holders' photo counts. The threshold of a holder with
K enrollment photos is the score a stranger exceeds with probability p: S_K^-1(p), where S_K
is the survival function of the fused stranger score (fusion.py: K-photo template, frames
averaged) against such a holder. 1:1 gates are the case N = 1 (p = the level's FAR).

S_K comes from the artifact's metadata.json, block "openset" (written by
recognition.ml.tools.calibrate_openset fit): an empirical body down to the exceedance rate
zeta = S_K(u), and above u a generalised Pareto tail

    S_K(t) = zeta * (1 + shape * (t - u) / scale) ** (-1 / shape)   (zeta * exp(-(t-u)/scale) at
                                                                     shape 0).

The fit is trusted down to min_probability (per tail: where bootstrap refits of the tail still
agree within a factor 3, at most one decade below one pair in all the fitted pairs).
A smaller p is never extrapolated: the threshold is clamped at S_K^-1(min_probability), the
result says beyond_calibration, and its expected FPIR is the (larger) figure that clamped
threshold is calibrated for. Every function here is pure Python/numpy and cheap enough to call
per decision.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from dataclasses import dataclass
from typing import Any

import numpy as np

from recognition.ml.runtime.artifacts import ArtifactError, openset_block


class CalibrationError(ArtifactError):
    """An openset block that is missing or inconsistent."""


@dataclass(frozen=True)
class Tail:
    """Survival function of the fused stranger score against a holder of K photos."""

    photos: int
    u: float  # GPD threshold: the score with survival exceedance_rate
    exceedance_rate: float  # zeta = S(u)
    shape: float  # GPD xi (negative: a bounded tail, as cosine similarities are)
    scale: float  # GPD sigma
    body_scores: tuple[float, ...]  # ascending scores up to u ...
    body_survival: tuple[float, ...]  # ... and their survival, descending to exceedance_rate
    pairs: int
    min_probability: float

    @classmethod
    def from_block(cls, photos: int, block: dict[str, Any]) -> Tail:
        try:
            scores, survival = zip(*block["body"], strict=True)
            tail = cls(
                photos=photos,
                u=float(block["u"]),
                exceedance_rate=float(block["exceedance_rate"]),
                shape=float(block["shape"]),
                scale=float(block["scale"]),
                body_scores=tuple(float(s) for s in scores),
                body_survival=tuple(float(p) for p in survival),
                pairs=int(block["pairs"]),
                min_probability=float(block["min_probability"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise CalibrationError(f"openset tail for {photos} photos: {exc!r}") from None
        tail.check()
        return tail

    def check(self) -> None:
        if not (0 < self.min_probability < self.exceedance_rate < 1 and self.scale > 0):
            raise CalibrationError(f"openset tail for {self.photos} photos is inconsistent")
        scores, survival = np.array(self.body_scores), np.array(self.body_survival)
        if len(scores) < 2 or np.any(np.diff(scores) <= 0) or np.any(np.diff(survival) >= 0):
            raise CalibrationError("openset body must rise in score and fall in survival")
        if abs(scores[-1] - self.u) > 1e-9 or abs(survival[-1] - self.exceedance_rate) > 1e-12:
            raise CalibrationError("openset body must end at (u, exceedance_rate)")

    def survival(self, score: float) -> float:
        """P(stranger's fused score >= score), from the body or the GPD tail."""
        if score >= self.u:
            excess = (score - self.u) / self.scale
            if abs(self.shape) < 1e-9:
                return self.exceedance_rate * math.exp(-excess)
            base = 1.0 + self.shape * excess
            return 0.0 if base <= 0 else self.exceedance_rate * base ** (-1.0 / self.shape)
        if score <= self.body_scores[0]:
            return self.body_survival[0]
        i = bisect_left(self.body_scores, score)
        return _log_interpolate(
            score, self.body_scores[i - 1 : i + 1], self.body_survival[i - 1 : i + 1]
        )

    def score_at(self, probability: float) -> float:
        """The score a stranger reaches with this probability (inverse of survival)."""
        if probability <= self.exceedance_rate:
            ratio = probability / self.exceedance_rate
            if abs(self.shape) < 1e-9:
                return self.u - self.scale * math.log(ratio)
            return self.u + self.scale / self.shape * (ratio ** (-self.shape) - 1.0)
        if probability >= self.body_survival[0]:
            return self.body_scores[0]
        # Survival falls along the body: search the reversed (ascending) list.
        rising = self.body_survival[::-1]
        j = len(rising) - bisect_left(rising, probability)
        return _log_interpolate_inverse(
            probability, self.body_scores[j - 1 : j + 1], self.body_survival[j - 1 : j + 1]
        )

    def survivals(self, scores: np.ndarray) -> np.ndarray:
        """survival() of many scores at once, never below min_probability (see
        stranger_probability)."""
        scores = np.asarray(scores, np.float64)
        log_body = np.interp(scores, self.body_scores, np.log(self.body_survival))
        excess = np.maximum(scores - self.u, 0.0) / self.scale
        if abs(self.shape) < 1e-9:
            log_tail = math.log(self.exceedance_rate) - excess
        else:
            base = np.maximum(1.0 + self.shape * excess, 1e-300)
            log_tail = math.log(self.exceedance_rate) - np.log(base) / self.shape
        values = np.exp(np.where(scores >= self.u, log_tail, log_body))
        return np.maximum(values, self.min_probability)


def _log_interpolate(score, scores, survival) -> float:
    (s0, s1), (p0, p1) = scores, survival
    weight = (score - s0) / (s1 - s0)
    return math.exp(math.log(p0) + weight * (math.log(p1) - math.log(p0)))


def _log_interpolate_inverse(probability, scores, survival) -> float:
    (s0, s1), (p0, p1) = scores, survival
    weight = (math.log(probability) - math.log(p0)) / (math.log(p1) - math.log(p0))
    return s0 + weight * (s1 - s0)


@dataclass(frozen=True)
class OpenSetCalibration:
    """The openset block of an artifact: stranger tails and genuine scores by photo count."""

    fusion: dict[str, str]
    tails: dict[int, Tail]
    genuine: dict[int, np.ndarray]  # equally weighted quantiles of single-frame genuine scores

    @classmethod
    def from_block(cls, block: dict[str, Any]) -> OpenSetCalibration:
        try:
            tails = {int(k): Tail.from_block(int(k), v) for k, v in block["tails"].items()}
            genuine = {
                int(k): np.asarray(v["quantiles"], np.float64) for k, v in block["genuine"].items()
            }
            fusion = dict(block["fusion"])
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise CalibrationError(f"openset block: {exc!r}") from None
        if not tails or set(tails) != set(genuine) or min(tails) != 1:
            raise CalibrationError("openset block needs tails and genuine scores from 1 photo up")
        if sorted(tails) != list(range(1, max(tails) + 1)):
            raise CalibrationError("openset tails must cover every photo count from 1 up")
        return cls(fusion=fusion, tails=tails, genuine=genuine)

    @classmethod
    def from_metadata(cls, metadata: dict[str, Any]) -> OpenSetCalibration:
        return cls.from_block(openset_block(metadata))

    @property
    def max_photos(self) -> int:
        return max(self.tails)

    def tail(self, photos: int) -> Tail:
        """The tail for holders of this many photos; more photos than calibrated use the
        largest calibrated count (a template's scores change little beyond a few photos)."""
        if photos < 1:
            raise ValueError("a holder needs at least one photo")
        return self.tails[min(photos, self.max_photos)]

    def genuine_scores(self, photos: int) -> np.ndarray:
        return self.genuine[min(max(photos, 1), self.max_photos)]


def per_holder_probability(holders: int, fpir: float) -> float:
    """p with 1 - (1 - p) ** holders == fpir: the share of the budget of each holder."""
    if holders < 1 or not 0 < fpir < 1:
        raise ValueError("need holders >= 1 and 0 < fpir < 1")
    return -math.expm1(math.log1p(-fpir) / holders)


def fpir_of(holders: int, probability: float) -> float:
    """1 - (1 - probability) ** holders: a stranger outscores at least one threshold."""
    if probability >= 1:
        return 1.0
    return -math.expm1(holders * math.log1p(-probability))


@dataclass(frozen=True)
class Threshold:
    score: float  # admit at or above (fused score, fusion.py)
    per_holder_probability: float  # a stranger reaches `score` against one holder (the FAR)
    expected_fpir: float  # strangers reaching it against at least one of `holders`
    beyond_calibration: bool  # the asked-for probability was below the fit's floor: clamped
    holders: int
    photos: int


def threshold_for(cal: OpenSetCalibration, holders: int, fpir: float, photos: int = 1) -> Threshold:
    """The admit threshold for a holder of `photos` photos in a gallery of `holders` at level
    `fpir`; holders=1 gives the 1:1 threshold at FAR `fpir`."""
    tail = cal.tail(photos)
    wanted = per_holder_probability(holders, fpir)
    used = max(wanted, tail.min_probability)
    return Threshold(
        score=tail.score_at(used),
        per_holder_probability=used,
        expected_fpir=fpir_of(holders, used),
        beyond_calibration=wanted < tail.min_probability,
        holders=holders,
        photos=photos,
    )


def one_to_one_threshold(cal: OpenSetCalibration, far: float, photos: int = 1) -> Threshold:
    return threshold_for(cal, 1, far, photos)


def stranger_probability(cal: OpenSetCalibration, score: float, photos: int = 1) -> float:
    """P(a stranger's fused score against one holder >= score), never below the fit's floor
    (an upper bound there: the fit says nothing smaller)."""
    tail = cal.tail(photos)
    return max(tail.survival(score), tail.min_probability)


def expected_fpir(cal: OpenSetCalibration, holders: int, score: float, photos: int = 1) -> float:
    """Share of strangers whose best fused score among `holders` holders reaches `score`."""
    return fpir_of(holders, stranger_probability(cal, score, photos))


def beyond_calibration(cal: OpenSetCalibration, score: float, photos: int = 1) -> bool:
    tail = cal.tail(photos)
    return tail.survival(score) < tail.min_probability


@dataclass(frozen=True)
class Capacity:
    """What a face-only gate can expect at one size and level (from the calibration)."""

    holders: int
    level: float  # FPIR for 1:N, FAR of the review floor
    photos: int
    margin: float
    admit_threshold: float
    review_threshold: float  # the 1:1 threshold at the level's FAR
    expected_fpir: float  # strangers admitted as someone (upper bound: margin ignored)
    expected_stranger_review: float  # strangers sent to review
    expected_tpir: float  # holders admitted as themselves without review
    expected_review: float  # holders sent to review
    expected_wrong_holder: float  # holders admitted as someone else (upper bound: a holder
    # counts as a stranger to the other holders; measured far lower, docs/openset-calibration.md)
    beyond_calibration: bool

    @property
    def face_only_sensible(self) -> bool:
        """Below half the holders admitted without review, ticket + face (1:1) is the mode."""
        return self.expected_tpir >= 0.5


def capacity(
    cal: OpenSetCalibration, holders: int, level: float, photos: int = 1, margin: float = 0.0
) -> Capacity:
    """Expected outcomes of the decision rule ADMIT (best fused score >= admit threshold and
    beats the runner-up by `margin`), REVIEW (best >= review threshold otherwise), DENY, for a
    gallery of `holders` holders with `photos` photos each, probed by single frames.

    Holders' genuine scores are the stored genuine quantiles (single frames, fitted identities);
    the other holders' scores are independent draws from the stranger tail. holders >= 1."""
    admit = threshold_for(cal, holders, level, photos)
    review = threshold_for(cal, 1, level, photos)
    tail = cal.tail(photos)
    genuine = cal.genuine_scores(photos)
    others = holders - 1

    def none_reach(scores):  # P(no other holder's score reaches `scores`)
        return (1.0 - tail.survivals(scores)) ** others

    admitted = np.mean((genuine >= admit.score) * none_reach(genuine - margin))
    wrong = np.mean(1.0 - none_reach(np.maximum(admit.score, genuine + margin)))
    reaches_review = np.mean(1.0 - (genuine < review.score) * none_reach(review.score))
    stranger_reach = fpir_of(holders, stranger_probability(cal, review.score, photos))
    return Capacity(
        holders=holders,
        level=level,
        photos=photos,
        margin=margin,
        admit_threshold=admit.score,
        review_threshold=review.score,
        expected_fpir=admit.expected_fpir,
        expected_stranger_review=max(stranger_reach - admit.expected_fpir, 0.0),
        expected_tpir=float(admitted),
        expected_review=float(max(reaches_review - admitted - wrong, 0.0)),
        expected_wrong_holder=float(wrong),
        beyond_calibration=admit.beyond_calibration,
    )


def expected_tpir(cal, holders: int, level: float, photos: int = 1, margin: float = 0.0) -> float:
    return capacity(cal, holders, level, photos, margin).expected_tpir


def expected_review(cal, holders: int, level: float, photos: int = 1, margin: float = 0.0) -> float:
    return capacity(cal, holders, level, photos, margin).expected_review


def largest_sensible_gallery(
    cal: OpenSetCalibration, level: float, photos: int = 1, margin: float = 0.0, cap: int = 10**7
) -> int:
    """The most holders at which a face-only gate still admits at least half of the holders
    without review (Capacity.face_only_sensible); 0 when not even one holder does."""
    if not capacity(cal, 1, level, photos, margin).face_only_sensible:
        return 0
    low, high = 1, cap
    if capacity(cal, high, level, photos, margin).face_only_sensible:
        return high
    while high - low > 1:  # expected TPIR falls as holders are added
        middle = (low + high) // 2
        if capacity(cal, middle, level, photos, margin).face_only_sensible:
            low = middle
        else:
            high = middle
    return low
