"""VideoModel (pixel-space few-step denoiser): presets, shapes at 32×32 and 64×64, the EDM pieces and the sampler's
step counts, determinism under a seed and with ``generator=None``, member selection, checkpoints, input checks, and the
out-of-range check of start frames (on real Reacher frames)."""

from __future__ import annotations

import os
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from neural_gym.world_models import ModelSpec, Prediction, VideoModel, VideoState, load_checkpoint, save_checkpoint
from neural_gym.world_models.checkpoint import FAMILIES
from neural_gym.world_models.video import PRESETS, VideoConfig, edm, preset, train_video
from neural_gym.world_models.video.model import VIDEO_MEASURES

from .test_video_train import reacher_episodes

os.environ.setdefault("MUJOCO_GL", "egl")

A, OD = 2, 3  # action size, probed state size


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py


def make_model(size: int = 32, seed: int = 0, **overrides: object) -> VideoModel:
    """An untrained debug-size model with a probe, non-trivial normalization and start contexts."""
    cfg = preset("debug", image_size=size, state_dim=OD, **overrides)  # type: ignore[arg-type]
    model = VideoModel(
        task="Toy",
        task_env_id="Toy-v0",
        obs_shape=(size, size, 3),
        action_dim=A,
        action_low=[-2.0] * A,
        action_high=[2.0] * A,
        config=cfg,
        seed=seed,
    )
    rng = np.random.default_rng(seed)
    model.set_normalization(rewards=rng.normal(1.0, 2.0, size=64), states=rng.normal(0.5, 3.0, size=(64, OD)))
    k = cfg.context_frames
    model.set_start_contexts(
        rng.integers(0, 256, size=(5, k, size, size, 3), dtype=np.uint8), rng.uniform(-2, 2, size=(5, k - 1, A))
    )
    return model.eval()


def frames(model: VideoModel, *lead: int, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (*lead, *model.obs_shape), generator=g, dtype=torch.uint8)


def context(model: VideoModel, B: int, seed: int = 1) -> VideoState:
    k = model.context_length
    acts = torch.rand(B, k - 1, A, generator=torch.Generator().manual_seed(seed)) * 4 - 2
    return model.initial_state_from_history(frames(model, B, k, seed=seed), acts)


