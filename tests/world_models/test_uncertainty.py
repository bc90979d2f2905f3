"""Disagreement measures against values computed by hand."""

from __future__ import annotations

import math

import pytest
import torch

from neural_gym.world_models.uncertainty import (
    MEASURES,
    LazyMeasures,
    aleatoric_max,
    all_measures,
    ensemble_std,
    pairwise_max,
)


@pytest.fixture
def two_members() -> tuple[torch.Tensor, torch.Tensor]:
    """E=2, B=2, D=2 means and stds with easy numbers."""
    means = torch.tensor(
        [
            [[0.0, 0.0], [1.0, 1.0]],  # member 0
            [[2.0, 0.0], [1.0, 1.0]],  # member 1
        ]
    )
    stds = torch.tensor(
        [
            [[1.0, 1.0], [3.0, 4.0]],
            [[2.0, 2.0], [0.0, 0.0]],
        ]
    )
    return means, stds


def test_ensemble_std_by_hand(two_members: tuple[torch.Tensor, torch.Tensor]) -> None:
    means, _ = two_members
    # env 0: dim 0 values {0, 2} → population var 1; dim 1 var 0 → sqrt(mean(1, 0)) = sqrt(0.5). env 1: identical → 0.
    torch.testing.assert_close(ensemble_std(means), torch.tensor([math.sqrt(0.5), 0.0]))


def test_aleatoric_max_by_hand(two_members: tuple[torch.Tensor, torch.Tensor]) -> None:
    _, stds = two_members
    # env 0: member 0 → sqrt((1+1)/2) = 1, member 1 → sqrt((4+4)/2) = 2 → 2. env 1: sqrt((9+16)/2) vs 0.
    torch.testing.assert_close(aleatoric_max(stds), torch.tensor([2.0, math.sqrt(12.5)]))


def test_pairwise_max_by_hand(two_members: tuple[torch.Tensor, torch.Tensor]) -> None:
    means, _ = two_members
    # env 0: diff (2, 0) → sqrt((4 + 0)/2) = sqrt(2).
    torch.testing.assert_close(pairwise_max(means), torch.tensor([math.sqrt(2.0), 0.0]))


def test_pairwise_max_picks_the_farthest_pair() -> None:
    means = torch.tensor([[[0.0]], [[1.0]], [[-3.0]]])  # E=3, B=1, D=1
    torch.testing.assert_close(pairwise_max(means), torch.tensor([4.0]))
    # population std of {0, 1, -3}: mean -2/3, var = (4/9 + 25/9 + 49/9)/3 = 78/27
    torch.testing.assert_close(ensemble_std(means), torch.tensor([math.sqrt(78 / 27)]))


def test_all_measures_has_every_measure(two_members: tuple[torch.Tensor, torch.Tensor]) -> None:
    means, stds = two_members
    out = all_measures(means, stds)
    assert set(out) == set(MEASURES)
    assert all(v.shape == (2,) for v in out.values())


@pytest.mark.parametrize("fn", [ensemble_std, pairwise_max])
def test_fewer_than_two_members_is_refused(fn: object) -> None:
    with pytest.raises(ValueError, match="at least 2 members"):
        fn(torch.zeros(1, 4, 3))  # type: ignore[operator]


def test_lazy_measures_equal_all_measures_and_compute_only_what_is_read() -> None:
    gen = torch.Generator().manual_seed(0)
    means, logvars = torch.randn(5, 7, 3, generator=gen), torch.randn(5, 7, 3, generator=gen)
    lazy = LazyMeasures(means, logvars)
    assert lazy._values == {}
    torch.testing.assert_close(lazy["ensemble_std"], ensemble_std(means))
    assert set(lazy._values) == {"ensemble_std"}  # the env reads one measure; the others cost nothing
    eager = all_measures(means, (0.5 * logvars).exp())
    assert list(lazy) == list(MEASURES) and len(lazy) == 3
    for name in MEASURES:
        torch.testing.assert_close(lazy[name], eager[name])
    with pytest.raises(KeyError, match="expected one of"):
        lazy["nope"]

