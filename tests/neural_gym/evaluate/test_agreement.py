"""Agreement metrics of dream and ground truth against hand-computed values, MMRV's argument order and ties,
degenerate cases, inconclusive masks, the bootstraps and bad input."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import stats

from neural_gym.evaluate import (
    agreement_report,
    bootstrap_over_episodes,
    cohen_kappa,
    episode_agreement,
    exploitation_gap,
    inconclusive_share,
    kendall_tau,
    mean_absolute_error,
    mmrv,
    pearson_r,
    spearman_rho,
)

# Three policies. dream ranks 0 < 1 < 2, real ranks 0 < 2 < 1.
DREAM = [0.1, 0.5, 0.9]
REAL = [0.2, 0.8, 0.6]


# ------------------------------------------------------------------------------------------------------- per policy
def test_correlations_hand_computed() -> None:
    # Deviations: dream [-0.4, 0, 0.4], real [-1/3, 4/15, 1/15]; Σ products 0.16, Σ dream² 0.32, Σ real² 0.18667
    # -> r = 0.16 / sqrt(0.32 · 0.18667) = sqrt(3/7).
    assert pearson_r(dream=DREAM, real=REAL) == pytest.approx(math.sqrt(3 / 7))
    # Ranks [1, 2, 3] and [1, 3, 2]: Σ d² = 2 -> ρ = 1 - 6 · 2 / (3 · 8) = 0.5.
    assert spearman_rho(dream=DREAM, real=REAL) == pytest.approx(0.5)
    # Pairs (0,1) and (0,2) concordant, (1,2) discordant: (2 - 1) / 3.
    assert kendall_tau(dream=DREAM, real=REAL) == pytest.approx(1 / 3)


def test_kendall_is_tau_b_with_ties() -> None:
    # dream [0.5, 0.75, 0], real [0.25, 1, 0.25]: (0,1) concordant, (0,2) tied in real only, (1,2) concordant.
    # τ-b = (2 - 0) / sqrt(3 untied dream pairs · 2 untied real pairs) = 2 / sqrt(6).
    assert kendall_tau(dream=[0.5, 0.75, 0.0], real=[0.25, 1.0, 0.25]) == pytest.approx(2 / math.sqrt(6))


def test_mae_and_exploitation_gap_hand_computed() -> None:
    # |0.1 - 0.2| + |0.5 - 0.8| + |0.9 - 0.6| = 0.7 over 3 policies.
    assert mean_absolute_error(dream=DREAM, real=REAL) == pytest.approx(0.7 / 3)
    np.testing.assert_allclose(exploitation_gap(dream=DREAM, real=REAL), [-0.1, -0.3, 0.3])


def test_mmrv_hand_computed_and_argument_order() -> None:
    # Only the pair (1, 2) is ordered differently (dream 0.5 < 0.9, real 0.8 > 0.6); the penalty is the real gap 0.2,
    # seen by policies 1 and 2: MMRV = (0 + 0.2 + 0.2) / 3.
    assert mmrv(dream=DREAM, real=REAL) == pytest.approx(0.4 / 3)
    # Swapped (SimplerEnv's README order, real passed as sim): the penalty becomes the dream gap 0.4.
    assert mmrv(dream=REAL, real=DREAM) == pytest.approx(0.8 / 3)
    # Two policies ranked the wrong way round: the real gap 0.2 against the dream gap 0.4.
    assert mmrv(dream=[0.8, 0.4], real=[0.3, 0.5]) == pytest.approx(0.2)
    assert mmrv(dream=[0.3, 0.5], real=[0.8, 0.4]) == pytest.approx(0.4)


def test_metrics_take_dream_and_real_by_keyword_only() -> None:
    with pytest.raises(TypeError):
        mmrv(DREAM, REAL)  # type: ignore[misc]
    with pytest.raises(TypeError):
        pearson_r(DREAM, REAL)  # type: ignore[misc]


def test_mmrv_ties_use_strict_comparisons() -> None:
    # dream ties policies 0 and 1. Strict ">": i=0 sees no violation (0.5 > 0.5 is false and 0.2 > 0.6 is false);
    # i=1: vs 0 (false vs 0.6 > 0.2) -> 0.4, vs 2 (false vs 0.6 > 0.4) -> 0.2, max 0.4; i=2: vs 1 (0.9 > 0.5 vs
    # 0.4 > 0.6 false) -> 0.2. MMRV = (0 + 0.4 + 0.2) / 3 = 0.2. With ">=" it would be 0.8 / 3; ignoring tied pairs,
    # 0.4 / 3.
    assert mmrv(dream=[0.5, 0.5, 0.9], real=[0.2, 0.6, 0.4]) == pytest.approx(0.2)
    # A tie in both worlds is no violation; a real tie costs nothing (penalty |real_i - real_j| = 0).
    assert mmrv(dream=[0.5, 0.5], real=[0.3, 0.3]) == 0.0
    assert mmrv(dream=[0.2, 0.6], real=[0.5, 0.5]) == 0.0
    # Equal dream scores, different real ones: only the higher real policy sees the violation: (0 + 0.4) / 2.
    assert mmrv(dream=[0.5, 0.5], real=[0.2, 0.6]) == pytest.approx(0.2)


def test_perfect_ranking_has_no_violation() -> None:
    assert mmrv(dream=[0.1, 0.2, 0.3], real=[0.4, 0.6, 0.9]) == 0.0
    assert spearman_rho(dream=[0.1, 0.2, 0.3], real=[0.4, 0.6, 0.9]) == pytest.approx(1.0)
    assert kendall_tau(dream=[0.1, 0.2, 0.3], real=[0.9, 0.6, 0.4]) == pytest.approx(-1.0)


def test_degenerate_policy_sets() -> None:
    # One policy: no pair to correlate or rank; the error is still defined.
    for f in (pearson_r, spearman_rho, kendall_tau, mmrv):
        assert math.isnan(f(dream=[0.7], real=[0.4])), f.__name__
    assert mean_absolute_error(dream=[0.7], real=[0.4]) == pytest.approx(0.3)
    # Zero policies: nothing is defined, nothing raises.
    assert math.isnan(mean_absolute_error(dream=[], real=[]))
    assert math.isnan(mmrv(dream=[], real=[]))
    # Constant vectors (every policy at 100%, or every dream rate equal): correlations undefined.
    for f in (pearson_r, spearman_rho, kendall_tau):
        assert math.isnan(f(dream=[1.0, 1.0, 1.0], real=[1.0, 1.0, 1.0])), f.__name__
        assert math.isnan(f(dream=[0.5, 0.5, 0.5], real=[0.1, 0.5, 0.9])), f.__name__
        assert math.isnan(f(dream=[0.1, 0.5, 0.9], real=[0.0, 0.0, 0.0])), f.__name__
    assert mmrv(dream=[1.0, 1.0, 1.0], real=[1.0, 1.0, 1.0]) == 0.0
    assert mean_absolute_error(dream=[0.0, 0.0], real=[0.0, 0.0]) == 0.0


# ------------------------------------------------------------------------------------------------------- per episode
def test_cohen_kappa_on_known_tables() -> None:
    # Table (dream rows, real columns): both succeed 20, dream only 5, real only 10, both fail 15 (n = 50).
    # p_o = 35/50 = 0.7; p_d = 25/50, p_r = 30/50 -> p_e = 0.5 · 0.6 + 0.5 · 0.4 = 0.5; κ = 0.2 / 0.5 = 0.4.
    dream = [1] * 20 + [1] * 5 + [0] * 10 + [0] * 15
    real = [1] * 20 + [0] * 5 + [1] * 10 + [0] * 15
    assert cohen_kappa(dream=dream, real=real) == pytest.approx(0.4)
    assert cohen_kappa(dream=real, real=dream) == pytest.approx(0.4)  # symmetric
    assert episode_agreement(dream=dream, real=real) == pytest.approx(0.7)
    # Perfect agreement with both verdicts present: 1. Perfect disagreement, balanced: p_o = 0, p_e = 0.5 -> -1.
    assert cohen_kappa(dream=[1, 0, 1, 0], real=[1, 0, 1, 0]) == pytest.approx(1.0)
    assert cohen_kappa(dream=[1, 0], real=[0, 1]) == pytest.approx(-1.0)
    # One world constant, the other not: p_e = p_o -> 0 (no better than chance).
    assert cohen_kappa(dream=[True, True, True, True], real=[True, False, True, True]) == pytest.approx(0.0)
    # Opposite constants: p_o = 0, p_e = 0 -> 0.
    assert cohen_kappa(dream=[1, 1, 1], real=[0, 0, 0]) == pytest.approx(0.0)


def test_kappa_undefined_when_both_worlds_are_constant_and_equal() -> None:
    # p_e = 1: all success, or all failure, in both worlds.
    assert math.isnan(cohen_kappa(dream=[1, 1, 1], real=[1, 1, 1]))
    assert math.isnan(cohen_kappa(dream=[0, 0, 0], real=[0, 0, 0]))
    assert episode_agreement(dream=[1, 1, 1], real=[1, 1, 1]) == 1.0
    assert episode_agreement(dream=[0, 0, 0], real=[0, 0, 0]) == 1.0
    assert math.isnan(episode_agreement(dream=[], real=[]))
    assert math.isnan(cohen_kappa(dream=[], real=[]))


def test_inconclusive_episodes_are_left_out() -> None:
    dream = [1, 0, 1, 1]
    real = [1, 1, 0, 1]
    cut = [False, True, False, False]
    # All four: episodes 0 and 3 agree -> 0.5. Without episode 1: 0 and 3 of {0, 2, 3} -> 2/3.
    assert episode_agreement(dream=dream, real=real) == pytest.approx(0.5)
    assert episode_agreement(dream=dream, real=real, inconclusive=cut) == pytest.approx(2 / 3)
    # Kept table: both 1, dream only 1, real only 0, both 0 0 -> p_o = 2/3, p_d = 1, p_r = 2/3 -> κ = 0.
    assert cohen_kappa(dream=dream, real=real, inconclusive=cut) == pytest.approx(0.0)
    assert inconclusive_share(cut) == pytest.approx(0.25)
    # Everything inconclusive: nothing left.
    assert math.isnan(episode_agreement(dream=dream, real=real, inconclusive=[1, 1, 1, 1]))
    assert math.isnan(inconclusive_share([]))


# ------------------------------------------------------------------------------------------------------------ report
# Policy 0: dream 2/4, real 1/4; policy 1: dream 3/4, real 4/4; policy 2: dream 0/4, real 2/4.
EP_DREAM = [[1, 1, 0, 0], [1, 1, 1, 0], [0, 0, 0, 0]]
EP_REAL = [[1, 0, 0, 0], [1, 1, 1, 1], [0, 1, 1, 0]]
# Policy 1's episode 3 and policy 2's episode 1 were cut by the uncertainty rule (both disagreements).
EP_CUT = [[0, 0, 0, 0], [0, 0, 0, 1], [0, 1, 0, 0]]


def _values(block: dict) -> dict[str, float | None]:
    return {name: fig["value"] for name, fig in block["figures"].items()}


def test_report_hand_computed() -> None:
    rep = agreement_report(dream=EP_DREAM, real=EP_REAL, inconclusive=EP_CUT, n_boot=50, seed=0)
    assert rep["policies"] == 3 and rep["episodes"] == 12
    assert rep["inconclusive"] == {"episodes": 2, "share": pytest.approx(2 / 12), "per_policy": [0, 1, 1]}
    # All episodes: dream rates [0.5, 0.75, 0], real rates [0.25, 1, 0.5].
    # Pearson: deviations [1/12, 1/3, -5/12] and [-1/3, 5/12, -1/12] -> 0.145833 / 0.291667 = 0.5.
    # Spearman: ranks [2, 3, 1] and [1, 3, 2] -> 1 - 6 · 2 / 24 = 0.5. Kendall: (0,2) discordant -> 1/3.
    # MAE (0.25 + 0.25 + 0.5) / 3; mean gap (0.25 - 0.25 - 0.5) / 3.
    # MMRV: (0, 2) ordered differently (0.5 > 0 vs 0.25 < 0.5), real gap 0.25 seen by 0 and 2 -> 0.5 / 3.
    # Pooled table: both 4, dream only 1, real only 3, both fail 4 (n = 12): agreement 8/12;
    # p_d = 5/12, p_r = 7/12, p_e = 70/144 -> κ = (96 - 70) / (144 - 70) = 13/37.
    expected_all = {
        "pearson": 0.5,
        "spearman": 0.5,
        "kendall": 1 / 3,
        "mae": 1 / 3,
        "mmrv": 0.5 / 3,
        "mean_gap": -0.5 / 3,
        "agreement": 8 / 12,
        "kappa": 13 / 37,
    }
    assert _values(rep["all_episodes"]) == pytest.approx(expected_all)
    per = rep["all_episodes"]["per_policy"]
    assert [p["dream_rate"]["value"] for p in per] == pytest.approx([0.5, 0.75, 0.0])
    assert [p["real_rate"]["value"] for p in per] == pytest.approx([0.25, 1.0, 0.5])
    assert [p["gap"]["value"] for p in per] == pytest.approx([0.25, -0.25, -0.5])
    assert [p["agreement"]["value"] for p in per] == pytest.approx([0.75, 0.75, 0.5])
    # Conclusive only: dream rates [0.5, 1, 0] (over 4, 3, 3 episodes), real rates stay [0.25, 1, 0.5].
    # MAE (0.25 + 0 + 0.5) / 3. Table: both 4, dream only 1, real only 1, both fail 4 (n = 10): agreement 0.8,
    # p_d = p_r = 0.5 -> κ = (0.8 - 0.5) / 0.5 = 0.6. The ranking is unchanged, so MMRV stays 0.5 / 3.
    conclusive = rep["conclusive_only"]
    assert conclusive["episodes"] == 10
    assert [p["episodes"] for p in conclusive["per_policy"]] == [4, 3, 3]
    assert [p["dream_rate"]["value"] for p in conclusive["per_policy"]] == pytest.approx([0.5, 1.0, 0.0])
    got = _values(conclusive)
    assert got["mae"] == pytest.approx(0.25)
    assert got["mmrv"] == pytest.approx(0.5 / 3)
    assert got["agreement"] == pytest.approx(0.8)
    assert got["kappa"] == pytest.approx(0.6)
    assert all(fig["note"] is None for fig in conclusive["figures"].values())
    json.dumps(rep, allow_nan=False)  # JSON-ready: NaN written as null


def test_report_correlations_equal_scipy_on_random_data_with_ties() -> None:
    # The report computes its correlations in NumPy (fast in the bootstrap); they must equal SciPy's.
    rng = np.random.default_rng(3)
    for _ in range(20):
        k, m = int(rng.integers(3, 9)), 5  # rates in steps of 0.2: ties in both worlds are common
        real = rng.random((k, m)) < rng.random((k, 1))
        dream = np.where(rng.random((k, m)) < 0.7, real, ~real)
        rep = agreement_report(dream=dream, real=real, n_boot=1, seed=0)["all_episodes"]
        d = np.array([p["dream_rate"]["value"] for p in rep["per_policy"]])
        r = np.array([p["real_rate"]["value"] for p in rep["per_policy"]])
        got = _values(rep)
        if np.ptp(d) == 0 or np.ptp(r) == 0:
            assert got["pearson"] is None and got["spearman"] is None and got["kendall"] is None
            continue
        assert got["pearson"] == pytest.approx(stats.pearsonr(d, r).statistic, abs=1e-12)
        assert got["spearman"] == pytest.approx(stats.spearmanr(d, r).statistic, abs=1e-12)
        assert got["kendall"] == pytest.approx(stats.kendalltau(d, r).statistic, abs=1e-12)
        assert got["mmrv"] == pytest.approx(mmrv(dream=d, real=r))
        assert got["kappa"] == pytest.approx(cohen_kappa(dream=dream.ravel(), real=real.ravel()), nan_ok=True)


def test_report_notes_say_why_a_figure_is_undefined() -> None:
    # One policy, every episode a success in both worlds.
    rep = agreement_report(dream=[[1, 1, 1]], real=[[True, True, True]], n_boot=20)
    figs = rep["all_episodes"]["figures"]
    for name in ("pearson", "spearman", "kendall", "mmrv", "kappa"):
        assert figs[name]["value"] is None, name
        assert figs[name]["note"].startswith("undefined"), name
    assert "at least 2" in figs["pearson"]["note"]
    assert "every episode a success" in figs["kappa"]["note"]
    assert figs["mae"]["value"] == 0.0 and figs["mae"]["note"] is None
    assert figs["agreement"]["value"] == 1.0
    # All failure in both worlds, equal rates for every policy.
    figs = agreement_report(dream=np.zeros((3, 4), bool), real=np.zeros((3, 4), bool), n_boot=20)["all_episodes"][
        "figures"
    ]
    assert "same rate" in figs["spearman"]["note"]
    assert "every episode a failure" in figs["kappa"]["note"]
    assert figs["mmrv"]["value"] == 0.0


def test_report_leaves_out_a_policy_whose_dream_episodes_were_all_cut() -> None:
    cut = [[0, 0, 0, 0], [0, 0, 0, 0], [1, 1, 1, 1]]
    rep = agreement_report(dream=EP_DREAM, real=EP_REAL, inconclusive=cut, n_boot=20)["conclusive_only"]
    assert rep["per_policy"][2]["dream_rate"]["value"] is None and rep["per_policy"][2]["episodes"] == 0
    # Policies 0 and 1 remain: dream [0.5, 0.75], real [0.25, 1] -> MAE 0.25, ranked alike -> MMRV 0.
    assert rep["figures"]["mae"]["value"] == pytest.approx(0.25)
    assert rep["figures"]["mmrv"]["value"] == 0.0
    assert "policies 2 left out" in rep["figures"]["mmrv"]["note"]


def test_report_accepts_policies_with_different_episode_counts() -> None:
    rep = agreement_report(dream=[[1, 0], [1, 1, 0, 0, 1]], real=[[1, 1], [1, 0, 0, 0, 1]], n_boot=20)
    assert rep["episodes"] == 7
    assert [p["episodes"] for p in rep["all_episodes"]["per_policy"]] == [2, 5]


# --------------------------------------------------------------------------------------------------------- bootstrap
def _random_episodes(seed: int, k: int = 6, m: int = 40) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    real = rng.random((k, m)) < np.linspace(0.1, 0.9, k)[:, None]
    dream = np.where(rng.random((k, m)) < 0.85, real, ~real)
    return dream, real, rng.random((k, m)) < 0.1


def test_bootstrap_is_reproducible_under_a_seed() -> None:
    dream, real, cut = _random_episodes(0)
    a = agreement_report(dream=dream, real=real, inconclusive=cut, n_boot=200, seed=7)
    b = agreement_report(dream=dream, real=real, inconclusive=cut, n_boot=200, seed=7)
    c = agreement_report(dream=dream, real=real, inconclusive=cut, n_boot=200, seed=8)
    assert a == b
    key = ("all_episodes", "figures", "kappa", "interval_over_episodes")
    assert a[key[0]][key[1]][key[2]][key[3]] != c[key[0]][key[1]][key[2]][key[3]]
    assert _values(a["all_episodes"]) == _values(c["all_episodes"])  # only the intervals depend on the seed


def test_bootstrap_intervals_contain_the_point_estimate() -> None:
    dream, real, cut = _random_episodes(1)
    rep = agreement_report(dream=dream, real=real, inconclusive=cut, n_boot=300, seed=0)
    for block in ("all_episodes", "conclusive_only"):
        for name in ("pearson", "mae", "agreement", "kappa"):
            fig = rep[block]["figures"][name]
            for interval in ("interval_over_episodes", "interval_over_policies"):
                low, high = fig[interval]
                assert low <= fig["value"] <= high, (block, name, interval, fig)
                assert low < high, (block, name, interval, fig)
        for p in rep[block]["per_policy"]:
            low, high = p["dream_rate"]["interval_over_episodes"]
            assert low <= p["dream_rate"]["value"] <= high


def test_one_policy_has_a_degenerate_interval_over_policies() -> None:
    rep = agreement_report(dream=[[1, 0, 1, 1]], real=[[1, 0, 0, 1]], n_boot=50)["all_episodes"]["figures"]
    assert rep["mae"]["interval_over_policies"] == [pytest.approx(0.25), pytest.approx(0.25)]
    assert rep["mae"]["interval_over_episodes"][0] < rep["mae"]["interval_over_episodes"][1]


def test_bootstrap_over_episodes_keeps_each_policy_s_episode_count() -> None:
    sizes = [3, 5, 1]
    point, low, high = bootstrap_over_episodes(lambda idx: np.array([i.size for i in idx]), sizes, n_boot=30, seed=1)
    np.testing.assert_array_equal(point, sizes)
    np.testing.assert_array_equal(low, sizes)
    np.testing.assert_array_equal(high, sizes)
    # Every resampled index stays inside its own policy's episodes.
    seen: list[list[np.ndarray]] = []
    bootstrap_over_episodes(lambda idx: seen.append(idx) or 0.0, sizes, n_boot=30, seed=1)
    assert all(i.max() < m for idx in seen for i, m in zip(idx, sizes, strict=True))
    values = np.arange(5.0)
    p, lo, hi = bootstrap_over_episodes(lambda idx: float(values[idx[1]].mean()), sizes, n_boot=200, seed=0)
    assert p == 2.0 and lo < p < hi


# ---------------------------------------------------------------------------------------------------------- bad input
def test_bad_rates_raise_value_error() -> None:
    with pytest.raises(ValueError, match="one rate per policy each, got 3 and 2"):
        mmrv(dream=[0.1, 0.2, 0.3], real=[0.1, 0.2])
    with pytest.raises(ValueError, match="must be finite"):
        pearson_r(dream=[0.1, float("nan")], real=[0.1, 0.2])
    with pytest.raises(ValueError, match="real must be a vector"):
        kendall_tau(dream=[0.1, 0.2], real=[[0.1, 0.2]])
    with pytest.raises(ValueError, match="numbers"):
        mean_absolute_error(dream=["a", "b"], real=[0.1, 0.2])


def test_bad_episodes_raise_value_error() -> None:
    with pytest.raises(ValueError, match="same paired episodes, got 3 and 2"):
        episode_agreement(dream=[1, 0, 1], real=[1, 0])
    with pytest.raises(ValueError, match="booleans or 0/1"):
        cohen_kappa(dream=[1, 0, 2], real=[1, 0, 1])
    with pytest.raises(ValueError, match="booleans or 0/1"):
        cohen_kappa(dream=[1.0, 0.5], real=[1, 0])
    with pytest.raises(ValueError, match="booleans or 0/1"):
        cohen_kappa(dream=[1.0, float("nan")], real=[1, 0])
    with pytest.raises(ValueError, match="inconclusive must mark each of the 2 episodes"):
        episode_agreement(dream=[1, 0], real=[1, 0], inconclusive=[True])
    with pytest.raises(ValueError, match="booleans or 0/1"):
        inconclusive_share([0, 3])


def test_bad_report_input_raises_value_error() -> None:
    with pytest.raises(ValueError, match="same policies, got 2 and 1"):
        agreement_report(dream=[[1], [0]], real=[[1]])
    with pytest.raises(ValueError, match="policy 1: dream and real must hold the same paired episodes"):
        agreement_report(dream=[[1, 0], [1, 0]], real=[[1, 0], [1]])
    with pytest.raises(ValueError, match="policy 0: dream must hold booleans or 0/1"):
        agreement_report(dream=[[0.5, 1]], real=[[1, 1]])
    with pytest.raises(ValueError, match="policy 0 has no episode"):
        agreement_report(dream=[[]], real=[[]])
    with pytest.raises(ValueError, match="at least one policy"):
        agreement_report(dream=[], real=[])
    with pytest.raises(ValueError, match="one mask per policy"):
        agreement_report(dream=[[1]], real=[[1]], inconclusive=[[0], [0]])
    with pytest.raises(ValueError, match="vector of per-episode verdicts"):
        agreement_report(dream=[1, 0], real=[1, 0])  # one flat vector instead of one per policy
    with pytest.raises(ValueError, match="n_boot"):
        agreement_report(dream=[[1]], real=[[1]], n_boot=0)
    with pytest.raises(ValueError, match="level"):
        agreement_report(dream=[[1]], real=[[1]], level=1.5)


def test_bad_bootstrap_arguments_raise_value_error() -> None:
    with pytest.raises(ValueError, match="at least one episode per policy"):
        bootstrap_over_episodes(lambda idx: 0.0, [3, 0])
    with pytest.raises(ValueError, match="at least one policy"):
        bootstrap_over_episodes(lambda idx: 0.0, [])
    with pytest.raises(ValueError, match="n_boot >= 1"):
        bootstrap_over_episodes(lambda idx: 0.0, [3], n_boot=0)
    with pytest.raises(ValueError, match="level"):
        bootstrap_over_episodes(lambda idx: 0.0, [3], level=0.0)