# ---------------------------------------------------------------------------------------------------------- config
def test_presets_validate_and_round_trip() -> None:
    assert set(PRESETS) == {"debug", "small32", "small"}
    for name in PRESETS:
        cfg = preset(name)
        cfg.validate()
        assert VideoConfig.from_dict(cfg.to_dict()) == cfg
        assert cfg.num_heads >= 2 and 1 <= cfg.sampling_steps <= 3
    assert preset("small").image_size == 64 and preset("small32").image_size == 32
    assert preset("debug", image_size=64).image_size == 64
    for bad, match in [
        ({"image_size": 48}, "image_size"),
        ({"num_heads": 1}, "num_heads"),
        ({"sampling_steps": 0}, "sampling_steps"),
        ({"sampler": "ddim"}, "sampler"),
        ({"channels": (8,)}, "channels"),
        ({"sigma_min": 10.0}, "sigma_min"),
        ({"proprio": True}, "proprio"),
        ({"pool_size": 7}, "pool_size"),
    ]:
        with pytest.raises(ValueError, match=match):
            preset("debug", **bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown video preset"):
        preset("huge")
    with pytest.raises(ValueError, match="unknown VideoConfig fields"):
        preset("debug", depth=3)
    with pytest.raises(ValueError, match="unknown VideoConfig fields"):
        VideoConfig.from_dict({"nope": 1})


# ---------------------------------------------------------------------------------------------------------- shapes
@pytest.mark.parametrize("size", [32, 64])
def test_shapes_and_ranges(size: int) -> None:
    model = make_model(size)
    k, B, E = model.context_length, 3, model.config.num_heads
    assert model.spec.family == "video" and model.spec.obs_shape == (size, size, 3) and model.obs_std is None
    assert model.num_members == E and model.spec.calibration.measure == "ensemble_std"
    state = context(model, B)
    assert state.frames.shape == (B, k, 3, size, size) and state.actions.shape == (B, k - 1, A)
    assert state.frames.dtype == torch.float32 and float(state.frames.abs().max()) <= 1.0
    pred = model.step(state, torch.zeros(B, A), return_members=True)
    assert isinstance(pred, Prediction)
    assert pred.state.frames.shape == (B, k, 3, size, size) and pred.state.actions.shape == (B, k - 1, A)
    torch.testing.assert_close(pred.state.frames[:, :-1], state.frames[:, 1:])  # the window shifts by one
    torch.testing.assert_close(pred.state.actions[:, -1], model.scale_action(torch.zeros(B, A)))
    for t in (pred.reward, pred.terminated, pred.disagreement):
        assert t.shape == (B,) and torch.isfinite(t).all()
    assert set(pred.uncertainty) == set(VIDEO_MEASURES)
    assert ((pred.terminated >= 0) & (pred.terminated <= 1)).all()
    obs = model.observe(pred.state)
    assert obs.shape == (B, size, size, 3) and obs.dtype == torch.float32
    assert float(obs.min()) >= 0.0 and float(obs.max()) <= 255.0
    assert pred.member_means is not None and pred.member_means.shape == (E, B, size, size, 3)
    inside = (pred.member_means > 0).all(0) & (pred.member_means < 255).all(0)  # away from the clip at 0 and 255
    torch.testing.assert_close(pred.member_means.mean(0)[inside], obs[inside], atol=1e-3, rtol=0)  # mean = frame
    assert model.probe_state(frames(model, B)).shape == (B, OD)
    # one frame as context: repeated k times
    single = model.initial_state(frames(model, B))
    torch.testing.assert_close(single.frames[:, 0], single.frames[:, -1])
    assert model.start_states.shape == (5, size, size, 3)


def test_observe_of_initial_state_is_the_newest_frame() -> None:
    model = make_model()
    f = frames(model, 2, model.context_length)
    state = model.initial_state_from_history(f, torch.zeros(2, model.context_length - 1, A))
    torch.testing.assert_close(model.observe(state), f[:, -1].float(), atol=1e-4, rtol=0)
    floats = model.initial_state_from_history(f.float(), torch.zeros(2, model.context_length - 1, A))
    torch.testing.assert_close(floats.frames, state.frames)


# ---------------------------------------------------------------------------------------------------------- EDM
def test_preconditioning_and_loss_match_the_edm_weighting() -> None:
    sd = 0.5
    sigma = torch.tensor([1e-4, 0.5, 80.0])
    pc = edm.precondition(sigma, sd)
    assert float(pc.c_skip[0]) == pytest.approx(1.0, abs=1e-6) and float(pc.c_out[0]) == pytest.approx(0.0, abs=1e-3)
    assert float(pc.c_skip[1]) == pytest.approx(0.5) and float(pc.c_in[1]) == pytest.approx(1 / (0.5 * 2**0.5))
    assert float(pc.c_skip[2]) == pytest.approx(0.0, abs=1e-4)
    torch.testing.assert_close(pc.c_noise, sigma.log() / 4)

    clean = torch.randn(3, 3, 4, 4, generator=torch.Generator().manual_seed(0))
    net = torch.nn.Conv2d(3, 3, 1)
    with torch.no_grad():  # weights from a seeded generator: the check must not depend on the global RNG's state
        g = torch.Generator().manual_seed(1)
        net.weight.copy_(0.5 * torch.randn(net.weight.shape, generator=g))
        net.bias.copy_(0.1 * torch.randn(net.bias.shape, generator=g))

    def network(x: torch.Tensor, p: edm.Precond) -> torch.Tensor:
        return net(x)

    loss = edm.edm_loss(network, clean, sigma, sd, torch.Generator().manual_seed(5))
    noisy = clean + sigma.view(-1, 1, 1, 1) * torch.randn(clean.shape, generator=torch.Generator().manual_seed(5))
    denoised = pc.c_skip * noisy + pc.c_out * net(pc.c_in * noisy)
    weight = (sigma**2 + sd**2) / (sigma * sd) ** 2
    torch.testing.assert_close(loss, weight * (denoised - clean).square().flatten(1).mean(1), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize(
    ("steps", "sampler", "calls"), [(1, "euler", 1), (2, "euler", 2), (3, "euler", 3), (3, "heun", 5)]
)
def test_sampler_step_counts(steps: int, sampler: str, calls: int) -> None:
    model = make_model(sampling_steps=steps, sampler=sampler)
    sig = model.sigmas
    assert len(sig) == steps + 1 and float(sig[0]) == model.config.sigma_max and float(sig[-1]) == 0.0
    assert (sig[:-1] > sig[1:]).all()
    if steps > 1:
        assert float(sig[-2]) == pytest.approx(model.config.sigma_min)
    assert edm.sampler_calls(steps, sampler == "heun") == calls
    seen: list[int] = []
    handle = model.unet.register_forward_hook(lambda *_: seen.append(1))
    model.step(context(model, 2), torch.zeros(2, A))
    handle.remove()
    assert len(seen) == calls  # one UNet call per Euler step (+1 per Heun correction)


def test_untrained_generator_copies_the_last_frame() -> None:
    # the UNet's output layer starts at zero, so D(x; σ) = c_skip x and the residual sampler ends at the last frame
    # plus a vanishing share of the start noise
    model = make_model(sampling_steps=1)
    state = context(model, 2)
    pred = model.step(state, torch.zeros(2, A))
    c_skip = model.config.sigma_data**2 / (model.config.sigma_max**2 + model.config.sigma_data**2)
    err = (model.observe(pred.state) - model.observe(state)).abs().max()
    assert float(err) <= 255 * model.config.sigma_max * c_skip * 5  # |noise| < 5σ


# ---------------------------------------------------------------------------------------------------------- determinism
def test_determinism_under_a_seed_and_without_generator() -> None:
    default = make_model()
    s0, a0 = context(default, 4), torch.rand(4, A, generator=torch.Generator().manual_seed(3))
    by_default = default.step(s0, a0, generator=torch.Generator().manual_seed(7)).state
    torch.testing.assert_close(by_default.frames, default.step(s0, a0).state.frames, rtol=0, atol=0)  # noise ignored
    model = make_model(sample_noise=True)
    state, act = context(model, 4), torch.rand(4, A, generator=torch.Generator().manual_seed(3))
    rng_before = torch.random.get_rng_state()

    def run(gen: torch.Generator | None) -> torch.Tensor:
        s = state
        for _ in range(3):
            s = model.step(s, act, generator=gen).state
        return model.observe(s)

    a = run(torch.Generator().manual_seed(7))
    b = run(torch.Generator().manual_seed(7))
    c = run(torch.Generator().manual_seed(8))
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert not torch.equal(a, c)
    torch.testing.assert_close(run(None), run(None), rtol=0, atol=0)  # generator=None: fixed documented noise
    assert torch.equal(torch.random.get_rng_state(), rng_before)  # the global RNG is never touched
    # same construction seed → same weights; another seed → others
    w0 = make_model(seed=0).state_dict()
    assert all(torch.equal(v, make_model(seed=0).state_dict()[k]) for k, v in w0.items())
    assert not torch.equal(w0["unet.conv_in.weight"], make_model(seed=1).state_dict()["unet.conv_in.weight"])


# ---------------------------------------------------------------------------------------------------------- members
def test_member_selection() -> None:
    model = make_model()
    with torch.no_grad():  # untrained heads sit near 0; spread them so member figures differ
        model.dynamics.w2.mul_(30.0)
    state, act = context(model, 3), torch.zeros(3, A)
    every = model.step(state, act)
    per = [model.step(state, act, member=torch.full((3,), e)) for e in range(model.config.num_heads)]
    for p in per:  # one generator: frame, reward, termination and the calibrated disagreement ignore member
        torch.testing.assert_close(p.state.frames, every.state.frames, rtol=0, atol=0)
        torch.testing.assert_close(p.reward, every.reward)
        torch.testing.assert_close(p.disagreement, every.disagreement)
    devs = torch.stack([p.uncertainty["member_dev"] for p in per])  # (E, B)
    assert not torch.allclose(devs[0], devs[1])
    torch.testing.assert_close(every.uncertainty["member_dev"], devs.amax(0))  # None: the farthest head
    mixed = model.step(state, act, member=torch.tensor([0, 2, 1]))
    torch.testing.assert_close(mixed.uncertainty["member_dev"], devs[[0, 2, 1], [0, 1, 2]])
    assert (every.uncertainty["pairwise_max"] >= every.uncertainty["ensemble_std"]).all()
    with pytest.raises(ValueError, match=r"member indices must be in \[0, 3\)"):
        model.step(state, act, member=torch.tensor([0, 1, 3]))
    with pytest.raises(ValueError, match=r"member must be integer indices of shape \[3\]"):
        model.step(state, act, member=torch.tensor([0, 1]))


# ---------------------------------------------------------------------------------------------------------- checkpoints
def test_checkpoint_round_trip_gives_identical_frames(tmp_path: Path) -> None:
    assert FAMILIES["video"] is VideoModel
    model = make_model()
    model.spec.calibration.thresholds = {"ensemble_std": 0.25}
    path = save_checkpoint(model, tmp_path / "video.safetensors")
    loaded = load_checkpoint(path, task="Toy", family="video", device="cpu")
    assert isinstance(loaded, VideoModel) and loaded.spec == model.spec
    assert loaded.start_obs.shape == model.start_obs.shape and loaded.start_obs.dtype == torch.uint8
    assert torch.equal(loaded.start_obs, model.start_obs) and torch.equal(loaded.state_std, model.state_std)
    state, act = context(model, 2), torch.ones(2, A)
    a, b = model.step(state, act), loaded.step(state, act)
    torch.testing.assert_close(a.state.frames, b.state.frames, rtol=0, atol=0)
    torch.testing.assert_close(a.disagreement, b.disagreement, rtol=0, atol=0)
    assert path.stat().st_size < 2_000_000
    with pytest.raises(ValueError, match="family 'video'"):
        VideoModel.from_spec(replace(model.spec, family="latent"))
    with pytest.raises(ValueError, match="ensemble_size"):
        VideoModel.from_spec(replace(model.spec, ensemble_size=5))


# ---------------------------------------------------------------------------------------------------------- bad inputs
def test_bad_inputs_raise_clear_errors() -> None:
    model = make_model()
    k = model.context_length
    acts = torch.zeros(2, k - 1, A)
    with pytest.raises(ValueError, match=r"frames of size \(64, 64, 3\).*width=32"):
        model.initial_state_from_history(torch.zeros(2, k, 64, 64, 3, dtype=torch.uint8), acts)
    with pytest.raises(ValueError, match="channels-first"):
        model.initial_state_from_history(torch.zeros(2, k, 3, 32, 32, dtype=torch.uint8), acts)
    with pytest.raises(ValueError, match="dtype torch.int32"):
        model.initial_state_from_history(torch.zeros(2, k, 32, 32, 3, dtype=torch.int32), acts)
    with pytest.raises(ValueError, match=r"not \[0, 1\] or normalized"):
        model.initial_state_from_history(-torch.ones(2, k, 32, 32, 3), acts)
    with pytest.raises(ValueError, match=rf"\[B, k={k}, 32, 32, 3\].*got \(2, {k - 1}, 32, 32, 3\)"):
        model.initial_state_from_history(torch.zeros(2, k - 1, 32, 32, 3, dtype=torch.uint8), acts)
    with pytest.raises(ValueError, match=rf"actions must have shape \[2, {k - 1}, 2\]"):
        model.initial_state_from_history(torch.zeros(2, k, 32, 32, 3, dtype=torch.uint8), torch.zeros(2, k, A))
    state = context(model, 2)
    with pytest.raises(ValueError, match=r"action must have shape \[2, 2\].*got \(2, 3\)"):
        model.step(state, torch.zeros(2, 3))
    with pytest.raises(ValueError, match="finite"):
        model.step(state, torch.full((2, A), float("nan")))
    with pytest.raises(ValueError, match="VideoState"):
        model.step(torch.zeros(2, 4), torch.zeros(2, A))
    with pytest.raises(ValueError, match="state must have frames"):
        model.step(VideoState(state.frames[:, 1:], state.actions), torch.zeros(2, A))
    with pytest.raises(ValueError, match="context must be"):
        model.initial_state(torch.zeros(32, 32, 3))
    with pytest.raises(ValueError, match="obs_shape"):
        VideoModel(
            task="T", task_env_id="T", obs_shape=(64, 64, 3), action_dim=A, action_low=[-1] * A,
            action_high=[1] * A, config=preset("debug"),
        )  # fmt: skip
    spec = ModelSpec("video", "T", "T", (32, 32, 3), A, [-1.0] * A, [1.0] * A, 3, [0, 1, 2], preset("debug").to_dict())
    no_probe = VideoModel.from_spec(spec)
    assert not no_probe.has_probe
    with pytest.raises(ValueError, match="no state probe"):
        no_probe.probe_state(torch.zeros(1, 32, 32, 3, dtype=torch.uint8))


# ---------------------------------------------------------------------------------------------- out-of-range contexts
def unreal_frames(lead: tuple[int, ...], size: int = 32) -> dict[str, torch.Tensor]:
    """All-white, all-black and uniform-noise frames ``[*lead, size, size, 3]``."""
    shape = (*lead, size, size, 3)
    return {
        "white": torch.full(shape, 255, dtype=torch.uint8),
        "black": torch.zeros(shape, dtype=torch.uint8),
        "noise": torch.randint(0, 256, shape, generator=torch.Generator().manual_seed(0), dtype=torch.uint8),
    }


@pytest.fixture(scope="module")
def reacher() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Training and held-out Reacher episodes (32×32 frames)."""
    return reacher_episodes(6, seed=1), reacher_episodes(3, seed=2)  # frames beside states; the states go unused


def test_frame_context_check_flags_unreal_frames_but_not_real_ones(
    reacher: tuple[list[dict[str, Any]], list[dict[str, Any]]],
) -> None:
    train, held = reacher
    model = make_model()
    model.spec.calibration.thresholds = {"ensemble_std": 0.05}
    k = model.context_length
    acts = torch.zeros(1, k - 1, A)
    assert model.initial_state_from_history(unreal_frames((1, k))["white"], acts).context_ood.eq(0).all()  # unfitted
    with pytest.raises(ValueError, match=r"uint8, or float in \[0, 255\].*range \[-1, -1\]"):
        model.fit_context_stats(-torch.ones(4, 32, 32, 3))  # normalized frames
    with pytest.raises(ValueError, match=r"shape \[N, 32, 32, 3\], got \(4, 3, 32, 32\)"):
        model.fit_context_stats(torch.zeros(4, 3, 32, 32, dtype=torch.uint8))
    model.fit_context_stats([ep["observations"] for ep in train])
    assert model.context_stats_fitted and float(model.context_limit) > 0
    real = model.context_ood_score(torch.as_tensor(np.concatenate([ep["observations"] for ep in held])))
    assert float(real.max()) <= 1.0, f"held-out real frames scored up to {float(real.max()):.3f}, expected <= 1"
    for what, x in unreal_frames((1, k)).items():
        state = model.initial_state_from_history(x, acts)
        assert float(state.context_ood) > 1.0, f"{what} frames scored {float(state.context_ood):.3f}, expected > 1"
        pred = model.step(state, torch.zeros(1, A))
        assert float(pred.disagreement) > 0.05 and float(model.step(pred.state, torch.zeros(1, A)).disagreement) > 0.05
    # one unreal frame among real ones flags the context; a real context keeps the heads' own disagreement
    ctx = torch.as_tensor(np.stack([held[0]["observations"][:k], held[1]["observations"][5 : 5 + k]]))
    ctx[1, 0] = 255
    state = model.initial_state_from_history(ctx, torch.zeros(2, k - 1, A))
    assert float(state.context_ood[0]) <= 1.0 < float(state.context_ood[1])
    pred = model.step(state, torch.zeros(2, A))
    torch.testing.assert_close(pred.disagreement[0], pred.uncertainty["ensemble_std"][0])
    assert model.initial_state(unreal_frames((2,))["black"]).context_ood.gt(1).all()  # one frame, repeated


def strip_context_stats(path: Path) -> None:
    """Rewrite a checkpoint as one written before the context statistics existed (and before weight checksums)."""
    with safe_open(str(path), framework="pt") as f:
        metadata = dict(f.metadata())
    metadata.pop("weights_sha256", None)
    tensors = {k: v for k, v in load_file(str(path)).items() if not k.startswith("context_")}
    save_file(tensors, str(path), metadata=metadata)


def test_checkpoint_without_context_stats_derives_them_from_start_contexts(
    tmp_path: Path, reacher: tuple[list[dict[str, Any]], list[dict[str, Any]]]
) -> None:
    train, held = reacher
    model = make_model()
    k = model.context_length
    starts = np.stack([ep["observations"][s : s + k] for ep in train for s in range(0, 40, 8)])  # 30 contexts
    model.set_start_contexts(starts, np.zeros((len(starts), k - 1, A)))
    model.spec.calibration.thresholds = {"ensemble_std": 0.05}
    path = save_checkpoint(model, tmp_path / "old.safetensors")
    strip_context_stats(path)
    with warnings.catch_warnings():  # "no weights checksum" (it was stripped with the statistics)
        warnings.simplefilter("ignore", UserWarning)
        loaded = load_checkpoint(path, family="video", device="cpu")
    assert isinstance(loaded, VideoModel) and loaded.context_stats_fitted
    torch.testing.assert_close(loaded.context_mean, torch.as_tensor(starts, dtype=torch.float32).flatten(0, 1).mean(0))
    real = loaded.context_ood_score(torch.as_tensor(np.concatenate([ep["observations"] for ep in held])))
    assert float(real.max()) <= 1.0
    assert all(float(loaded.context_ood_score(x)) > 1.0 for x in unreal_frames((1,)).values())
    # no start contexts stored: nothing to derive from, the check stays off
    empty = make_model()
    empty.set_start_contexts(empty.start_obs[:0], empty.start_actions[:0])
    empty.spec.calibration.thresholds = {"ensemble_std": 0.05}
    path = save_checkpoint(empty, tmp_path / "empty.safetensors")
    strip_context_stats(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        assert not load_checkpoint(path, family="video", device="cpu").context_stats_fitted


def test_train_video_records_the_context_statistics(
    reacher: tuple[list[dict[str, Any]], list[dict[str, Any]]],
) -> None:
    train, held = reacher
    model, _ = train_video(
        train,
        task="Reacher",
        task_env_id="Reacher-v5",
        action_low=[-1.0, -1.0],
        action_high=[1.0, 1.0],
        config=preset("debug", image_size=32),
        steps=2,
        batch_size=4,
        heldout_fraction=0.34,
        eval_windows=16,
        openloop_windows=2,
        device="cpu",
        progress=False,
    )
    assert model.context_stats_fitted
    real = model.context_ood_score(torch.as_tensor(np.concatenate([ep["observations"] for ep in held])))
    assert float(real.max()) <= 1.0
    assert float(model.context_ood_score(unreal_frames((1,))["white"])) > 1.0
