"""Metric functions against hand-computed values, ties and degenerate inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest

from neural_gym import metrics


def test_normalized_rmse_hand_computed() -> None:
    # z = [(1 - 0) / 1, (2 - 0) / 2] = [1, 1] -> sqrt(mean(1, 1)) = 1
    assert metrics.normalized_rmse(np.array([1.0, 2.0]), np.zeros(2), np.array([1.0, 2.0])) == pytest.approx(1.0)
    # z = [3, 0] -> sqrt(9 / 2)
    got = metrics.normalized_rmse(np.array([[3.0, 0.0], [0.0, 0.0]]), np.zeros((2, 2)), np.ones(2))
    np.testing.assert_allclose(got, [math.sqrt(4.5), 0.0])
    per_dim = metrics.normalized_rmse(np.array([3.0, -1.0]), np.array([1.0, 1.0]), np.array([2.0, 4.0]), per_dim=True)
    np.testing.assert_allclose(per_dim, [1.0, 0.5])


def test_normalized_rmse_rejects_bad_std_and_shapes() -> None:
    with pytest.raises(ValueError, match="positive"):
        metrics.normalized_rmse(np.zeros(2), np.zeros(2), np.array([1.0, 0.0]))
    with pytest.raises(ValueError, match="one per dimension"):
        metrics.normalized_rmse(np.zeros(3), np.zeros(3), np.ones(2))
    with pytest.raises(ValueError, match="same shape"):
        metrics.normalized_rmse(np.zeros(3), np.zeros(2), np.ones(3))


def test_relative_l1() -> None:
    # (0 + 1 + 2) / (1 + 1 + 1)
    assert metrics.relative_l1(np.array([1.0, 2.0, 3.0]), np.ones(3)) == pytest.approx(1.0)
    assert metrics.relative_l1(np.array([[1.0, -1.0]]), np.array([[2.0, -2.0]])) == pytest.approx(0.5)
    assert math.isnan(metrics.relative_l1(np.ones(2), np.zeros(2)))


def test_spearman_hand_computed_with_ties() -> None:
    assert metrics.spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert metrics.spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    # ranks x = [1, 2.5, 2.5, 4], y = [1, 2, 3, 4]: cov 4.5, var 4.5 and 5 -> 4.5 / sqrt(22.5) = sqrt(0.9)
    assert metrics.spearman([1, 2, 2, 3], [1, 2, 3, 4]) == pytest.approx(math.sqrt(0.9))


def test_spearman_degenerate_is_nan() -> None:
    assert math.isnan(metrics.spearman([1, 1, 1], [1, 2, 3]))
    assert math.isnan(metrics.spearman([1, 2], [1, 2]))
    with pytest.raises(ValueError, match="finite"):
        metrics.spearman([1, np.nan, 3], [1, 2, 3])


def test_auroc_hand_computed() -> None:
    # positives 0.35 and 0.8 against negatives 0.1 and 0.4: wins (0.35>0.1), (0.8>0.1), (0.8>0.4) -> 3/4
    assert metrics.auroc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]) == 0.75
    assert metrics.auroc([0.0, 1.0], [False, True]) == 1.0
    assert metrics.auroc([1.0, 0.0], [False, True]) == 0.0


def test_auroc_ties_count_one_half() -> None:
    # positive 0.5 ties both negatives (0.5 + 0.5), positive 0.9 beats both (2) -> 3 / 4
    assert metrics.auroc([0.5, 0.5, 0.5, 0.9], [0, 1, 0, 1]) == pytest.approx(0.75)
    assert metrics.auroc([2.0, 2.0, 2.0, 2.0], [0, 1, 0, 1]) == pytest.approx(0.5)
    # +inf ranks above everything finite
    assert metrics.auroc([np.inf, 1.0, 0.0], [1, 0, 0]) == 1.0


def test_auroc_one_class_is_nan_and_bad_input_raises() -> None:
    assert math.isnan(metrics.auroc([0.1, 0.2, 0.3], [1, 1, 1]))
    assert math.isnan(metrics.auroc([0.1, 0.2, 0.3], [0, 0, 0]))
    assert metrics.roc_curve([0.1, 0.2], [1, 1])[0].size == 0
    with pytest.raises(ValueError, match="same number"):
        metrics.auroc([0.1, 0.2], [0, 1, 1])
    with pytest.raises(ValueError, match="0/1"):
        metrics.auroc([0.1, 0.2], [0, 2])
    with pytest.raises(ValueError, match="NaN"):
        metrics.auroc([np.nan, 0.2], [0, 1])


def test_roc_curve_area_equals_auroc_with_ties() -> None:
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 5, size=200).astype(float)  # many ties
    labels = rng.random(200) < 0.3 + 0.1 * scores
    fpr, tpr = metrics.roc_curve(scores, labels)
    assert fpr[0] == 0.0 and tpr[0] == 0.0 and fpr[-1] == 1.0 and tpr[-1] == 1.0
    assert np.trapezoid(tpr, fpr) == pytest.approx(metrics.auroc(scores, labels))


def test_justified_share() -> None:
    # cut-offs at 0.5, 0.6, 0.7 (> 0.3); their errors 0.5, 1.5, 3 -> 2 of 3 above tau = 1
    share, n = metrics.justified_share(np.array([0.1, 0.5, 0.6, 0.7]), np.array([2.0, 0.5, 1.5, 3.0]), 0.3, 1.0)
    assert n == 3 and share == pytest.approx(2 / 3)
    share, n = metrics.justified_share(np.array([0.1, 0.2]), np.array([5.0, 5.0]), 0.3, 1.0)
    assert n == 0 and math.isnan(share)


def test_first_exceedance() -> None:
    values = np.array([[0.1, 2.0, 0.3], [0.1, 0.2, 5.0], [5.0, 0.0, 0.0], [0.1, 0.1, 0.1]])
    valid = np.array([[1, 1, 1], [1, 1, 0], [1, 1, 1], [1, 1, 1]], dtype=bool)
    steps, censored = metrics.first_exceedance(values, 1.0, valid)
    # row 1 exceeds only at an invalid step: censored at its 2 valid steps
    np.testing.assert_array_equal(steps, [1, 2, 0, 3])
    np.testing.assert_array_equal(censored, [False, True, False, True])


def test_ratio_of_sums_and_bootstrap() -> None:
    num = np.array([1.0, 2.0, 3.0, 4.0])
    den = np.array([1.0, 1.0, 1.0, 1.0])
    counts = metrics.bootstrap_counts(4, 500, seed=0)
    assert counts.shape == (500, 4) and (counts.sum(axis=1) == 4).all()
    point, lo, hi = metrics.ratio_of_sums(num, den, counts)
    assert point == pytest.approx(2.5) and lo <= point <= hi and lo >= 1.0 and hi <= 4.0
    again = metrics.ratio_of_sums(num, den, metrics.bootstrap_counts(4, 500, seed=0))
    assert (again[1], again[2]) == (lo, hi)  # seeded
    p2, _, _ = metrics.ratio_of_sums(np.array([1.0, 4.0]), np.array([1.0, 1.0]), None, transform=np.sqrt)
    assert p2 == pytest.approx(math.sqrt(2.5))
    p3, lo3, hi3 = metrics.ratio_of_sums(np.zeros(3), np.zeros(3), metrics.bootstrap_counts(3, 10))
    assert math.isnan(p3) and math.isnan(lo3) and math.isnan(hi3)


def test_bootstrap_ci_is_seeded_and_skips_nan() -> None:
    x = np.arange(10.0)
    a = metrics.bootstrap_ci(lambda idx: float(x[idx].mean()), 10, n_boot=200, seed=3)
    b = metrics.bootstrap_ci(lambda idx: float(x[idx].mean()), 10, n_boot=200, seed=3)
    assert a == b and a[0] == 4.5 and a[1] < 4.5 < a[2]
    point, lo, hi = metrics.bootstrap_ci(lambda idx: float("nan"), 5, n_boot=20)
    assert math.isnan(point) and math.isnan(lo) and math.isnan(hi)
    with pytest.raises(ValueError):
        metrics.bootstrap_ci(lambda idx: 0.0, 0)


# --------------------------------------------------------------------------------------------------------------- frames
def test_psnr_hand_computed_and_capped() -> None:
    true = np.zeros((3, 8, 8, 3), np.uint8)
    pred = true.copy()
    pred[1] = 255  # MSE = 255² -> 0 dB
    pred[2, 0, 0, 0] = 1  # MSE = 1 / (8·8·3) -> 10·log10(255² · 192)
    got = metrics.psnr(pred, true)
    assert got.shape == (3,)
    assert got[0] == metrics.PSNR_CAP_DB  # identical: +inf capped, never NaN
    assert got[1] == pytest.approx(0.0)
    assert got[2] == pytest.approx(10 * math.log10(255.0**2 * 192))
    assert metrics.psnr(pred.astype(np.float32), true, cap_db=50.0)[0] == 50.0
    assert metrics.psnr(pred[1], true[1]).shape == (1,)  # one frame [H, W, 3]


def test_ssim_identical_is_one_and_noise_lowers_it() -> None:
    rng = np.random.default_rng(0)
    true = rng.integers(0, 256, size=(2, 16, 16, 3)).astype(np.uint8)
    noisy = np.clip(true + rng.normal(0, 40, size=true.shape), 0, 255)
    np.testing.assert_allclose(metrics.ssim(true, true), [1.0, 1.0])
    got = metrics.ssim(noisy, true)
    assert got.shape == (2,) and (got < 0.9).all() and (got > -1).all()


def test_frame_metrics_reject_bad_input() -> None:
    frames = np.zeros((2, 8, 8, 3))
    with pytest.raises(ValueError, match="same shape"):
        metrics.psnr(frames, frames[:1])
    with pytest.raises(ValueError, match=r"\[N, H, W, 3\]"):
        metrics.psnr(np.zeros((2, 8, 8, 4)), np.zeros((2, 8, 8, 4)))
    bad = frames.copy()
    bad[0, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="finite"):
        metrics.ssim(bad, frames)
    with pytest.raises(ValueError, match="7×7"):
        metrics.ssim(np.zeros((1, 5, 5, 3)), np.zeros((1, 5, 5, 3)))
    with pytest.raises(ValueError, match="data_range"):
        metrics.psnr(frames, frames, data_range=0)


def test_success_interval_matches_the_wilson_formula():
    from neural_gym.metrics import success_interval

    z = 1.959963984540054
    for k, n in [(0, 100), (3, 10), (50, 100), (100, 100)]:
        p = k / n
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z / (1 + z * z / n) * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
        rate, lo, hi = success_interval(k, n)
        assert rate == p
        assert lo == pytest.approx(max(centre - half, 0.0), abs=1e-9)
        assert hi == pytest.approx(min(centre + half, 1.0), abs=1e-9)


@pytest.mark.parametrize("k, n, level", [(-1, 10, 0.95), (11, 10, 0.95), (0, 0, 0.95), (1, 10, 1.0), (1.5, 10, 0.9)])
def test_success_interval_refuses_bad_counts(k, n, level):
    from neural_gym.metrics import success_interval

    with pytest.raises(ValueError, match="successes|level"):
        success_interval(k, n, level)
