"""LatentModel (RSSM): presets, shapes, member selection, sampling, KL balancing, checkpoints, input checks, the
out-of-range check of start contexts, and a reconstruction round trip on real 64×64 Reacher frames."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from neural_gym.world_models import LatentModel, LatentState, Prediction, load_checkpoint, save_checkpoint
from neural_gym.world_models.checkpoint import FAMILIES
from neural_gym.world_models.latent import PRESETS, LatentConfig, preset, train_latent
from neural_gym.world_models.latent.data import SequenceData, WindowSampler
from neural_gym.world_models.latent.model import DERIVED_RANGE_STDS, LatentDreamState
from neural_gym.world_models.latent.networks import symexp, symlog
from neural_gym.world_models.latent.rssm import kl_loss, sample_onehot, unimix_logprobs

os.environ.setdefault("MUJOCO_GL", "egl")

OD, A, B = 5, 2, 4  # obs size, action size, batch


def make_model(kind: str = "vector", seed: int = 0, image_size: int = 64) -> LatentModel:
    """An untrained debug-size model with non-trivial normalization and start contexts."""
    cfg = preset("debug", obs_kind=kind, image_size=image_size)
    shape = (OD,) if kind == "vector" else (image_size, image_size, 3)
    model = LatentModel(
        task="Toy",
        task_env_id="Toy-v0",
        obs_shape=shape,
        action_dim=A,
        action_low=[-2.0] * A,
        action_high=[2.0] * A,
        config=cfg,
        seed=seed,
    )
    rng = np.random.default_rng(seed)
    if kind == "vector":
        model.set_normalization(rng.normal(1.0, 3.0, size=(64, OD)))
    else:
        model.set_normalization(rng.integers(0, 256, size=(16, *shape), dtype=np.uint8))
    k = cfg.burn_in
    obs = rng.normal(size=(6, k, OD)) if kind == "vector" else rng.integers(0, 256, size=(6, k, *shape), dtype=np.uint8)
    model.set_start_contexts(obs, rng.uniform(-2, 2, size=(6, k - 1, A)))
    return model.eval()


def obs_batch(model: LatentModel, *lead: int, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    if model.pixels:
        return torch.randint(0, 256, (*lead, *model.obs_shape), generator=g, dtype=torch.uint8)
    return torch.randn(*lead, *model.obs_shape, generator=g)


def reacher_frames(n: int, seed: int) -> list[SequenceData]:
    """``n`` Reacher-v5 episodes (50 steps) of 64×64 renders under uniform random actions (needs MUJOCO_GL=egl)."""
    gym = pytest.importorskip("gymnasium")
    env = gym.make("Reacher-v5", render_mode="rgb_array", width=64, height=64)
    rng = np.random.default_rng(seed)
    episodes = []
    for i in range(n):
        env.reset(seed=seed + i)
        frames, actions, rewards, terms = [env.render()], [], [], []
        done = False
        while not done:
            a = rng.uniform(-1.0, 1.0, size=2).astype(np.float32)
            _, r, terminated, truncated, _ = env.step(a)
            frames.append(env.render())
            actions.append(a)
            rewards.append(r)
            terms.append(terminated)
            done = terminated or truncated
        episodes.append(SequenceData(np.stack(frames), np.stack(actions), np.array(rewards), np.array(terms)))
    env.close()
    return episodes


def test_presets() -> None:
    assert set(PRESETS) == {"debug", "small", "medium"}
    sizes = [PRESETS[n].deter * PRESETS[n].hidden for n in ("debug", "small", "medium")]
    assert sizes == sorted(sizes)
    cfg = preset("debug", obs_kind="pixels", image_size=32)
    assert cfg.obs_kind == "pixels" and cfg.image_size == 32 and PRESETS["debug"].obs_kind == "vector"
    assert LatentConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="unknown latent preset"):
        preset("huge")
    with pytest.raises(ValueError, match="unknown LatentConfig fields"):
        preset("debug", bogus=1)
    with pytest.raises(ValueError, match="num_heads"):
        preset("debug", num_heads=1)
    with pytest.raises(ValueError, match="image_size"):
        preset("debug", image_size=48)


def test_debug_preset_is_tiny() -> None:
    assert sum(p.numel() for p in make_model().parameters()) < 150_000


@pytest.mark.parametrize(("kind", "size"), [("vector", 64), ("pixels", 64), ("pixels", 32)])
def test_shapes(kind: str, size: int) -> None:
    model = make_model(kind, image_size=size)
    cfg, k, E = model.config, model.context_length, model.config.num_heads
    assert model.spec.family == "latent" and model.spec.ensemble_size == E and model.spec.elites == list(range(E))
    assert model.spec.obs_shape == ((OD,) if kind == "vector" else (size, size, 3))
    obs = obs_batch(model, B, k)
    state = model.initial_state_from_history(obs, torch.zeros(B, k - 1, A))
    assert isinstance(state, LatentState)
    assert state.deter.shape == (B, cfg.deter) and state.stoch.shape == (B, cfg.stoch_groups, cfg.stoch_classes)
    assert torch.equal(state.stoch.sum(-1), torch.ones(B, cfg.stoch_groups))  # one-hot
    for s in (model.initial_state(obs[:, -1]), model.initial_state(obs)):
        assert s.deter.shape == state.deter.shape
    pred = model.step(state, torch.zeros(B, A), return_members=True)
    assert isinstance(pred, Prediction)
    assert pred.reward.shape == pred.terminated.shape == pred.disagreement.shape == (B,)
    assert ((pred.terminated >= 0) & (pred.terminated <= 1)).all()
    assert set(pred.uncertainty) >= {"ensemble_std", "pairwise_max", "latent_std"}
    torch.testing.assert_close(pred.disagreement, pred.uncertainty["latent_std"])
    assert pred.member_means is not None and pred.member_means.shape == (E, B, *model.obs_shape)
    out = model.observe(pred.state)
    assert out.shape == (B, *model.obs_shape) and out.dtype == torch.float32
    if kind == "pixels":
        assert out.min() >= 0 and out.max() <= 255 and model.obs_std is None
    else:
        assert model.obs_std is not None and model.obs_std.shape == (OD,)
    assert model.step(state, torch.zeros(B, A)).member_means is None
    assert model.start_obs.shape == (6, k, *model.obs_shape) and model.start_actions.shape == (6, k - 1, A)
    assert model.start_states.shape == (6, *model.obs_shape)


def test_partial_reset_overwrites_rows() -> None:
    """The env engine resets some envs by writing rows of every field."""
    model = make_model()
    state = model.step(model.initial_state(obs_batch(model, B)), torch.zeros(B, A)).state
    fresh = model.initial_state(obs_batch(model, 2, seed=5))
    idx = torch.tensor([0, 2])
    state.deter[idx] = fresh.deter
    state.stoch[idx] = fresh.stoch
    torch.testing.assert_close(state.deter[idx], fresh.deter)
    model.step(state, torch.zeros(B, A))


def test_member_selection() -> None:
    model = make_model()
    state = model.initial_state(obs_batch(model, B))
    act = torch.rand(B, A, generator=torch.Generator().manual_seed(0)) * 4 - 2
    E = model.config.num_heads
    preds = [model.step(state, act, member=torch.full((B,), e), return_members=True) for e in range(E)]
    for e, p in enumerate(preds):  # following head e gives head e's decoded prediction
        torch.testing.assert_close(model.observe(p.state), p.member_means[e])
    assert any(not torch.equal(preds[0].state.stoch, p.state.stoch) for p in preds[1:])
    mixed = model.step(state, act, member=torch.arange(B) % E)
    for b in range(B):
        torch.testing.assert_close(mixed.state.stoch[b], preds[b % E].state.stoch[b])
    torch.testing.assert_close(mixed.disagreement, preds[0].disagreement)  # the measure reads every head
    with pytest.raises(ValueError, match=r"member indices must be in \[0, 3\)"):
        model.step(state, act, member=torch.full((B,), E))
    with pytest.raises(ValueError, match=r"member must have shape \[4\]"):
        model.step(state, act, member=torch.zeros(B + 1, dtype=torch.long))


def test_straight_through_sampling() -> None:
    logits = torch.randn(6, 4, 5, requires_grad=True)
    logprobs = unimix_logprobs(logits, 0.01)
    assert logprobs.exp().min() >= 0.01 / 5 - 1e-7
    torch.testing.assert_close(logprobs.exp().sum(-1), torch.ones(6, 4))
    rng_before = torch.random.get_rng_state()
    a = sample_onehot(logprobs, torch.Generator().manual_seed(3))
    b = sample_onehot(unimix_logprobs(logits, 0.01), torch.Generator().manual_seed(3))
    assert torch.equal(torch.random.get_rng_state(), rng_before)  # global RNG untouched
    assert torch.equal(a, b)
    onehot = a.detach().round()
    torch.testing.assert_close(a.detach(), onehot)  # one-hot up to rounding of the straight-through sum
    assert torch.equal(onehot.sum(-1), torch.ones(6, 4)) and set(onehot.unique().tolist()) <= {0.0, 1.0}
    (a * torch.randn(6, 4, 5, generator=torch.Generator().manual_seed(1))).sum().backward()
    assert logits.grad is not None and logits.grad.abs().sum() > 0  # gradients flow through the one-hot
    mode = sample_onehot(logprobs.detach())
    assert torch.equal(mode.argmax(-1), logprobs.argmax(-1))


def test_gradients_reach_encoder_through_stochastic_state() -> None:
    model = make_model().train()
    obs = obs_batch(model, 2, 3)
    deter, stoch, _ = model.observe_sequence(obs, torch.zeros(2, 3, A), torch.Generator().manual_seed(0))
    assert stoch.requires_grad
    weights = torch.randn(stoch.shape, generator=torch.Generator().manual_seed(1))
    (stoch * weights).sum().backward()  # a loss on the sampled one-hot state only
    grad = model.encoder.net[0].weight.grad
    assert grad is not None and grad.abs().sum() > 0


def test_kl_free_bits_and_balancing() -> None:
    E, G, C = 3, 4, 5
    post_logits = torch.randn(7, G, C, requires_grad=True)
    prior_logits = torch.randn(E, 7, G, C, requires_grad=True)
    post, prior = torch.log_softmax(post_logits, -1), torch.log_softmax(prior_logits, -1)
    # Below free bits: constant loss and no gradient.
    loss, dyn, rep = kl_loss(post, prior, free_bits=1e3, dyn_scale=0.5, rep_scale=0.1)
    torch.testing.assert_close(loss, torch.full((7,), (0.5 * E + 0.1) * 1e3))
    assert (dyn > 0).all() and torch.allclose(dyn, rep)
    loss.sum().backward()
    assert post_logits.grad is not None and post_logits.grad.abs().max() == 0
    assert prior_logits.grad is not None and prior_logits.grad.abs().max() == 0
    # Above free bits: the dynamics term trains only the priors, the representation term only the posterior.
    for dyn_scale, rep_scale, moves_post, moves_prior in ((1.0, 0.0, False, True), (0.0, 1.0, True, False)):
        post_logits.grad = prior_logits.grad = None
        post, prior = torch.log_softmax(post_logits, -1), torch.log_softmax(prior_logits, -1)
        loss, _, _ = kl_loss(post, prior, free_bits=0.0, dyn_scale=dyn_scale, rep_scale=rep_scale)
        loss.sum().backward()
        assert (post_logits.grad.abs().max() > 0) == moves_post
        assert (prior_logits.grad.abs().max() > 0) == moves_prior
    with pytest.raises(ValueError, match="prior_logprobs must be"):
        kl_loss(post, prior[:, :3], free_bits=1.0, dyn_scale=0.5, rep_scale=0.1)


def test_symlog_round_trip() -> None:
    x = torch.tensor([-1e4, -3.0, -0.1, 0.0, 0.2, 50.0])
    torch.testing.assert_close(symexp(symlog(x)), x)


def test_init_is_seeded() -> None:
    rng_before = torch.random.get_rng_state()
    a, b, c = make_model(seed=1), make_model(seed=1), make_model(seed=2)
    assert torch.equal(torch.random.get_rng_state(), rng_before)
    for (name, pa), pb in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(pa, pb), name
    assert not torch.equal(a.rssm.heads.w1, c.rssm.heads.w1)
    assert not torch.equal(a.rssm.heads.w1[0], a.rssm.heads.w1[1])  # heads start apart


def test_step_sampling_is_seeded() -> None:
    model = make_model()
    state = model.initial_state(obs_batch(model, B))
    act = torch.zeros(B, A)
    s1 = model.step(state, act, generator=torch.Generator().manual_seed(4)).state
    s2 = model.step(state, act, generator=torch.Generator().manual_seed(4)).state
    assert torch.equal(s1.stoch, s2.stoch)
    assert torch.equal(model.step(state, act).state.stoch, model.step(state, act).state.stoch)  # mode


@pytest.mark.parametrize("kind", ["vector", "pixels"])
def test_checkpoint_round_trip(tmp_path: Path, kind: str) -> None:
    model = make_model(kind, image_size=32)
    model.spec.provenance = {"note": "test"}
    model.spec.calibration.thresholds = {"latent_std": 0.5}  # load_checkpoint refuses uncalibrated checkpoints
    model.spec.calibration.measure = "latent_std"
    path = save_checkpoint(model, tmp_path / "latent.safetensors")
    assert FAMILIES["latent"] is LatentModel
    loaded = load_checkpoint(path, family="latent", device="cpu")
    assert isinstance(loaded, LatentModel) and loaded.spec == model.spec
    for (name, pa), pb in zip(model.state_dict().items(), loaded.state_dict().values(), strict=True):
        assert pa.dtype == pb.dtype and torch.equal(pa, pb), name
    obs = obs_batch(model, B, model.context_length)
    actions = torch.rand(B, model.context_length - 1, A)
    s1, s2 = model.initial_state_from_history(obs, actions), loaded.initial_state_from_history(obs, actions)
    p1, p2 = (
        model.step(s1, torch.ones(B, A), return_members=True),
        loaded.step(s2, torch.ones(B, A), return_members=True),
    )
    assert torch.equal(model.observe(p1.state), loaded.observe(p2.state))
    assert torch.equal(p1.member_means, p2.member_means) and torch.equal(p1.reward, p2.reward)


def test_bad_pixel_inputs() -> None:
    model = make_model("pixels", image_size=32)
    k = model.context_length
    good = obs_batch(model, B, k)
    acts = torch.zeros(B, k - 1, A)
    with pytest.raises(ValueError, match=r"32x32x3.*got frames of size \(64, 64, 3\)"):
        model.initial_state_from_history(torch.zeros(B, k, 64, 64, 3, dtype=torch.uint8), acts)
    with pytest.raises(ValueError, match="channels-first"):
        model.initial_state(torch.zeros(B, 3, 32, 32, dtype=torch.uint8))
    with pytest.raises(ValueError, match=r"must lie in \[0, 255\]"):
        model.initial_state_from_history(good.double() * 2.0 + 1.0, acts)
    with pytest.raises(ValueError, match="uint8 or float.*torch.int32"):
        model.initial_state_from_history(good.to(torch.int32), acts)
    model.initial_state_from_history(good.double(), acts)  # float in [0, 255] is accepted
    with pytest.raises(ValueError, match=rf"\[B, k={k}, 32, 32, 3\].*got \(4, 2, 32, 32, 3\)"):
        model.initial_state_from_history(good[:, :2], acts)


def test_bad_vector_inputs() -> None:
    model = make_model()
    k = model.context_length
    obs = obs_batch(model, B, k)
    with pytest.raises(ValueError, match=r"context_length=3.*got \(4, 1, 5\)"):
        model.initial_state_from_history(obs[:, :1], torch.zeros(B, 0, A))
    with pytest.raises(ValueError, match=r"actions must have shape \[4, 2, 2\].*got \(4, 2, 3\)"):
        model.initial_state_from_history(obs, torch.zeros(B, k - 1, 3))
    with pytest.raises(ValueError, match=r"shape \[B, 5\].*got \(4, 6\)"):
        model.initial_state(torch.zeros(B, 6))
    state = model.initial_state(obs[:, -1])
    with pytest.raises(ValueError, match=r"action must have shape \[4, 2\].*got \(4, 3\)"):
        model.step(state, torch.zeros(B, 3))
    with pytest.raises(ValueError, match="finite"):
        model.step(state, torch.full((B, A), float("nan")))
    with pytest.raises(ValueError, match="LatentState"):
        model.step(torch.zeros(B, OD), torch.zeros(B, A))


def test_window_sampler_masks_short_episodes() -> None:
    eps = [
        SequenceData(
            np.arange(n + 1, dtype=np.float32)[:, None], np.ones((n, 1), np.float32), np.ones(n), np.eye(n)[-1] > 0
        )
        for n in (2, 9)
    ]
    sampler = WindowSampler(eps, np.zeros(1, np.float32), torch.device("cpu"))
    batch = sampler.gather(np.array([0, 1]), np.array([0, 4]), 6)
    assert batch.mask.tolist() == [[1, 1, 1, 0, 0, 0], [1, 1, 1, 1, 1, 1]]
    assert batch.obs[1, :, 0].tolist() == [4, 5, 6, 7, 8, 9]
    assert batch.prev_actions[:, 0].abs().sum() == 0 and batch.prev_actions[1, 1:].eq(1).all()
    assert batch.conts[0, :3].tolist() == [1.0, 1.0, 0.0] and batch.rewards[:, 0].abs().sum() == 0


@pytest.mark.slow
def test_pixel_reconstruction_beats_mean_frame_on_reacher() -> None:
    """Encode/decode of held-out real frames beats the training mean frame after ~20 s of training."""
    episodes = reacher_frames(6, seed=100)  # 306 frames of 64×64
    assert episodes[0].observations.shape == (51, 64, 64, 3) and episodes[0].observations.dtype == np.uint8
    model, report = train_latent(
        episodes,
        task="Reacher",
        task_env_id="Reacher-v5",
        action_low=[-1.0, -1.0],
        action_high=[1.0, 1.0],
        config="debug",
        steps=100,
        batch_size=8,
        seq_len=16,
        lr=2e-3,
        heldout_fraction=0.2,
        device="cpu",
        progress=False,
    )
    assert model.spec.obs_shape == (64, 64, 3) and model.obs_std is None
    assert report.heldout_recon_psnr is not None and report.heldout_mean_baseline_psnr is not None
    assert report.heldout_recon_psnr > report.heldout_mean_baseline_psnr
    assert model.start_obs.shape == (32, 3, 64, 64, 3) and model.start_obs.dtype == torch.uint8
    frames = model.observe(model.initial_state(model.start_obs[:2]))
    assert frames.shape == (2, 64, 64, 3) and frames.min() >= 0 and frames.max() <= 255

    # train_latent records the frame statistics: fresh real frames pass, unreal ones are out of distribution.
    assert model.context_stats_fitted
    fresh = torch.as_tensor(np.concatenate([ep.observations for ep in reacher_frames(2, seed=900)]))
    real = model.context_ood_score(fresh)
    assert float(real.max()) <= 1.0, f"held-out real frames scored up to {float(real.max()):.3f}, expected <= 1"
    unreal = torch.stack(
        [
            torch.full((64, 64, 3), 255, dtype=torch.uint8),
            torch.zeros(64, 64, 3, dtype=torch.uint8),
            torch.randint(0, 256, (64, 64, 3), generator=torch.Generator().manual_seed(0), dtype=torch.uint8),
        ]
    )
    scores = model.context_ood_score(unreal)
    assert (scores > 1.0).all(), f"white/black/noise frames scored {scores.tolist()}, expected > 1"


def strip_context_stats(path: Path) -> None:
    """Rewrite a checkpoint as one written before the context statistics existed (and before weight checksums)."""
    with safe_open(str(path), framework="pt") as f:
        metadata = dict(f.metadata())
    metadata.pop("weights_sha256", None)
    tensors = {k: v for k, v in load_file(str(path)).items() if not k.startswith("context_")}
    save_file(tensors, str(path), metadata=metadata)


def test_vector_context_check_flags_far_starts() -> None:
    """A context far outside the training range raises every step's disagreement above the threshold."""
    model = make_model()
    assert not model.context_stats_fitted
    far = torch.full((B, OD), 1e20)
    assert model.initial_state(far).context_ood.eq(0).all()  # unfitted: no check
    rng = np.random.default_rng(3)
    data = rng.normal(1.0, 3.0, size=(500, OD))
    with pytest.raises(ValueError, match=r"observations must have shape \[N, 5\], got \(10, 4\)"):
        model.fit_context_stats(data[:10, :4])
    with pytest.raises(ValueError, match="finite"):
        model.fit_context_stats(np.full((3, OD), np.nan))
    model.fit_context_stats([data[:200], data[200:]])
    assert model.context_stats_fitted
    torch.testing.assert_close(model.context_low, torch.as_tensor(data.min(0), dtype=torch.float32))
    torch.testing.assert_close(model.context_high, torch.as_tensor(data.max(0), dtype=torch.float32))
    model.spec.calibration.thresholds = {"latent_std": 0.01}
    k = model.context_length
    inside = torch.as_tensor(data[: 2 * k].reshape(2, k, OD), dtype=torch.float32)
    ctx = torch.cat([inside, torch.full((1, k, OD), 1e20), inside[:1]])
    ctx[3, 2, 1] = float(data[:, 1].max() + 0.6 * np.ptp(data[:, 1]))  # one value beyond the margin is enough
    state = model.initial_state_from_history(ctx, torch.zeros(4, k - 1, A))
    assert isinstance(state, LatentDreamState) and state.context_ood.shape == (4,)
    assert state.context_ood[:2].eq(0).all() and (state.context_ood[2:] > 1).all()
    for _ in range(3):  # the flag holds for the whole dream
        pred = model.step(state, torch.zeros(4, A))
        assert (pred.disagreement[2:] > 0.01).all()
        torch.testing.assert_close(pred.disagreement[:2], pred.uncertainty["latent_std"][:2])
        state = pred.state
    assert state.index(torch.tensor([2])).context_ood.item() > 1 and state.clone().context_ood.shape == (4,)
    assert model.initial_state(torch.full((1, OD), -1e20)).context_ood.item() > 1  # one observation, no history
    plain = LatentState(state.deter, state.stoch)  # a plain carry (training code) counts as in range
    from_plain = model.step(plain, torch.zeros(4, A))
    torch.testing.assert_close(from_plain.disagreement, from_plain.uncertainty["latent_std"])


