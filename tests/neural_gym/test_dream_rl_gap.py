"""The exploitation gap: dream minus MuJoCo return, and that gap as a share of the MuJoCo return."""

from __future__ import annotations

import math

import numpy as np
import pytest

from neural_gym.dream_rl.gap import GAP_KEYS, exploitation_gap, gap_text


def test_gap_and_share_by_hand() -> None:
    assert exploitation_gap(733.0, 63.0) == pytest.approx(
        {"dream_real_gap": 670.0, "dream_real_gap_share": 670.0 / 63.0}
    )
    assert exploitation_gap(50.0, 100.0) == pytest.approx({"dream_real_gap": -50.0, "dream_real_gap_share": -0.5})
    # negative returns (HalfCheetah early on): a dream more optimistic than MuJoCo still has a positive share
    assert exploitation_gap(-90.0, -100.0) == pytest.approx({"dream_real_gap": 10.0, "dream_real_gap_share": 0.1})
    assert tuple(exploitation_gap(1.0, 2.0)) == GAP_KEYS
    assert exploitation_gap(np.float32(3.0), np.float64(2.0))["dream_real_gap"] == pytest.approx(1.0)


def test_undefined_share_and_missing_dream_are_nan() -> None:
    zero = exploitation_gap(5.0, 0.0)
    assert zero["dream_real_gap"] == 5.0 and math.isnan(zero["dream_real_gap_share"])
    none = exploitation_gap(float("nan"), 10.0)  # Dyna before its first model: no dream to play
    assert math.isnan(none["dream_real_gap"]) and math.isnan(none["dream_real_gap_share"])


def test_bad_returns_are_refused() -> None:
    with pytest.raises(TypeError, match="dream_return must be a real number"):
        exploitation_gap("733", 63.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="real_return must be a real number"):
        exploitation_gap(1.0, True)


def test_gap_text() -> None:
    assert gap_text({"dream_real_gap": 12.34, "dream_real_gap_share": 0.045}) == (
        "dream-real gap +12.3 (+4.5% of MuJoCo)"
    )
    assert gap_text({"dream_real_gap": -2.0, "dream_real_gap_share": float("nan")}) == "dream-real gap -2.0"
    assert gap_text({"dream_real_gap": float("nan")}) == "" and gap_text({}) == ""


def test_demo_gap_over_the_served_steps_by_hand() -> None:
    from neural_gym.demo import _over_seeds_with_gap
    from neural_gym.evaluate import PairedEpisodes

    def run(dream: list[float], real: list[float], served: list[float]) -> PairedEpisodes:
        n = len(dream)
        return PairedEpisodes(
            real_returns=np.array(real), dream_returns=np.array(dream), real_lengths=np.full(n, 100),
            dream_lengths=np.full(n, 40), dream_end=["uncertainty"] * n, real_returns_over_dream_steps=np.array(served),
        )  # fmt: skip

    over = _over_seeds_with_gap([run([40.0, 40.0], [100.0, 100.0], [40.0, 38.0]), run([30.0], [90.0], [30.0])])
    assert over["dream_real_gap_share"]["value"] == pytest.approx((35.0 - 95.0) / 95.0)
    assert over["real_return_over_dream_steps"]["per_seed"] == [39.0, 30.0]
    assert over["served_steps_gap_share"]["value"] == pytest.approx((35.0 - 34.5) / 34.5)
    assert over["served_steps_gap_share"]["per_seed"] == pytest.approx([1.0 / 39.0, 0.0])
    old = run([1.0], [2.0], [2.0])
    old.real_returns_over_dream_steps = None  # records made without it: no served-steps figures
    assert "served_steps_gap_share" not in _over_seeds_with_gap([old])
