import pytest

from inference.thresholds import (
    counts_at,
    insufficient_evidence,
    pr_curve,
    recommend_threshold,
    tradeoff,
)


def scored(people, others):
    return list(people) + list(others), [True] * len(people) + [False] * len(others)


def test_pr_curve_counts_every_candidate_threshold():
    scores, labels = scored([0.9, 0.6], [0.7, 0.2])
    curve = pr_curve(scores, labels)
    assert [row["threshold"] for row in curve] == [0.2, 0.6, 0.7, 0.9]
    at_06 = curve[1]
    assert (at_06["tp"], at_06["fp"], at_06["fn"], at_06["tn"]) == (2, 1, 0, 1)
    assert at_06["precision"] == pytest.approx(2 / 3) and at_06["recall"] == 1.0
    at_09 = curve[3]
    assert (at_09["tp"], at_09["fp"], at_09["fn"], at_09["tn"]) == (1, 0, 1, 2)


def test_counts_of_pairs_are_exact_and_rounded_only_when_serialised():
    from inference.thresholds import Counts

    c = Counts.of([(True, True), (True, True), (True, False), (False, True), (False, False)])
    assert (c.tp, c.fp, c.fn, c.tn, c.clips) == (2, 1, 1, 1, 5)
    assert c.recall == 2 / 3 and c.precision == 2 / 3
    assert c.as_dict(digits=4) == {"tp": 2, "fp": 1, "fn": 1, "tn": 1, "recall": 0.6667, "precision": 0.6667}
    assert c.as_dict()["recall"] == 2 / 3
    assert Counts().as_dict(digits=4) == {"tp": 0, "fp": 0, "fn": 0, "tn": 0, "recall": None, "precision": None}
    assert counts_at([0.9, 0.1], [True, False], 0.5).as_dict()["threshold"] == 0.5


def test_precision_is_none_where_nothing_alerts_and_recall_none_without_people():
    c = counts_at([0.1], [False], 0.5)
    assert c.precision is None and c.recall is None


def test_it_recommends_the_highest_threshold_that_keeps_every_person_of_100_at_99_percent():
    # 100 people scoring 0.30..0.99, 100 false positives scoring 0.05..0.45.
    people = [0.30 + 0.69 * i / 99 for i in range(100)]
    others = [0.05 + 0.40 * i / 99 for i in range(100)]
    scores, labels = scored(people, others)
    rec = recommend_threshold(scores, labels, target_recall=0.99)
    # 99% of 100 allows one person lost: the 99th best person's score, i.e. the second lowest.
    assert rec.threshold == pytest.approx(people[1])
    assert rec.at_threshold.fn == 1 and rec.at_threshold.recall == pytest.approx(0.99)
    assert rec.reachable and (rec.positives, rec.negatives, rec.reviews) == (100, 100, 200)
    # Nothing higher keeps the target, and the threshold is on a person's score (no gap left).
    assert counts_at(scores, labels, rec.threshold + 1e-9).recall < 0.99


def test_a_target_of_100_percent_keeps_the_lowest_scoring_person():
    scores, labels = scored([0.8] * 20 + [0.31], [0.1] * 20 + [0.5] * 5)
    rec = recommend_threshold(scores, labels, target_recall=1.0)
    assert rec.threshold == 0.31 and rec.at_threshold.fn == 0 and rec.at_threshold.fp == 5


def test_the_tradeoff_states_false_alerts_removed_and_people_lost():
    scores, labels = scored([0.9] * 30 + [0.35], [0.3] * 10 + [0.4] * 5 + [0.95])
    t = tradeoff(scores, labels, current=0.25, proposed=0.5)
    assert t["false_alerts_removed"] == 15 and t["people_lost"] == 1
    assert (t["alerts_before"], t["alerts_after"]) == (47, 31)


def test_too_few_reviews_or_people_gives_no_recommendation_and_says_why():
    scores, labels = scored([0.9] * 5, [0.1] * 5)
    assert recommend_threshold(scores, labels) is None
    assert "10 reviewed clips; at least 30" in insufficient_evidence(scores, labels)
    scores, labels = scored([0.9] * 5, [0.1] * 40)
    assert recommend_threshold(scores, labels) is None
    assert "5 confirmed people; at least 10" in insufficient_evidence(scores, labels)
    assert recommend_threshold(scores, labels, min_positives=5, min_reviews=10) is not None


def test_people_the_detector_never_saw_make_the_target_unreachable_and_it_says_so():
    # 10 of 50 people scored 0: at most 80% recall. Keep everyone who can be kept.
    scores, labels = scored([0.0] * 10 + [0.6] * 39 + [0.42], [0.2] * 30)
    rec = recommend_threshold(scores, labels)
    assert rec.reachable is False and rec.threshold == 0.42 and rec.at_threshold.fn == 10
    scores, labels = scored([0.0] * 12, [0.2] * 30)
    assert recommend_threshold(scores, labels) is None
    assert "none of the 12" in insufficient_evidence(scores, labels)


def test_mismatched_inputs_and_bad_targets_are_errors():
    with pytest.raises(ValueError):
        pr_curve([0.1, 0.2], [True])
    scores, labels = scored([0.9] * 20, [0.1] * 20)
    with pytest.raises(ValueError):
        recommend_threshold(scores, labels, target_recall=0)
