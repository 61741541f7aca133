"""The gate's decision rules on their own: numbers in, a verdict out (no database, no worker)."""

from checkins import decision
from checkins.decision import Candidate, Decision, Thresholds

# 1:1 at the level's FAR 0.93; face only at this event's size 0.95; runner-up margin 0.01.
LIMITS = Thresholds(one_to_one=0.93, one_to_many=0.95, margin=0.01)
UNCALIBRATED = Thresholds(one_to_one=0.93, one_to_many=None, margin=0.01)


def _candidates(*scores, limits=LIMITS, revoked=()):
    return [
        Candidate(index + 1, score, limits, index + 1 in revoked)
        for index, score in enumerate(scores)
    ]


def test_a_ticket_holder_whose_face_reaches_the_threshold_is_admitted():
    verdict = decision.one_to_one(
        holder_id=7, revoked=False, score=0.94, thresholds=LIMITS, frames=2
    )
    assert (verdict.decision, verdict.reason, verdict.holder_id) == (Decision.ADMIT, "", 7)
    assert verdict.details == {"threshold": 0.93, "frames": 2}


def test_a_face_below_the_threshold_is_a_mismatch_and_no_enrolled_face_is_said_so():
    low = decision.one_to_one(holder_id=7, revoked=False, score=0.9, thresholds=LIMITS, frames=1)
    assert (low.decision, low.reason, low.score) == (Decision.DENY, "face_mismatch", 0.9)
    none = decision.one_to_one(holder_id=7, revoked=False, score=None, thresholds=LIMITS, frames=1)
    assert (none.decision, none.reason) == (Decision.DENY, "not_enrolled")


def test_a_revoked_ticket_is_denied_whatever_the_face():
    verdict = decision.one_to_one(
        holder_id=7, revoked=True, score=0.99, thresholds=LIMITS, frames=1
    )
    assert (verdict.decision, verdict.reason) == (Decision.DENY, "ticket_revoked")


def test_face_only_admits_above_the_threshold_for_the_events_size_with_a_clear_lead():
    verdict = decision.one_to_many(candidates=_candidates(0.96, 0.90), frames=1)
    assert (verdict.decision, verdict.holder_id) == (Decision.ADMIT, 1)
    assert verdict.details["threshold"] == 0.95 and verdict.details["review_threshold"] == 0.93


def test_face_only_sends_to_review_between_the_one_to_one_and_the_open_set_threshold():
    verdict = decision.one_to_many(candidates=_candidates(0.94, 0.80), frames=1)
    assert (verdict.decision, verdict.reason, verdict.holder_id) == (
        Decision.REVIEW,
        "needs_review",
        1,
    )


def test_face_only_sends_two_close_matches_to_review_even_above_the_open_set_threshold():
    verdict = decision.one_to_many(candidates=_candidates(0.960, 0.955), frames=1)
    assert (verdict.decision, verdict.reason) == (Decision.REVIEW, "ambiguous_match")


def test_face_only_denies_below_the_one_to_one_threshold_or_when_nobody_is_enrolled():
    weak = decision.one_to_many(candidates=_candidates(0.5), frames=1)
    assert (weak.decision, weak.reason, weak.holder_id) == (Decision.DENY, "no_match", None)
    empty = decision.one_to_many(candidates=[], frames=1)
    assert (empty.decision, empty.reason) == (Decision.DENY, "no_match")


def test_an_uncalibrated_model_never_admits_at_a_face_only_gate():
    verdict = decision.one_to_many(candidates=_candidates(0.99, limits=UNCALIBRATED), frames=1)
    assert (verdict.decision, verdict.reason) == (Decision.REVIEW, "needs_review")


def test_face_only_denies_a_revoked_best_match():
    verdict = decision.one_to_many(candidates=_candidates(0.97, revoked={1}), frames=1)
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


def test_a_burst_that_is_not_a_live_person_is_denied_whatever_the_face():
    assert decision.liveness(live=True, code="") is None
    card = decision.liveness(live=False, code="not_live", holder_id=4)
    assert (card.decision, card.reason, card.holder_id) == (Decision.DENY, "not_live", 4)
    wrong_way = decision.liveness(live=False, code="challenge_not_met", holder_id=4)
    assert wrong_way.reason == "challenge_not_met"
    unseen = decision.liveness(live=False, code="too_few_frames", holder_id=4)
    assert (unseen.reason, unseen.holder_id) == ("too_few_frames", None)
