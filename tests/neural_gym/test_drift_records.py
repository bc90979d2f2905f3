"""Calibration records from held-out rollouts: errors and signals checked by hand for a tiny ensemble and for pixel
models (member trajectories carried for the ensemble and the RSSM, fed back for the video model), episodes ending at
a model error, the records feeding world_models.calibration, bad input.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from neural_gym.drift import (
    FrameObservations,
    StateObservations,
    member_propagation,
    records_from_rollout,
    roll_open_loop,
    rollout_records,
)
from neural_gym.drift.records import ONE_STEP_SIGNALS, TRAJECTORY_SIGNAL
from neural_gym.envs import collect, load_episodes
from neural_gym.metrics import psnr
from neural_gym.world_models import EnsembleModel, LatentModel, Prediction, VideoModel, WorldModel
from neural_gym.world_models.baselines import CopyLastModel
from neural_gym.world_models.calibration import choose_cutoff, conformal_threshold
from neural_gym.world_models.latent import preset as latent_preset
from neural_gym.world_models.video import preset as video_preset

from .conftest import train_tiny

TRAIN_ID = "records/Hopper/train-v0"
HELDOUT_ID = "records/Hopper/heldout-v0"
PIXELS_ID = "records/Reacher/pixels32-v0"
SIZE = 32
SIGNALS = [*ONE_STEP_SIGNALS, TRAJECTORY_SIGNAL]

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py


@pytest.fixture(scope="module")
def hopper(minari_dir: Path) -> EnsembleModel:
    """A tiny Hopper ensemble (2 elites) and a small held-out dataset (seed 1000): few enough start positions that
    ``n_starts`` above their count takes every one of them, in (episode, step) order."""
    collect("Hopper", 1500, seed=0, dataset_id=TRAIN_ID, progress=False)
    collect("Hopper", 40, seed=1000, dataset_id=HELDOUT_ID, progress=False)
    return train_tiny("Hopper", TRAIN_ID, epochs=4)


def _positions(dataset_id: str, context: int) -> list[tuple[Any, int]]:
    """Every start position (episode, t) in the order the records list them when all are taken."""
    return [(ep, t) for ep in load_episodes(dataset_id) for t in range(context - 1, len(ep))]


def _nrmse(pred: np.ndarray, true: np.ndarray, std: np.ndarray) -> float:
    return float(np.sqrt(np.mean(((pred - true) / std) ** 2)))


def _spread(members: np.ndarray) -> float:
    """RMS over members and dimensions of the deviation from the members' mean: ``[E, D]`` → a number."""
    return float(np.sqrt(np.mean((members - members.mean(axis=0)) ** 2)))


def _step(model: WorldModel, obs: np.ndarray, action: np.ndarray, member: int | None) -> np.ndarray:
    m = None if member is None else torch.tensor([member])
    pred = model.step(torch.as_tensor(obs[None], dtype=torch.float32), torch.as_tensor(action[None]).float(), m)
    return pred.state.double().numpy()[0]


# ----------------------------------------------------------------------------------------------------- state models
def test_ensemble_records_match_a_hand_rollout(hopper: EnsembleModel) -> None:
    model = hopper
    std = model.obs_std.double().numpy()
    horizon = 6
    rec = rollout_records(
        "Hopper", model, dataset_id=HELDOUT_ID, n_starts=10_000, horizon=horizon, propagation="mean", device="cpu"
    )
    positions = _positions(HELDOUT_ID, 1)
    assert rec.n_episodes == len(positions) and list(rec.signals) == SIGNALS
    for i, (ep, t) in enumerate(positions):
        steps = min(horizon, len(ep) - t)  # the recorded window ends the episode
        assert rec.lengths[i] == steps
        mean = ep.observations[t]
        members = np.stack([mean] * model.num_members)
        for j in range(steps):
            a = ep.actions[t + j]
            mean = _step(model, mean, a, None)
            members = np.stack([_step(model, o, a, e) for e, o in enumerate(members)])
            assert rec.error[i][j] == pytest.approx(_nrmse(mean, ep.observations[t + j + 1], std), rel=1e-5)
            assert rec.signals[TRAJECTORY_SIGNAL][i][j] == pytest.approx(_spread(members / std), rel=1e-4, abs=1e-9)
        d = rec.signals["disagreement"][i]
        np.testing.assert_allclose(rec.signals["disagreement_sum"][i], np.cumsum(d))
        np.testing.assert_allclose(rec.signals["disagreement_max"][i], np.maximum.accumulate(d))
        np.testing.assert_allclose(
            rec.signals["disagreement_sum_per_sqrt_step"][i], np.cumsum(d) / np.sqrt(np.arange(1, steps + 1))
        )
    # whole member trajectories part from the one-step view: after a few steps the spread is not the one-step one
    i = int(np.argmax(rec.lengths))
    one_step = model.step(
        torch.as_tensor(positions[i][0].observations[positions[i][1] + 3][None], dtype=torch.float32),
        torch.as_tensor(positions[i][0].actions[positions[i][1] + 3][None], dtype=torch.float32),
        return_members=True,
    )
    assert one_step.member_means is not None
    assert rec.signals[TRAJECTORY_SIGNAL][i][3] != pytest.approx(
        _spread(one_step.member_means[:, 0].double().numpy() / std)
    )


