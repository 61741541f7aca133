"""The gate's decision rules on their own: numbers in, a verdict out (no database, no worker)."""

from checkins import decision
from checkins.decision import Candidate, Decision, Thresholds

THRESHOLDS = Thresholds(one_to_one=0.93, margin=0.01)


def test_a_ticket_holder_whose_face_reaches_the_threshold_is_admitted():
    verdict = decision.one_to_one(
        holder_id=7, revoked=False, score=0.95, thresholds=THRESHOLDS, frames=2
    )
    assert (verdict.decision, verdict.reason, verdict.holder_id) == (Decision.ADMIT, "", 7)
    assert verdict.details == {"threshold": 0.93, "frames": 2}


def test_a_face_below_the_threshold_is_a_mismatch_and_no_enrolled_face_is_said_so():
    low = decision.one_to_one(
        holder_id=7, revoked=False, score=0.9, thresholds=THRESHOLDS, frames=1
    )
    assert (low.decision, low.reason, low.score) == (Decision.DENY, "face_mismatch", 0.9)
    none = decision.one_to_one(
        holder_id=7, revoked=False, score=None, thresholds=THRESHOLDS, frames=1
    )
    assert (none.decision, none.reason) == (Decision.DENY, "not_enrolled")


def test_a_revoked_ticket_is_denied_whatever_the_face():
    verdict = decision.one_to_one(
        holder_id=7, revoked=True, score=0.99, thresholds=THRESHOLDS, frames=1
    )
    assert (verdict.decision, verdict.reason) == (Decision.DENY, "ticket_revoked")


def test_face_only_admits_a_clear_best_match_and_reviews_two_close_ones():
    clear = decision.one_to_many(
        candidates=[Candidate(1, 0.96), Candidate(2, 0.90)], thresholds=THRESHOLDS, frames=1
    )
    assert (clear.decision, clear.holder_id) == (Decision.ADMIT, 1)
    close = decision.one_to_many(
        candidates=[Candidate(1, 0.960), Candidate(2, 0.955)], thresholds=THRESHOLDS, frames=1
    )
    assert (close.decision, close.reason, close.holder_id) == (
        Decision.REVIEW,
        "ambiguous_match",
        1,
    )


def test_face_only_denies_when_nobody_reaches_the_threshold_or_nobody_is_enrolled():
    weak = decision.one_to_many(candidates=[Candidate(1, 0.5)], thresholds=THRESHOLDS, frames=1)
    assert (weak.decision, weak.reason, weak.holder_id) == (Decision.DENY, "no_match", None)
    empty = decision.one_to_many(candidates=[], thresholds=THRESHOLDS, frames=1)
    assert (empty.decision, empty.reason) == (Decision.DENY, "no_match")


def test_face_only_denies_a_revoked_best_match():
    verdict = decision.one_to_many(
        candidates=[Candidate(1, 0.97, revoked=True)], thresholds=THRESHOLDS, frames=1
    )
    assert (verdict.decision, verdict.reason, verdict.holder_id) == (
        Decision.DENY,
        "ticket_revoked",
        1,
    )


def test_single_entry_turns_a_second_admit_into_already_checked_in_and_leaves_the_rest():
    admit = decision.Verdict(Decision.ADMIT, "", holder_id=3, score=0.97)
    again = decision.entry(admit, single_entry=True, already_entered=True)
    assert (again.decision, again.reason, again.holder_id, again.score) == (
        Decision.DENY,
        "already_checked_in",
        3,
        0.97,
    )
    assert decision.entry(admit, single_entry=False, already_entered=True) == admit
    deny = decision.deny("face_mismatch", holder_id=3)
    assert decision.entry(deny, single_entry=True, already_entered=True) == deny


def test_closed_gates_deny_before_any_face_work_and_unusable_frames_say_why():
    assert decision.gate_state(gates_open=True) is None
    assert decision.gate_state(gates_open=False).reason == "gates_not_open"
    assert decision.unusable_frames(["", "multiple_faces"]).reason == "multiple_faces"
    assert decision.unusable_frames(["", ""]).reason == "no_face"
