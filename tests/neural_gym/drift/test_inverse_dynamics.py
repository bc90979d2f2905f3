"""The inverse-dynamics model of action recoverability: trained on real tabletop transitions it beats the mean-action
baseline on held-out episodes, for state vectors and for frames through the same training function; seeded and
leaving the global RNGs alone; saved and loaded exactly, damaged or foreign files refused; bad input refused.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from neural_gym.drift import InverseDynamicsModel, load_inverse_model, save_inverse_model, train_inverse_model
from neural_gym.drift.inverse_dynamics import InverseDynamicsConfig, InverseModelError

from ..evaluate.pixel_fixtures import real_pixel_episodes

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py

TASK = "TabletopReach"
STEPS = {"state": 300, "frames": 150}


@pytest.fixture(scope="module")
def episodes() -> list:
    """20 real TabletopReach episodes (32x32 frames beside the states; noisy expert, every third one random)."""
    return real_pixel_episodes(20, seed=0)


@pytest.fixture(scope="module")
def trained(episodes: list) -> dict:
    """A state and a frame inverse model trained briefly on the same episodes, with their reports."""
    return {
        obs: train_inverse_model(
            episodes, task=TASK, observation=obs, steps=STEPS[obs], batch_size=64, eval_every=50, progress=False
        )
        for obs in ("state", "frames")
    }


@pytest.mark.parametrize("observation", ["state", "frames"])
def test_beats_the_mean_action_on_held_out_real_transitions(trained: dict, episodes: list, observation: str) -> None:
    model, report = trained[observation]
    assert model.observation == observation and report.observation == observation
    assert model.obs_shape == ((54,) if observation == "state" else (32, 32, 3))
    assert report.heldout_episodes == 4 and report.train_episodes == 16
    margin = 0.5 if observation == "state" else 0.9
    assert report.heldout_rmse < margin * report.heldout_mean_action_rmse, report
    # the report's figure is the model's own on the held-out episodes, recomputed here from predict()
    held = episodes[-4:]
    x = [ep.frames if observation == "frames" else ep.observations for ep in held]
    pred = model.predict(np.concatenate([v[:-1] for v in x]), np.concatenate([v[1:] for v in x]))
    target = model.scale_actions(np.concatenate([ep.actions for ep in held]))
    assert np.sqrt(np.mean((pred - target) ** 2)) == pytest.approx(report.heldout_rmse, rel=1e-6)
    assert np.all(np.abs(pred) <= 1.0)
    train_actions = model.scale_actions(np.concatenate([ep.actions for ep in episodes[:-4]]))
    np.testing.assert_allclose(model.mean_action, train_actions.mean(0))
    assert report.curve and report.best_step in [s for s, _ in report.curve]
    assert min(v for _, v in report.curve) == pytest.approx(report.heldout_rmse, rel=1e-6)


def test_seeded_and_leaves_global_rngs_alone(episodes: list) -> None:
    torch_state, np_state = torch.random.get_rng_state(), np.random.get_state()
    a, _ = train_inverse_model(episodes, task=TASK, steps=20, eval_every=10, seed=3, progress=False)
    b, _ = train_inverse_model(episodes, task=TASK, steps=20, eval_every=10, seed=3, progress=False)
    c, _ = train_inverse_model(episodes, task=TASK, steps=20, eval_every=10, seed=4, progress=False)
    assert torch.equal(torch.random.get_rng_state(), torch_state)
    assert np.array_equal(np.random.get_state()[1], np_state[1])
    obs, nxt = episodes[0].observations[:-1], episodes[0].observations[1:]
    np.testing.assert_array_equal(a.predict(obs, nxt), b.predict(obs, nxt))
    assert not np.array_equal(a.predict(obs, nxt), c.predict(obs, nxt))


def test_scale_actions_maps_the_bounds_to_minus_one_and_one() -> None:
    cfg = InverseDynamicsConfig(task=TASK, obs_shape=(3,), action_low=(-2.0, 0.0), action_high=(2.0, 1.0))
    model = InverseDynamicsModel(cfg)
    got = model.scale_actions(np.array([[-2.0, 0.0], [0.0, 0.5], [2.0, 1.0], [5.0, -1.0]]))
    np.testing.assert_allclose(got, [[-1, -1], [0, 0], [1, 1], [1, -1]])
    with pytest.raises(ValueError, match=r"\[\.\.\., 2\]"):
        model.scale_actions(np.zeros((3, 3)))


@pytest.mark.parametrize("observation", ["state", "frames"])
def test_save_load_round_trip(trained: dict, episodes: list, tmp_path: Path, observation: str) -> None:
    model, _ = trained[observation]
    path = save_inverse_model(model, tmp_path / "idm.safetensors")
    loaded = load_inverse_model(path, task=TASK)
    assert loaded.config == model.config and loaded.info == model.info
    np.testing.assert_array_equal(loaded.mean_action, model.mean_action)
    x = episodes[0].frames if observation == "frames" else episodes[0].observations
    np.testing.assert_array_equal(loaded.predict(x[:-1], x[1:]), model.predict(x[:-1], x[1:]))


def test_load_refuses_other_tasks_damaged_and_foreign_files(trained: dict, tmp_path: Path) -> None:
    path = save_inverse_model(trained["state"][0], tmp_path / "idm.safetensors")
    with pytest.raises(InverseModelError, match="reads TabletopReach transitions, expected Hopper"):
        load_inverse_model(path, task="Hopper")
    data = bytearray(path.read_bytes())
    data[-20:] = bytes(20)  # the last weights' bytes
    damaged = tmp_path / "damaged.safetensors"
    damaged.write_bytes(bytes(data))
    with pytest.raises(InverseModelError, match="checksum"):
        load_inverse_model(damaged)
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(path.read_bytes()[:100])
    with pytest.raises(InverseModelError, match="not a readable safetensors"):
        load_inverse_model(truncated)
    from neural_gym.world_models.zoo import ZOO_DIR

    with pytest.raises(InverseModelError, match="not an inverse-dynamics model"):
        load_inverse_model(ZOO_DIR / "TabletopReach.safetensors")
    with pytest.raises(InverseModelError, match="No inverse-dynamics checkpoint"):
        load_inverse_model(tmp_path / "missing.safetensors")


def test_bad_input_is_refused(trained: dict, episodes: list) -> None:
    with pytest.raises(ValueError, match="steps must be a positive integer"):
        train_inverse_model(episodes, task=TASK, steps=0, progress=False)
    with pytest.raises(ValueError, match="heldout_fraction"):
        train_inverse_model(episodes, task=TASK, heldout_fraction=0.9, progress=False)
    with pytest.raises(ValueError, match="at least 2 episodes"):
        train_inverse_model(episodes[:1], task=TASK, progress=False)
    with pytest.raises(ValueError, match="observation must be"):
        train_inverse_model(episodes, task=TASK, observation="pixels", progress=False)  # type: ignore[arg-type]
    no_frames = [dataclasses.replace(ep, frames=None) for ep in episodes]
    with pytest.raises(ValueError, match="needs episodes with frames"):
        train_inverse_model(no_frames, task=TASK, observation="frames", progress=False)
    with pytest.raises(ValueError, match="Hopper actions have 3 dims: was it collected on another task"):
        train_inverse_model(episodes, task="Hopper", progress=False)
    with pytest.raises(TypeError, match="Episode objects"):
        train_inverse_model([{"observations": 1}, {"observations": 2}], task=TASK, progress=False)
    other = InverseDynamicsConfig(task=TASK, obs_shape=(10,), action_low=(-1.0,) * 4, action_high=(1.0,) * 4)
    with pytest.raises(ValueError, match="config is for"):
        train_inverse_model(episodes, task=TASK, config=other, progress=False)
    state, frames = trained["state"][0], trained["frames"][0]
    with pytest.raises(ValueError, match=r"obs must be \[B, 54\]"):
        state.predict(np.zeros((2, 53)), np.zeros((2, 53)))
    with pytest.raises(ValueError, match="same batch size"):
        state.predict(np.zeros((2, 54)), np.zeros((3, 54)))
    with pytest.raises(ValueError, match=r"\[B, 32, 32, 3\]"):
        frames.predict(np.zeros((2, 64, 64, 3), np.uint8), np.zeros((2, 64, 64, 3), np.uint8))
    with pytest.raises(TypeError, match="uint8"):
        frames.predict(np.zeros((2, 32, 32, 3)), np.zeros((2, 32, 32, 3)))
    with pytest.raises(ValueError, match="high > low"):
        InverseDynamicsModel(InverseDynamicsConfig(task=TASK, obs_shape=(2,), action_low=(1.0,), action_high=(0.0,)))