def test_member_propagation_follows_one_elite_per_episode(hopper: EnsembleModel) -> None:
    model = hopper
    std = model.obs_std.double().numpy()
    rec = rollout_records(
        "Hopper", model, dataset_id=HELDOUT_ID, n_starts=10_000, horizon=4, member_trajectories=False, seed=5
    )
    assert list(rec.signals) == list(ONE_STEP_SIGNALS)
    followed = []
    for i, (ep, t) in enumerate(_positions(HELDOUT_ID, 1)):
        errors = []
        for e in range(model.num_members):
            obs, err = ep.observations[t], []
            for j in range(int(rec.lengths[i])):
                obs = _step(model, obs, ep.actions[t + j], e)
                err.append(_nrmse(obs, ep.observations[t + j + 1], std))
            errors.append(err)
        match = [e for e in range(model.num_members) if np.allclose(rec.error[i], errors[e], rtol=1e-5)]
        assert match, f"episode {i} follows no single elite"
        followed.append(match[0])
    assert len(set(followed)) == model.num_members  # seeded draws reach every elite over the episodes


def test_records_feed_the_calibration(hopper: EnsembleModel) -> None:
    rec = rollout_records("Hopper", hopper, dataset_id=HELDOUT_ID, n_starts=12, horizon=10, seed=1)
    assert rec.n_episodes == 12
    choice = choose_cutoff(rec, tau=0.05, alpha=0.2, seed=0)
    assert choice.signal in SIGNALS and set(choice.choice_auroc) == set(SIGNALS)
    assert conformal_threshold(rec, TRAJECTORY_SIGNAL, tau=0.05, alpha=0.2).bound <= 0.2
    again = rollout_records("Hopper", hopper, dataset_id=HELDOUT_ID, n_starts=12, horizon=10, seed=1)
    assert all(np.array_equal(a, b) for a, b in zip(rec.error, again.error, strict=True))  # seeded


class BreaksAfter(WorldModel):
    """Wraps an ensemble; its predictions turn NaN from step ``k`` on (``k = 0``: at once)."""

    def __init__(self, inner: EnsembleModel, k: int) -> None:
        super().__init__()
        self.inner, self.k, self.spec = inner, k, inner.spec

    @property
    def obs_std(self) -> torch.Tensor | None:
        return self.inner.obs_std

    def initial_state(self, context: torch.Tensor) -> Any:
        return (self.inner.initial_state(context), 0)

    def step(self, state: Any, action: torch.Tensor, member: Any = None, return_members: bool = False) -> Prediction:
        inner, j = state
        pred = self.inner.step(inner, action, member, return_members)
        pred.state = (pred.state, j + 1)
        return pred

    def observe(self, state: Any) -> torch.Tensor:
        obs, j = state
        return torch.full_like(obs, float("nan")) if j > self.k else obs


def test_episodes_end_before_a_model_error(hopper: EnsembleModel) -> None:
    rec = rollout_records("Hopper", BreaksAfter(hopper, 2), dataset_id=HELDOUT_ID, n_starts=10_000, horizon=6)
    assert rec.lengths.max() == 2  # the third prediction is NaN: the Dream env ends the episode there
    with pytest.warns(UserWarning, match="no usable first step"), pytest.raises(ValueError, match="at least 2"):
        rollout_records("Hopper", BreaksAfter(hopper, 0), dataset_id=HELDOUT_ID, n_starts=10_000, horizon=6)


