"""Rollout calibration statistics on synthetic records with a known answer."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from neural_gym.world_models.calibration import (
    RolloutCalibration,
    RolloutRecords,
    choose_cutoff,
    conformal_risk_curve,
    conformal_threshold,
    episode_losses,
    horizon_normalised,
    kept_steps,
    pooled_auroc,
    running_max,
    running_sum,
    score_cutoff,
    split_episodes,
    threshold_from_risk_curve,
    with_derived,
    within_step_auroc,
)

TAU = 1.0


def _random_walk_records(rng: np.random.Generator, n: int, lengths: tuple[int, int] = (20, 40)) -> RolloutRecords:
    """Error = |random walk whose increments have spread d_j| (the one-step disagreement); lengths vary."""
    errors, signals = [], []
    for _ in range(n):
        t = int(rng.integers(lengths[0], lengths[1] + 1))
        scale = rng.lognormal(-1.5, 0.5)  # per-episode model quality
        d = scale * rng.lognormal(0.0, 0.3, size=t)
        errors.append(np.abs(np.cumsum(d * rng.normal(size=t))))
        signals.append(d)
    return RolloutRecords(error=errors, signals={"d": signals})


def test_records_validate_and_copy() -> None:
    e = [np.array([0.1, 0.2]), np.array([0.3])]
    rec = RolloutRecords(error=e, signals={"d": [np.array([1.0, 2.0]), np.array([3.0])]})
    e[0][0] = 99.0
    assert rec.error[0][0] == 0.1 and rec.n_episodes == 2 and rec.lengths.tolist() == [2, 1]
    with pytest.raises(ValueError, match="at least 2 episodes"):
        RolloutRecords(error=[np.ones(3)], signals={"d": [np.ones(3)]})
    with pytest.raises(ValueError, match="non-finite"):
        RolloutRecords(error=[np.ones(2), np.array([1.0, np.nan])], signals={"d": [np.ones(2)] * 2})
    with pytest.raises(ValueError, match="episode 1 has 3 steps, its error has 2"):
        RolloutRecords(error=[np.ones(2)] * 2, signals={"d": [np.ones(2), np.ones(3)]})
    with pytest.raises(ValueError, match="1 episodes, the error has 2"):
        RolloutRecords(error=[np.ones(2)] * 2, signals={"d": [np.ones(2)]})
    with pytest.raises(ValueError, match="non-empty mapping"):
        RolloutRecords(error=[np.ones(2)] * 2, signals={})
    with pytest.raises(ValueError, match="non-empty 1-D"):
        RolloutRecords(error=[np.ones(2), np.ones(0)], signals={"d": [np.ones(2), np.ones(0)]})
    with pytest.raises(ValueError, match="sequence of per-episode arrays"):
        RolloutRecords(error=np.ones(3), signals={"d": [np.ones(3)]})
    with pytest.raises(KeyError, match="unknown signal 'x'"):
        rec.signal("x")
    with pytest.raises(ValueError, match="indices"):
        rec.subset([0, 5])


def test_derived_signals() -> None:
    x = [np.array([1.0, 3.0, 2.0, 4.0]), np.array([2.0])]
    assert [a.tolist() for a in running_sum(x)] == [[1, 4, 6, 10], [2]]
    assert [a.tolist() for a in running_max(x)] == [[1, 3, 3, 4], [2]]
    assert horizon_normalised(x)[0] == pytest.approx([1.0, 3 / np.sqrt(2), 2 / np.sqrt(3), 2.0])
    rec = with_derived(RolloutRecords(error=[np.zeros(4), np.zeros(1)], signals={"d": x}), "d")
    assert list(rec.signals) == ["d", "d_max", "d_sum", "d_sum_per_sqrt_step"]
    assert rec.signal("d_sum_per_sqrt_step")[0] == pytest.approx(np.array([1, 4, 6, 10]) / np.sqrt([1, 2, 3, 4]))


def test_signal_that_tracks_the_error_wins_auroc() -> None:
    rng = np.random.default_rng(0)
    sig = [rng.gamma(2.0, 0.5, size=int(rng.integers(15, 30))) for _ in range(60)]
    rec = RolloutRecords(
        error=[s + rng.normal(0, 0.05, size=s.size) for s in sig],
        signals={"unrelated": [rng.gamma(2.0, 0.5, size=s.size) for s in sig], "good": sig},
    )
    choice = choose_cutoff(rec, TAU, alpha=0.1, seed=1)
    assert choice.signal == "good"
    assert choice.choice_auroc["good"] > 0.95 and abs(choice.choice_auroc["unrelated"] - 0.5) < 0.1
    assert choice.score.auroc > 0.95
    assert set(choice.choice_episodes).isdisjoint(choice.scoring_episodes)
    assert len(choice.choice_episodes) + len(choice.scoring_episodes) == 60


def test_within_step_auroc_sees_through_the_clock() -> None:
    """Error grows with the step for every episode, plus a per-episode offset the 'aware' signal knows: pooled over
    steps the step counter scores high, but at equal steps only the aware signal ranks episodes (the counter: 0.5)."""
    rng = np.random.default_rng(3)
    errors, aware, clock = [], [], []
    for _ in range(80):
        t = int(rng.integers(20, 31))
        offset = rng.normal(0.0, 0.4)
        errors.append(0.06 * np.arange(1, t + 1) + offset + rng.normal(0, 0.05, size=t))
        aware.append(np.full(t, offset) + rng.normal(0, 0.05, size=t))
        clock.append(np.arange(1.0, t + 1.0))
    rec = RolloutRecords(error=errors, signals={"clock": clock, "aware": aware})
    assert pooled_auroc(rec, "clock", TAU) > 0.8
    assert within_step_auroc(rec, "clock", TAU) == pytest.approx(0.5)
    assert within_step_auroc(rec, "aware", TAU) > 0.9
    # by hand: two episodes, step 0 has one wrong (higher signal) and one right; step 1 only one class
    two = RolloutRecords(error=[np.array([2.0, 2.0]), np.array([0.0, 2.0])], signals={"s": [np.ones(2), np.zeros(2)]})
    assert within_step_auroc(two, "s", TAU) == 1.0
    one_class = RolloutRecords(error=[np.zeros(3), np.zeros(3)], signals={"s": [np.ones(3), np.zeros(3)]})
    assert math.isnan(within_step_auroc(one_class, "s", TAU))
    with pytest.raises(ValueError, match="min_per_class"):
        within_step_auroc(rec, "aware", TAU, min_per_class=0)
    with pytest.raises(KeyError):
        within_step_auroc(rec, "nope", TAU)


def test_running_max_beats_one_step_signal_when_error_is_a_random_walk() -> None:
    rec = with_derived(_random_walk_records(np.random.default_rng(1), 200), "d")
    choice = choose_cutoff(rec, TAU, alpha=0.1, candidates=["d", "d_max"], seed=0)
    assert choice.signal == "d_max"
    assert choice.choice_auroc["d_max"] > choice.choice_auroc["d"] + 0.05
    # with the accumulated signals in the running, an accumulating one wins over both
    full = choose_cutoff(rec, TAU, alpha=0.1, seed=0)
    assert full.signal in ("d_sum", "d_sum_per_sqrt_step")
    assert full.choice_auroc[full.signal] > full.choice_auroc["d_max"]


def test_ties_go_to_the_simpler_signal_and_split_is_seeded() -> None:
    rec = _random_walk_records(np.random.default_rng(2), 20)
    rec = rec.with_signals({"copy": rec.signal("d")})
    assert choose_cutoff(rec, TAU, 0.2, candidates=["d", "copy"]).signal == "d"
    assert choose_cutoff(rec, TAU, 0.2, candidates=["copy", "d"]).signal == "copy"
    a, b = split_episodes(20, 0.5, seed=3), split_episodes(20, 0.5, seed=3)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not np.array_equal(a[0], split_episodes(20, 0.5, seed=4)[0])


def test_loss_is_not_monotone_but_its_envelope_is() -> None:
    # a wrong first step, then right steps: the share of wrong kept steps falls as more is kept
    rec = RolloutRecords(
        error=[np.array([2.0, 0.0, 0.0, 0.0]), np.array([0.0, 0.0, 3.0, 3.0])],
        signals={"d": [np.array([0.1, 0.2, 0.3, 0.4]), np.array([0.1, 0.1, 0.5, 0.2])]},
    )
    grid = np.linspace(-1, 1, 201)
    raw = episode_losses(rec, "d", TAU, grid)
    mono = episode_losses(rec, "d", TAU, grid, monotone=True)
    assert raw[0, grid < 0.1].max() == 0.0 and raw[0, grid >= 0.4].max() == pytest.approx(0.25)
    assert (np.diff(raw[0]) < 0).any()  # the raw loss does fall
    assert (np.diff(mono, axis=1) >= 0).all() and (mono >= raw).all() and (mono <= 1).all()
    # episode 1: kept 2 (tied running max 0.1), then all 4 at t >= 0.5; loss 0 then 2/4
    assert kept_steps(rec.signal("d")[1], np.array([0.05, 0.1, 0.49, 0.5])).tolist() == [0, 2, 2, 4]
    assert raw[1, grid >= 0.5].min() == pytest.approx(0.5)


def test_conformal_threshold_on_hand_made_records() -> None:
    rec = RolloutRecords(
        error=[np.array([0.0, 0.0, 2.0]), np.array([0.0, 2.0, 2.0]), np.array([0.0, 0.0, 0.0])],
        signals={"d": [np.array([0.1, 0.2, 0.3]), np.array([0.1, 0.2, 0.3]), np.array([0.1, 0.2, 0.3])]},
    )
    # grid -inf, 0.1, 0.2, 0.3: mean loss 0, 0, 1/6, 1/3 -> bound 1/4, 1/4, 3/8, 1/2
    assert conformal_threshold(rec, "d", TAU, alpha=0.3).threshold == 0.1
    res = conformal_threshold(rec, "d", TAU, alpha=0.4)
    assert res.meets_alpha and res.threshold == 0.2 and res.bound == pytest.approx(3 / 8)
    assert res.mean_loss == pytest.approx(1 / 6) and res.pooled_wrong_share == pytest.approx(1 / 6)
    assert res.kept_share == pytest.approx(6 / 9) and res.mean_kept_steps == 2.0
    assert conformal_threshold(rec, "d", TAU, alpha=0.5).threshold == 0.3
    low = conformal_threshold(rec, "d", TAU, alpha=0.2)  # 1/(n+1) = 0.25 > 0.2: nothing meets alpha
    assert not low.meets_alpha and low.threshold == -math.inf and low.kept_share == 0.0
    assert math.isnan(low.pooled_wrong_share)


@pytest.mark.parametrize("alpha", [0.0, 1.0, -0.1, 1.5, float("nan")])
def test_bad_alpha_is_refused(alpha: float) -> None:
    rec = _random_walk_records(np.random.default_rng(3), 5)
    with pytest.raises(ValueError, match=r"alpha must lie in \(0, 1\)"):
        conformal_threshold(rec, "d", TAU, alpha)


def test_bad_inputs() -> None:
    rec = _random_walk_records(np.random.default_rng(4), 5)
    with pytest.raises(ValueError, match="tau must be a finite"):
        conformal_threshold(rec, "d", float("inf"), 0.1)
    with pytest.raises(KeyError):
        conformal_threshold(rec, "nope", TAU, 0.1)
    with pytest.raises(ValueError, match="at least 4 episodes"):
        choose_cutoff(rec.subset([0, 1, 2]), TAU, 0.1)
    with pytest.raises(ValueError, match="choice_share"):
        choose_cutoff(rec, TAU, 0.1, choice_share=1.0)
    with pytest.raises(ValueError, match="at least one signal"):
        choose_cutoff(rec, TAU, 0.1, candidates=[])
    with pytest.raises(ValueError, match="NaN"):
        score_cutoff(rec, "d", float("nan"), TAU)


def test_score_cutoff_timing_by_hand() -> None:
    rec = RolloutRecords(
        # trusted horizons 2, 4, never wrong
        error=[np.array([0.0, 0.0, 2.0, 2.0]), np.array([0.0, 0.0, 0.0, 0.0, 2.0]), np.zeros(3)],
        signals={"d": [np.array([0.0, 1.0, 1.0, 1.0]), np.array([0.0, 0.0, 0.0, 0.0, 0.0]), np.array([0.0, 0.0, 1.0])]},
    )
    s = score_cutoff(rec, "d", 0.5, TAU)
    # episode 0 cut at step 1 (kept 1 <= 2, >= 1): cut step not wrong; episode 1 never cut (kept 5 > 4);
    # episode 2 cut at step 2 (not wrong, no trusted horizon)
    assert s.n_cutoffs == 2 and s.justified_share == 0.0 and s.n_wrong_episodes == 2
    assert s.cut_no_later_share == 0.5 and s.cut_no_earlier_than_half_share == 1.0


def test_conformal_guarantee_holds_on_exchangeable_episodes() -> None:
    """Over 300 seeded calibrate-on-n / test-on-fresh-episodes repetitions, the mean realised per-episode share of
    wrong kept steps stays within a Monte-Carlo margin of alpha, and the threshold keeps a substantial share."""
    alpha, n, n_test, reps = 0.1, 40, 10, 300
    losses, kept, loose = [], [], []
    for rep in range(reps):
        rng = np.random.default_rng(1000 + rep)
        cal = with_derived(_random_walk_records(rng, n), "d")
        test = with_derived(_random_walk_records(rng, n_test), "d")
        res = conformal_threshold(cal, "d_sum_per_sqrt_step", TAU, alpha)
        assert res.meets_alpha and res.bound <= alpha + 1e-12
        losses.append(episode_losses(test, "d_sum_per_sqrt_step", TAU, [res.threshold])[:, 0].mean())
        kept.append(
            sum(int(kept_steps(s, res.threshold)) for s in test.signal("d_sum_per_sqrt_step")) / test.lengths.sum()
        )
        loose.append(episode_losses(test, "d_sum_per_sqrt_step", TAU, [3.0 * res.threshold])[:, 0].mean())
    losses_a = np.asarray(losses)
    mean, se = losses_a.mean(), losses_a.std(ddof=1) / np.sqrt(reps)
    assert se < 0.01  # the check below is sharp enough to mean something
    assert mean <= alpha + 3 * se, (mean, se)
    assert mean > alpha / 3  # not trivially 0
    assert np.mean(kept) > 0.3  # not "cut at once"
    assert np.mean(loose) > alpha + 3 * se  # a threshold 3x larger would break the bound: the check can fail


# ------------------------------------------------------------------------------- the stored form: the risk curve
ALPHAS = np.round(np.linspace(0.01, 0.99, 99), 2)


def _stored(records: RolloutRecords, signal: str, alpha: float = 0.2) -> RolloutCalibration:
    """A :class:`RolloutCalibration` of ``records`` at ``alpha`` (its curve, its threshold)."""
    t, r = conformal_risk_curve(records, signal, TAU)
    return RolloutCalibration(
        signal=signal,
        threshold=conformal_threshold(records, signal, TAU, alpha).threshold,
        alpha=alpha,
        tau=TAU,
        error="nrmse",
        n_calibration_episodes=records.n_episodes,
        risk_thresholds=t.tolist(),
        risk_values=r.tolist(),
        candidate_auroc={signal: 0.8, "other": None},
        scores={"auroc": 0.75, "one_step": {"auroc": None}},
        scored_on={"task": "Hopper", "episodes": records.n_episodes},
    )


@pytest.mark.parametrize("signal", ["d", "d_max", "d_sum", "d_sum_per_sqrt_step"])
def test_risk_curve_gives_conformal_threshold_for_every_alpha(signal: str) -> None:
    """The compressed curve a checkpoint stores reproduces conformal_threshold exactly, alpha by alpha (including
    alphas below 1/(n+1) and the cut-at-once case), and is much smaller than the records."""
    rec = with_derived(_random_walk_records(np.random.default_rng(7), 12), "d")
    t, r = conformal_risk_curve(rec, signal, TAU)
    assert np.isfinite(t).all() and (np.diff(t) > 0).all() and (np.diff(r) > 0).all()
    assert r[0] >= 0 and r[-1] <= 1
    assert t.size < rec.lengths.sum()
    for alpha in ALPHAS:
        ref = conformal_threshold(rec, signal, TAU, float(alpha))
        assert threshold_from_risk_curve(t, r, rec.n_episodes, float(alpha)) == (ref.threshold, ref.meets_alpha)
    assert not threshold_from_risk_curve(t, r, 12, 0.05)[1]  # 1/(n+1) = 1/13 > 0.05


def test_risk_curve_by_hand() -> None:
    rec = RolloutRecords(  # the records of test_conformal_threshold_on_hand_made_records
        error=[np.array([0.0, 0.0, 2.0]), np.array([0.0, 2.0, 2.0]), np.array([0.0, 0.0, 0.0])],
        signals={"d": [np.array([0.1, 0.2, 0.3]), np.array([0.1, 0.2, 0.3]), np.array([0.1, 0.2, 0.3])]},
    )
    t, r = conformal_risk_curve(rec, "d", TAU)
    # mean loss 0 (-inf, 0.1), 1/6 (0.2), 1/3 (0.3): the zero run ends at 0.1
    np.testing.assert_allclose(t, [0.1, 0.2, 0.3])
    np.testing.assert_allclose(r, [0.0, 1 / 6, 1 / 3])
    assert threshold_from_risk_curve(t, r, 3, 0.4) == (0.2, True)
    with pytest.raises(ValueError, match="same length"):
        threshold_from_risk_curve(t, r[:-1], 3, 0.4)
    with pytest.raises(ValueError, match="n_episodes"):
        threshold_from_risk_curve(t, r, 0, 0.4)


def test_rollout_calibration_round_trips_through_json() -> None:
    rec = with_derived(_random_walk_records(np.random.default_rng(8), 20), "d")
    cal = _stored(rec, "d_sum")
    again = RolloutCalibration.from_dict(json.loads(json.dumps(cal.to_dict(), allow_nan=False)))
    assert again == cal and again.threshold == cal.threshold  # floats survive JSON exactly


def test_risk_threshold_is_monotone_in_alpha_and_matches_conformal() -> None:
    rec = with_derived(_random_walk_records(np.random.default_rng(9), 30), "d")
    cal = _stored(rec, "d_sum_per_sqrt_step")
    usable = [a for a in ALPHAS if a >= 1 / 31 + 0.01]
    thresholds = [cal.threshold_for_risk(float(a)) for a in usable]
    assert all(b >= a for a, b in zip(thresholds[:-1], thresholds[1:], strict=True))
    assert thresholds[-1] > thresholds[0]  # not constant: a larger risk keeps more
    for a, t in zip(usable, thresholds, strict=True):
        assert t == conformal_threshold(rec, "d_sum_per_sqrt_step", TAU, float(a)).threshold
    with pytest.raises(ValueError, match=r"below 1/\(n\+1\)"):
        cal.threshold_for_risk(0.02)
    with pytest.raises(ValueError, match=r"alpha must lie in \(0, 1\)"):
        cal.threshold_for_risk(1.0)


def test_risk_that_only_cutting_at_once_meets_is_refused() -> None:
    # 5 of 9 episodes are wrong from their first step: keeping anything has mean loss 5/9, bound 0.9 * 5/9 + 0.1
    error = [np.full(3, 2.0)] * 5 + [np.zeros(3)] * 4
    rec = RolloutRecords(error=error, signals={"d": [np.array([0.1, 0.2, 0.3])] * 9})
    t, r = conformal_risk_curve(rec, "d", TAU)
    cal = RolloutCalibration("d", 0.3, 0.7, TAU, "nrmse", 9, t.tolist(), r.tolist())
    assert cal.threshold_for_risk(0.6) == 0.3
    with pytest.raises(ValueError, match="before its first step"):
        cal.threshold_for_risk(0.2)


def _fields(**change: object) -> dict[str, object]:
    rec = with_derived(_random_walk_records(np.random.default_rng(10), 10), "d")
    d = _stored(rec, "d_sum").to_dict()
    d.update(change)
    return d


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"signal": ""}, "signal must be"),
        ({"error": 3}, "error must name"),
        ({"threshold": float("nan")}, "threshold must be a finite"),
        ({"threshold": 1e9}, "contradicts itself"),
        ({"alpha": 0.0}, "alpha must lie"),
        ({"tau": float("inf")}, "tau must be a finite"),
        ({"n_calibration_episodes": 0}, "n_calibration_episodes"),
        ({"risk_thresholds": [2.0, 1.0], "risk_values": [0.0, 0.1]}, "strictly increasing"),
        ({"risk_thresholds": [1.0, 2.0], "risk_values": [0.2, 0.1]}, "non-decreasing"),
        ({"risk_thresholds": [1.0, 2.0], "risk_values": [0.2, 1.5]}, r"lie in \[0, 1\]"),
        ({"risk_thresholds": [1.0], "risk_values": [0.2, 0.3]}, "differ in length"),
        ({"risk_thresholds": ["a"], "risk_values": [0.2]}, "finite number"),
        ({"scores": {"auroc": float("nan")}}, "as None"),
        ({"scored_on": {"x": object()}}, "JSON value"),
        ({"candidate_auroc": {"d": float("inf")}}, "finite number"),
        ({"surprise": 1}, "unknown rollout calibration fields"),
    ],
)
def test_rollout_calibration_refuses_bad_fields(change: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        RolloutCalibration.from_dict(_fields(**change))


def test_rollout_calibration_refuses_missing_fields() -> None:
    d = _fields()
    del d["risk_values"]
    with pytest.raises(ValueError, match="malformed rollout calibration"):
        RolloutCalibration.from_dict(d)
    with pytest.raises(ValueError, match="must be a dict"):
        RolloutCalibration.from_dict([1, 2])  # type: ignore[arg-type]


@pytest.mark.parametrize("alpha", [0.1, 0.2])
def test_stored_risk_gives_the_conformal_rate_on_exchangeable_episodes(alpha: float) -> None:
    """Calibrate on n episodes, store the curve, ask it for alpha, play fresh exchangeable episodes: over 300 seeded
    repetitions the mean realised share of wrong kept steps is at most alpha (Monte-Carlo margin), and its monotone
    envelope (what CRC holds exactly) is within 2/(n+1) of alpha from below, CRC's tightness bound."""
    n, n_test, reps = 40, 10, 300
    raw, mono = [], []
    for rep in range(reps):
        rng = np.random.default_rng(5000 + rep)
        cal = _stored(with_derived(_random_walk_records(rng, n), "d"), "d_sum", alpha=alpha)
        test = with_derived(_random_walk_records(rng, n_test), "d")
        t = cal.threshold_for_risk(alpha)
        raw.append(episode_losses(test, "d_sum", TAU, [t])[:, 0].mean())
        mono.append(episode_losses(test, "d_sum", TAU, [t], monotone=True)[:, 0].mean())
    raw_a, mono_a = np.asarray(raw), np.asarray(mono)
    se = mono_a.std(ddof=1) / np.sqrt(reps)
    assert se < 0.01
    assert raw_a.mean() <= mono_a.mean() + 1e-12
    assert mono_a.mean() <= alpha + 3 * se, (mono_a.mean(), se)
    assert mono_a.mean() >= alpha - 2 / (n + 1) - 3 * se, (mono_a.mean(), se)
