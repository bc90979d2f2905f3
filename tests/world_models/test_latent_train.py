"""train_latent: learns on real Reacher vectors, beats trivial baselines, is seeded, handles short episodes, refuses bad
data. (The 64×64 frame run is in test_latent_model.py, to keep each file near 30 s.)"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from neural_gym.world_models import LatentModel, load_checkpoint, save_checkpoint
from neural_gym.world_models.latent import LatentTrainReport, SequenceData, train_latent

os.environ.setdefault("MUJOCO_GL", "egl")
gym = pytest.importorskip("gymnasium")

QUIET: dict[str, Any] = {"device": "cpu", "progress": False}


def reacher_episodes(n: int, *, frames: bool, seed: int) -> list[SequenceData]:
    """``n`` Reacher-v5 episodes (50 steps each) under uniform random actions; frames are 64×64 renders."""
    kw = {"render_mode": "rgb_array", "width": 64, "height": 64} if frames else {}
    env = gym.make("Reacher-v5", **kw)
    rng = np.random.default_rng(seed)
    episodes = []
    for i in range(n):
        obs, _ = env.reset(seed=seed + i)
        seen = [env.render() if frames else obs]
        actions, rewards, terms = [], [], []
        done = False
        while not done:
            a = rng.uniform(-1.0, 1.0, size=2).astype(np.float32)
            obs, r, terminated, truncated, _ = env.step(a)
            seen.append(env.render() if frames else obs)
            actions.append(a)
            rewards.append(r)
            terms.append(terminated)
            done = terminated or truncated
        episodes.append(SequenceData(np.stack(seen), np.stack(actions), np.array(rewards), np.array(terms)))
    env.close()
    return episodes


def rotor_episodes(n: int, length: int, seed: int) -> list[SequenceData]:
    """A fast driven rotor, ``obs = [cos θ, sin θ, ω]``, ``θ' = θ + ω``, ``ω' = 0.9 ω + 0.3 a``: copy-last is poor."""
    rng = np.random.default_rng(seed)
    episodes = []
    for _ in range(n):
        theta, omega = rng.uniform(-np.pi, np.pi), rng.uniform(-1.0, 1.0)
        actions = rng.uniform(-1.0, 1.0, size=(length, 1)).astype(np.float32)
        obs = [[np.cos(theta), np.sin(theta), omega]]
        for a in actions[:, 0]:
            theta, omega = theta + omega, 0.9 * omega + 0.3 * a
            obs.append([np.cos(theta), np.sin(theta), omega])
        o = np.array(obs, dtype=np.float32)
        episodes.append(SequenceData(o, actions, -np.abs(o[1:, 2]), np.zeros(length, bool)))
    return episodes


def fit(episodes: list[Any], **kw: Any) -> tuple[LatentModel, LatentTrainReport]:
    args: dict[str, Any] = {
        "task": "Reacher",
        "task_env_id": "Reacher-v5",
        "action_low": [-1.0, -1.0],
        "action_high": [1.0, 1.0],
        "config": "debug",
        "batch_size": 16,
        "seq_len": 32,
        "lr": 1e-3,
        **QUIET,
    }
    args.update(kw)
    return train_latent(episodes, **args)


@pytest.mark.slow
def test_vector_reconstruction_beats_mean_on_reacher(tmp_path: Path) -> None:
    episodes = reacher_episodes(40, frames=False, seed=0)
    model, report = fit(episodes, steps=150, seq_len=24, log_dir=str(tmp_path / "tb"))
    assert report.steps == 150 and report.n_heldout_episodes == 4 and report.n_train_episodes == 36
    assert report.heldout_mean_baseline_mse == pytest.approx(1.0, abs=0.3)  # training std units
    assert report.heldout_recon_mse < 0.7 * report.heldout_mean_baseline_mse
    assert len(report.heldout_openloop_mse) == 15 and report.heldout_recon_psnr is None
    cal = model.spec.calibration
    assert cal.measure == "latent_std" and cal.quantile == 0.999 and cal.heldout_size > 100
    assert all(math.isfinite(v) and v > 0 for v in cal.thresholds.values())
    assert model.start_obs.shape == (256, 3, 10) and model.start_actions.shape == (256, 2, 2)
    prov = model.spec.provenance
    assert prov["steps"] == 150 and prov["config"]["deter"] == 64 and "heldout_recon_mse" in prov["heldout"]
    assert any(p.name.startswith("events") for p in (tmp_path / "tb").iterdir())
    # The checkpoint carries everything: same predictions after a round trip.
    loaded = load_checkpoint(save_checkpoint(model, tmp_path / "m.safetensors"), device="cpu")
    obs = torch.as_tensor(model.start_obs[:8])
    s1 = model.initial_state_from_history(obs, model.start_actions[:8])
    s2 = loaded.initial_state_from_history(obs, loaded.start_actions[:8])
    assert torch.equal(
        model.observe(model.step(s1, torch.ones(8, 2)).state), loaded.observe(loaded.step(s2, torch.ones(8, 2)).state)
    )


@pytest.mark.slow
def test_one_step_prior_beats_copy_last() -> None:
    model, report = fit(rotor_episodes(20, 40, seed=0), action_low=[-1.0], action_high=[1.0], steps=150, seq_len=24)
    assert report.heldout_openloop_mse[0] < 0.7 * report.heldout_copy_last_mse[0]
    assert report.heldout_recon_mse < 0.5 * report.heldout_mean_baseline_mse


def test_same_seed_same_weights() -> None:
    episodes = rotor_episodes(6, 20, seed=1)
    kw: dict[str, Any] = {"action_low": [-1.0], "action_high": [1.0], "steps": 5, "open_loop_horizon": 3}
    a, _ = fit(episodes, seed=3, **kw)
    b, _ = fit(episodes, seed=3, **kw)
    c, _ = fit(episodes, seed=4, **kw)
    for (name, pa), pb in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(pa, pb), name
    assert not torch.equal(a.rssm.heads.w2, c.rssm.heads.w2)


def test_short_episodes_and_terminations() -> None:
    """Episodes shorter than seq_len (InvertedPendulum-like) are padded, not dropped; termination is learned."""
    rng = np.random.default_rng(0)
    episodes = []
    for i in range(24):
        T = int(rng.integers(4, 12))
        obs = np.cumsum(rng.normal(size=(T + 1, 4)), axis=0).astype(np.float32)
        episodes.append(
            SequenceData(
                obs, rng.uniform(-3, 3, (T, 1)), np.ones(T), np.arange(T) == T - 1 if i % 2 else np.zeros(T, bool)
            )
        )
    model, report = fit(episodes, action_low=[-3.0], action_high=[3.0], steps=30, seq_len=32, open_loop_horizon=4)
    assert report.loss_terms["continue"] > 0 and math.isfinite(report.train_loss[-1])
    never = rotor_episodes(4, 10, seed=2)
    model, _ = fit(never, action_low=[-1.0], action_high=[1.0], steps=3, open_loop_horizon=3)
    pred = model.step(model.initial_state(torch.zeros(2, 3)), torch.zeros(2, 1))
    assert (pred.terminated < 1e-6).all()  # no terminal transition in the data: the model never terminates


def test_bad_data_is_refused() -> None:
    good = rotor_episodes(3, 10, seed=0)
    kw: dict[str, Any] = {"action_low": [-1.0], "action_high": [1.0], "steps": 1}
    with pytest.raises(ValueError, match=r"actions must have shape \[T>=1, A=2\]"):
        fit(good, action_low=[-1.0, -1.0], action_high=[1.0, 1.0], steps=1)
    bad = [SequenceData(ep.observations[:-1], ep.actions, ep.rewards, ep.terminations) for ep in good]
    with pytest.raises(ValueError, match="T\\+1=11 rows"):
        fit(bad, **kw)
    with pytest.raises(ValueError, match="at least 2"):
        fit(good[:1], **kw)
    with pytest.raises(ValueError, match="has no 'rewards'"):
        fit([{"observations": good[0].observations, "actions": good[0].actions}] * 2, **kw)
    frames = [
        SequenceData(np.zeros((11, 64, 64, 3), np.int32) - 1, ep.actions, ep.rewards, ep.terminations) for ep in good
    ]
    with pytest.raises(ValueError, match="frames must be uint8"):
        fit(frames, **kw)
    with pytest.raises(ValueError, match="seq_len must be >= 2"):
        fit(good, seq_len=1, **kw)