@pytest.mark.parametrize("kind", ["vector", "pixels"])
def test_checkpoint_without_context_stats_still_loads(tmp_path: Path, kind: str) -> None:
    """Older checkpoints load; their statistics are derived from the stored start contexts (vectors: widened to the
    encoder's mean ± 4 std)."""
    model = make_model(kind, image_size=32)
    model.spec.calibration.thresholds = {"latent_std": 0.01}
    path = save_checkpoint(model, tmp_path / "old.safetensors")
    strip_context_stats(path)
    with warnings.catch_warnings():  # "no weights checksum" (it was stripped with the statistics)
        warnings.simplefilter("ignore", UserWarning)
        loaded = load_checkpoint(path, family="latent", device="cpu")
    assert loaded.context_stats_fitted
    starts = model.start_obs.flatten(0, 1).to(torch.float32)
    if kind == "vector":
        enc = model.encoder
        low = torch.minimum(starts.amin(0), enc.obs_mean - DERIVED_RANGE_STDS * enc.obs_std)
        high = torch.maximum(starts.amax(0), enc.obs_mean + DERIVED_RANGE_STDS * enc.obs_std)
        torch.testing.assert_close(loaded.context_low, low)
        torch.testing.assert_close(loaded.context_high, high)
    else:
        torch.testing.assert_close(loaded.context_mean, starts.mean(0))
        assert float(loaded.context_ood_score(model.start_obs).max()) <= 1.0
    # and a checkpoint that keeps no start context loads with the check off (pixels) or the encoder's range (vectors)
    empty = make_model(kind, image_size=32)
    empty.set_start_contexts(empty.start_obs[:0], empty.start_actions[:0])
    empty.spec.calibration.thresholds = {"latent_std": 0.01}
    path = save_checkpoint(empty, tmp_path / "empty.safetensors")
    strip_context_stats(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        assert load_checkpoint(path, family="latent", device="cpu").context_stats_fitted == (kind == "vector")


def test_train_latent_records_the_context_range() -> None:
    """train_latent stores the training range; a far start is flagged, a training observation is not."""
    rng = np.random.default_rng(0)
    episodes = [
        SequenceData(
            rng.normal(size=(21, OD)).astype(np.float32),
            rng.uniform(-1, 1, size=(20, A)).astype(np.float32),
            rng.normal(size=20),
            np.zeros(20, bool),
        )
        for _ in range(6)
    ]
    model, _ = train_latent(
        episodes,
        task="Toy",
        task_env_id="Toy-v0",
        action_low=[-1.0] * A,
        action_high=[1.0] * A,
        config="debug",
        steps=2,
        batch_size=4,
        seq_len=8,
        heldout_fraction=0.34,
        device="cpu",
        progress=False,
    )
    assert model.context_stats_fitted
    train_obs = torch.as_tensor(model.start_obs)
    assert float(model.context_ood_score(train_obs).max()) == 0.0
    assert float(model.context_ood_score(torch.full((1, OD), 1e20))) > 1.0
