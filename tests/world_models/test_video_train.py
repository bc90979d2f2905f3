"""train_video on real Reacher frames: the generator beats copy-last-frame on held-out frames after a tiny run, the
report and calibration, seeded determinism, bad arguments; and a tiny saved video model served as a Dream env."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from neural_gym.envs import get_task
from neural_gym.world_models import VideoModel, load_checkpoint, save_checkpoint
from neural_gym.world_models.video import VideoTrainReport, preset, train_video

SIZE = 32


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py


def reacher_episodes(n: int, seed: int, size: int = SIZE) -> list[dict[str, Any]]:
    """``n`` Reacher episodes (50 steps) of frames beside states under uniform random actions."""
    env = get_task("Reacher").make(obs_mode="dict", image_size=size)
    rng = np.random.default_rng(seed)
    episodes = []
    try:
        for e in range(n):
            obs, _ = env.reset(seed=seed * 1000 + e)
            frames, states, actions, rewards, terms = [obs["pixels"]], [obs["state"]], [], [], []
            done = False
            while not done:
                a = rng.uniform(env.action_space.low, env.action_space.high)
                obs, r, terminated, truncated, _ = env.step(a)
                frames.append(obs["pixels"])
                states.append(obs["state"])
                actions.append(a)
                rewards.append(r)
                terms.append(terminated)
                done = terminated or truncated
            episodes.append(
                {
                    "observations": np.stack(frames),
                    "states": np.stack(states),
                    "actions": np.stack(actions),
                    "rewards": np.asarray(rewards),
                    "terminations": np.asarray(terms),
                }
            )
    finally:
        env.close()
    return episodes


def train(episodes: list[dict[str, Any]], **kw: Any) -> tuple[VideoModel, VideoTrainReport]:
    args: dict[str, Any] = {
        "task": "Reacher",
        "task_env_id": "Reacher-v5",
        "action_low": [-1.0, -1.0],
        "action_high": [1.0, 1.0],
        "config": "debug",
        "batch_size": 16,
        "lr": 1e-3,
        "heldout_fraction": 0.25,
        "eval_windows": 128,
        "openloop_windows": 4,
        "device": "cpu",
        "progress": False,
    }
    return train_video(episodes, **(args | kw))


@pytest.fixture(scope="module")
def episodes() -> list[dict[str, Any]]:
    return reacher_episodes(8, seed=0)


@pytest.fixture(scope="module")
def trained(episodes: list[dict[str, Any]]) -> tuple[VideoModel, VideoTrainReport]:
    return train(episodes, steps=300, provenance={"dataset_id": "test/frames"})


@pytest.mark.slow
def test_generator_beats_copy_last_frame_on_heldout_frames(trained: tuple[VideoModel, VideoTrainReport]) -> None:
    model, report = trained
    assert report.n_heldout_episodes == 2 and report.heldout_onestep_windows > 50
    assert report.heldout_onestep_mse < report.heldout_copy_last_mse  # one step, held-out episodes
    assert report.heldout_onestep_psnr > report.heldout_copy_last_psnr
    assert report.train_loss[-1] < report.train_loss[0]
    assert report.openloop_horizons == [1, 5, 10, 25]
    assert len(report.heldout_openloop_psnr) == len(report.heldout_openloop_copy_last_psnr) == 4


def test_report_calibration_probe_and_provenance(trained: tuple[VideoModel, VideoTrainReport]) -> None:
    model, report = trained
    cal = model.spec.calibration
    assert (
        cal.measure == "ensemble_std" and cal.quantile == 0.999 and cal.heldout_size == report.heldout_onestep_windows
    )
    assert set(cal.thresholds) == {"ensemble_std", "pairwise_max", "member_dev"}
    assert all(np.isfinite(v) and v > 0 for v in cal.thresholds.values())
    assert cal.threshold == pytest.approx(cal.heldout_quantiles["ensemble_std"]["0.999"])
    assert model.has_probe and model.config.state_dim == 10 and report.heldout_probe_nrmse is not None
    assert report.heldout_probe_nrmse < 1.0  # better than predicting the training mean state
    assert report.heldout_openloop_probe_nrmse is not None and len(report.heldout_openloop_probe_nrmse) == 4
    assert 0 < len(model.start_obs) <= 32 and model.start_obs.dtype == torch.uint8
    prov = model.spec.provenance
    assert prov["dataset_id"] == "test/frames" and prov["steps"] == 300 and prov["config"]["image_size"] == SIZE
    assert prov["heldout"]["heldout_onestep_psnr"] == report.heldout_onestep_psnr


def test_same_seed_same_weights(episodes: list[dict[str, Any]]) -> None:
    kw: dict[str, Any] = {"steps": 3, "eval_windows": 8, "openloop_windows": 1}
    a, _ = train(episodes[:3], seed=5, **kw)
    b, _ = train(episodes[:3], seed=5, **kw)
    c, _ = train(episodes[:3], seed=6, **kw)
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert all(torch.equal(v, sb[k]) for k, v in sa.items())
    assert not torch.equal(sa["unet.conv_in.weight"], sc["unet.conv_in.weight"])


def test_bad_arguments_raise_clear_errors(episodes: list[dict[str, Any]]) -> None:
    with pytest.raises(ValueError, match="at least 2"):
        train(episodes[:1], steps=1)
    with pytest.raises(ValueError, match="image_size=64"):
        train(episodes[:2], steps=1, config=preset("debug", image_size=64))
    with pytest.raises(ValueError, match="ema"):
        train(episodes[:2], steps=1, ema=1.0)
    with pytest.raises(ValueError, match="measure"):
        train(episodes[:2], steps=1, measure="latent_std")
    with pytest.raises(ValueError, match=r"channels-last"):
        train([{**ep, "observations": ep["observations"].transpose(0, 3, 1, 2)} for ep in episodes[:2]], steps=1)
    with pytest.raises(ValueError, match="states must be"):
        train([{**ep, "states": ep["states"][:-1]} for ep in episodes[:2]], steps=1)
    with pytest.raises(ValueError, match="actions must have shape"):
        train([{**ep, "actions": ep["actions"][:, :1]} for ep in episodes[:2]], steps=1)


def test_dream_envs_serve_a_saved_video_model(trained: tuple[VideoModel, VideoTrainReport], tmp_path: Path) -> None:
    from gymnasium.utils.env_checker import check_env

    from neural_gym import DreamEnv, DreamVectorEnv

    model, _ = trained
    path = save_checkpoint(model, tmp_path / "video.safetensors")
    assert path.stat().st_size < 2_000_000
    assert isinstance(load_checkpoint(path, device="cpu"), VideoModel)
    venv = DreamVectorEnv("Reacher", checkpoint=str(path), num_envs=2, device="cpu", render_mode="rgb_array")
    try:
        obs, info = venv.reset(seed=0)
        assert obs.shape == (2, SIZE, SIZE, 3) and obs.dtype == np.uint8
        for _ in range(3):
            obs, reward, terminated, truncated, info = venv.step(venv.action_space.sample())
            assert obs.shape == (2, SIZE, SIZE, 3) and reward.shape == (2,) and np.isfinite(reward).all()
            assert np.isfinite(info["uncertainty"]).all()
        again, _ = venv.reset(seed=0)
        first, _ = DreamVectorEnv("Reacher", checkpoint=str(path), num_envs=2, device="cpu").reset(seed=0)
        np.testing.assert_array_equal(again, first)  # same seed, same start contexts
    finally:
        venv.close()
    env = DreamEnv("Reacher", checkpoint=str(path), device="cpu", render_mode="rgb_array", start="dataset")
    try:
        check_env(env, skip_render_check=False)
        obs, _ = env.reset(seed=1)
        obs, *_ = env.step(env.action_space.sample())
        frame = env.render()
        assert frame is not None and frame.shape == (SIZE, SIZE, 3)
        np.testing.assert_array_equal(frame, obs)  # render() is the generated frame
    finally:
        env.close()


def test_context_noise_augmentation_is_seeded_and_bounded() -> None:
    from neural_gym.world_models.video.train import _augment_context

    assert preset("debug", context_noise=0.1).context_noise == 0.1
    with pytest.raises(ValueError, match="context_noise must be in"):
        preset("debug", context_noise=2.0)
    ctx = torch.zeros(64, 4, 3, 8, 8)
    assert _augment_context(ctx, 0.0, torch.Generator().manual_seed(0)) is ctx
    a = _augment_context(ctx, 0.1, torch.Generator().manual_seed(0))
    b = _augment_context(ctx, 0.1, torch.Generator().manual_seed(0))
    torch.testing.assert_close(a, b)
    stds = a.flatten(1).std(-1)
    assert 0 < float(stds.max()) <= 0.12 and float(stds.min()) < 0.05  # per-window std drawn from U[0, 0.1]