def test_bad_input_is_refused(hopper: EnsembleModel) -> None:
    small = {"dataset_id": HELDOUT_ID, "n_starts": 4, "horizon": 3}
    no_std = pytest.warns(UserWarning, match="no training-data std")
    with no_std, pytest.raises(ValueError, match="no finite disagreement"):
        rollout_records("Hopper", CopyLastModel(hopper.spec), **small)
    with pytest.raises(ValueError, match="horizon"):
        rollout_records("Hopper", hopper, **(small | {"horizon": 0}))
    with pytest.raises(ValueError, match="n_starts"):
        rollout_records("Hopper", hopper, **(small | {"n_starts": 1}))
    with pytest.raises(ValueError, match="propagation"):
        rollout_records("Hopper", hopper, propagation="elite", **small)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="held-out"):
        rollout_records("Hopper", hopper, **(small | {"dataset_id": TRAIN_ID}))
    ep = load_episodes(HELDOUT_ID)[0]
    context, actions = ep.observations[None, :1], ep.actions[None, :3]
    kind = StateObservations(hopper.obs_std.double().numpy())
    no_truth = roll_open_loop(hopper, kind, context, np.zeros((1, 0, 3)), actions)
    with pytest.raises(ValueError, match="truth"):
        records_from_rollout(no_truth, np.ones((1, 3), dtype=bool))
    with pytest.raises(ValueError, match="at least 2 inference members"):
        roll_open_loop(
            CopyLastModel(hopper.spec), kind, context, np.zeros((1, 0, 3)), actions, member_trajectories="carry"
        )


# ----------------------------------------------------------------------------------------------------- pixel models
@pytest.fixture(scope="module")
def pixels(minari_dir: Path) -> str:
    """One held-out Reacher pixel episode of 8 steps (32×32)."""
    return collect("Reacher", 8, seed=1000, dataset_id=PIXELS_ID, obs_mode="pixels", image_size=SIZE, progress=False)


def _pixel_model(family: str) -> WorldModel:
    kw: dict[str, Any] = {
        "task": "Reacher",
        "task_env_id": "Reacher-v5",
        "obs_shape": (SIZE, SIZE, 3),
        "action_dim": 2,
        "action_low": [-1.0, -1.0],
        "action_high": [1.0, 1.0],
    }
    torch.manual_seed(0)  # an untrained model's weights (the test's own RNG, not library code)
    if family == "video":
        return VideoModel(config=video_preset("debug", image_size=SIZE), **kw).eval()
    return LatentModel(config=latent_preset("debug", obs_kind="pixels", image_size=SIZE), **kw).eval()


@pytest.mark.parametrize(("family", "how"), [("video", "observed"), ("latent", "carry")])
def test_pixel_records_score_frames_and_member_trajectories(pixels: str, family: str, how: str) -> None:
    model = _pixel_model(family)
    k = model.context_length
    (ep,) = load_episodes(pixels)
    frames = np.asarray(ep.frames)
    starts = _positions(pixels, k)
    kind = FrameObservations((SIZE, SIZE, 3))
    context = np.stack([frames[t - k + 1 : t + 1] for _, t in starts])
    context_actions = np.stack([ep.actions[t - k + 1 : t] for _, t in starts])
    first = np.stack([ep.actions[t] for _, t in starts])
    # the video model's generated frame does not depend on `member`: its heads are fed back one by one instead
    assert member_propagation(model, kind, context, context_actions, first) == how

    rec = rollout_records("Reacher", model, dataset_id=pixels, n_starts=100, horizon=3, propagation="mean")
    assert rec.n_episodes == len(starts) and list(rec.signals) == SIGNALS
    for i, (_, t) in enumerate(starts):
        assert rec.lengths[i] == min(3, len(ep) - t)
        with torch.inference_mode():
            state = model.initial_state_from_history(
                torch.as_tensor(context[i : i + 1]), torch.as_tensor(context_actions[i : i + 1]).float()
            )
            pred = model.step(state, torch.as_tensor(first[i : i + 1]).float(), return_members=True)
            frame = np.clip(model.observe(pred.state).double().numpy(), 0, 255)
        true = frames[t + 1 : t + 2]
        rmse = float(np.sqrt(np.mean((frame - true) ** 2)) / 255)
        assert rec.error[i][0] == pytest.approx(rmse, rel=1e-6)
        assert -20 * np.log10(rec.error[i][0]) == pytest.approx(float(psnr(frame, true)[0]), rel=1e-6)
        assert rec.signals["disagreement"][i][0] == pytest.approx(float(pred.disagreement[0]), rel=1e-5)
        assert (
            pred.member_means is not None
        )  # every member starts from the same context: step 1 is their one-step spread
        members = pred.member_means[:, 0].double().numpy().reshape(model.num_members, -1) / 255
        assert rec.signals[TRAJECTORY_SIGNAL][i][0] == pytest.approx(_spread(members), rel=1e-4, abs=1e-9)
    assert FrameObservations.error_threshold(20.0) == pytest.approx(0.1)
