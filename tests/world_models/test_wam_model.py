"""The ``wam`` model: every mode's shapes and seeding, the noise-level patterns, bad inputs, checkpoint round trip and
refusal (an untrained debug model with set statistics: shapes and plumbing, not quality; quality is test_wam_train)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from neural_gym.world_models import CheckpointError, load_checkpoint, read_spec, save_checkpoint
from neural_gym.world_models.checkpoint import FAMILIES
from neural_gym.world_models.wam import WAM_MEASURES, WAMConfig, WAMModel, WAMState, preset
from neural_gym.world_models.wam.instructions import encode, vocabulary

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py

OBS, A = 54, 4
INSTRUCTIONS = ["reach the red cube", "touch the blue block"]


def make_model(seed: int = 0, **overrides: object) -> WAMModel:
    """A debug model of TabletopReach's shapes with statistics from made-up data (dims 40..52 constant)."""
    config = replace(preset("debug", **overrides), vocab=vocabulary(INSTRUCTIONS))
    model = WAMModel(
        task="TabletopReach",
        task_env_id="TabletopReach-v0",
        obs_shape=(OBS,),
        action_dim=A,
        action_low=[-1.0] * A,
        action_high=[1.0] * A,
        config=config,
        seed=seed,
    )
    rng = np.random.default_rng(0)
    obs = rng.normal(size=(200, OBS))
    obs[:, 40:53] = 0.5
    changes = 0.1 * rng.normal(size=(200, config.future_steps, OBS))
    changes[:, :, 40:53] = 0.0
    model.set_normalization(
        observations=obs, changes=changes, change_mask=np.ones((200, config.future_steps), bool), rewards=obs[:, 0]
    )
    model.fit_context_stats(obs)
    model.set_start_contexts(obs[:5, None], np.zeros((5, 0, A)))
    model.spec.calibration.thresholds = dict.fromkeys(WAM_MEASURES, 1.0)
    return model.eval()


@pytest.fixture(scope="module")
def model() -> WAMModel:
    return make_model()


@pytest.fixture(scope="module")
def obs() -> torch.Tensor:
    x = torch.as_tensor(np.random.default_rng(1).normal(size=(3, OBS)), dtype=torch.float32)
    x[:, 40:53] = 0.5
    return x


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_the_family_is_registered_for_checkpoints():
    assert FAMILIES["wam"] is WAMModel


def test_instruction_tokens_follow_the_vla_convention():
    vocab = vocabulary(["reach the red cube", "touch the blue block"])
    assert vocab[:2] == ("<pad>", "<unk>")
    assert encode(vocab, ["Reach the PURPLE cube", None]).tolist() == [[5, 7, 1, 4], [0, 0, 0, 0]]
    with pytest.raises(TypeError, match="instruction 0 must be a string or None"):
        encode(vocab, [3])


def test_step_shapes_and_the_deterministic_dream(model, obs):
    state = model.initial_state(obs)
    pred = model.step(state, torch.zeros(3, A), return_members=True)
    assert isinstance(pred.state, WAMState) and pred.state.obs.shape == (3, OBS)
    assert pred.reward.shape == pred.terminated.shape == pred.disagreement.shape == (3,)
    assert set(pred.uncertainty) == set(WAM_MEASURES)
    assert pred.member_means.shape == (model.config.num_heads, 3, OBS)
    assert torch.isfinite(pred.state.obs).all() and ((pred.terminated >= 0) & (pred.terminated <= 1)).all()
    # dream_noise is off: the engine's generator is ignored and the step is a function of state and action
    again = model.step(state, torch.zeros(3, A), generator=gen(5))
    torch.testing.assert_close(pred.state.obs, again.state.obs, rtol=0, atol=0)
    # dims whose change is constant in the data are reproduced exactly
    torch.testing.assert_close(pred.state.obs[:, 40:53], obs[:, 40:53], rtol=0, atol=0)
    assert model.observe(pred.state) is pred.state.obs


def test_step_with_dream_noise_follows_the_generator(obs):
    noisy = make_model(dream_noise=True)
    state = noisy.initial_state(obs)
    a = noisy.step(state, torch.zeros(3, A), generator=gen(1)).state.obs
    b = noisy.step(state, torch.zeros(3, A), generator=gen(1)).state.obs
    c = noisy.step(state, torch.zeros(3, A), generator=gen(2)).state.obs
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert not torch.equal(a, c)


def test_member_picks_the_head_each_env_follows(model, obs):
    state = model.initial_state(obs)
    first = model.step(state, torch.zeros(3, A), member=torch.zeros(3, dtype=torch.long))
    second = model.step(state, torch.zeros(3, A), member=torch.ones(3, dtype=torch.long))
    assert not torch.equal(first.state.obs, second.state.obs)  # two untrained heads disagree
    torch.testing.assert_close(first.uncertainty["ensemble_std"], second.uncertainty["ensemble_std"])
    with pytest.raises(ValueError, match=r"member indices must be in \[0, 2\)"):
        model.step(state, torch.zeros(3, A), member=torch.full((3,), 5))
    with pytest.raises(ValueError, match=r"member must be integer indices of shape \[3\]"):
        model.step(state, torch.zeros(3, A), member=torch.zeros(2, dtype=torch.long))


MODES = {
    "forward": lambda m, o, g: m.forward_dynamics(o, torch.zeros(3, 2, A), generator=g),
    "imagine": lambda m, o, g: m.imagine(o, INSTRUCTIONS + [None], generator=g),
    "act": lambda m, o, g: m.act(o, INSTRUCTIONS + [None], generator=g),
    "act_imagine": lambda m, o, g: m.act(o, INSTRUCTIONS + [None], imagine=True, generator=g),
    "inverse": lambda m, o, g: m.inverse(o, o + 0.01, generator=g),
    "joint": lambda m, o, g: torch.cat([x.flatten(1) for x in m.joint(o, INSTRUCTIONS + [None], generator=g)], 1),
}
SHAPES = {
    "forward": (3, 2, OBS),
    "imagine": (3, 2, OBS),
    "act": (3, 8, A),
    "act_imagine": (3, 8, A),
    "inverse": (3, A),
    "joint": (3, 2 * OBS + 8 * A),
}


@pytest.mark.parametrize("mode", sorted(MODES))
def test_each_mode_has_its_shape_and_follows_its_seed(model, obs, mode):
    run = MODES[mode]
    a, b, c = run(model, obs, gen(0)), run(model, obs, gen(0)), run(model, obs, gen(1))
    assert a.shape == SHAPES[mode] and torch.isfinite(a).all()
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert not torch.equal(a, c)
    torch.testing.assert_close(run(model, obs, None), run(model, obs, None), rtol=0, atol=0)  # zero start noise


def test_actions_stay_inside_the_bounds(model, obs):
    chunk = model.act(obs * 100, generator=gen(0))
    assert chunk.shape == (3, 8, A) and chunk.abs().max() <= 1.0


def test_imagination_changes_the_policy_mode(model, obs):
    plain = model.act(obs, INSTRUCTIONS + [None], generator=gen(0))
    imagined = model.act(obs, INSTRUCTIONS + [None], imagine=True, generator=gen(0))
    assert not torch.equal(plain, imagined)


def test_the_forward_mode_reads_the_given_actions(model, obs):
    slow = model.forward_dynamics(obs, torch.zeros(3, 1, A))
    fast = model.forward_dynamics(obs, torch.ones(3, 1, A))
    assert not torch.equal(slow, fast)
    via_step = model.step(model.initial_state(obs), torch.ones(3, A)).state.obs
    torch.testing.assert_close(fast[:, 0], via_step)  # step is the forward mode with one known action


def test_bad_inputs_are_refused_with_the_expected_shape(model, obs):
    state = model.initial_state(obs)
    with pytest.raises(ValueError, match=r"action must have shape \[3, 4\]"):
        model.step(state, torch.zeros(3, 5))
    with pytest.raises(ValueError, match="action must be finite"):
        model.step(state, torch.full((3, A), float("nan")))
    with pytest.raises(ValueError, match="state must be a WAMState"):
        model.step(obs, torch.zeros(3, A))
    with pytest.raises(ValueError, match=r"context \(observations\) must have shape \[B, 54\]"):
        model.initial_state(torch.zeros(3, 10))
    with pytest.raises(ValueError, match="obs must be finite"):
        model.act(torch.full((3, OBS), float("inf")))
    with pytest.raises(ValueError, match="instruction must have 3 entries"):
        model.act(obs, ["reach the red cube"])
    with pytest.raises(ValueError, match="list of 3 strings"):
        model.act(obs, "reach the red cube")
    with pytest.raises(ValueError, match=r"next_obs must have shape \[3, 54\]"):
        model.inverse(obs, obs[:2])
    with pytest.raises(ValueError, match=r"1 <= n <= H=8"):
        model.forward_dynamics(obs, torch.zeros(3, 9, A))


def test_configs_are_checked():
    with pytest.raises(ValueError, match="num_heads must be >= 2"):
        preset("debug", num_heads=1)
    with pytest.raises(ValueError, match="future_steps must be in"):
        preset("debug", future_steps=9)
    with pytest.raises(ValueError, match="unknown noise patterns"):
        preset("debug", pattern_weights={"teleport": 1.0})
    with pytest.raises(ValueError, match="unknown wam preset"):
        preset("huge")
    with pytest.raises(ValueError, match="obs_shape must be"):
        WAMModel(
            task="T", task_env_id="T-v0", obs_shape=(8, 8, 3), action_dim=1, action_low=[-1], action_high=[1],
            config=preset("debug"),
        )  # fmt: skip
    assert WAMConfig.from_dict(preset("debug").to_dict()) == preset("debug")


def test_the_seed_fixes_the_weights_and_leaves_the_global_rng_alone():
    before = torch.random.get_rng_state()
    a, b, c = make_model(seed=3), make_model(seed=3), make_model(seed=4)
    assert torch.equal(torch.random.get_rng_state(), before)
    for (name, pa), pb in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(pa, pb), name
    assert not torch.equal(a.backbone.obs_in[0].weight, c.backbone.obs_in[0].weight)


def test_checkpoint_round_trip_and_refusal(model, obs, tmp_path):
    path = save_checkpoint(model, tmp_path / "wam.safetensors")
    assert read_spec(path).family == "wam"
    loaded = load_checkpoint(path, task="TabletopReach", family="wam", device="cpu")
    assert isinstance(loaded, WAMModel) and loaded.config == model.config
    for mode in ("act", "inverse", "forward"):
        torch.testing.assert_close(MODES[mode](loaded, obs, gen(0)), MODES[mode](model, obs, gen(0)), rtol=0, atol=0)
    torch.testing.assert_close(loaded.start_obs, model.start_obs)
    with pytest.raises(CheckpointError, match=r"is for task TabletopReach \(family wam\), expected TabletopPush"):
        load_checkpoint(path, task="TabletopPush")
    with pytest.raises(CheckpointError, match="expected family ensemble"):
        load_checkpoint(path, family="ensemble")


def test_out_of_range_starts_raise_the_disagreement(model):
    far = torch.full((2, OBS), 1e6)
    pred = model.step(model.initial_state(far), torch.zeros(2, A))
    assert (pred.disagreement > model.spec.calibration.threshold).all()
    near = model.start_states[:2]
    assert (model.initial_state(near).context_ood <= 1.0).all()
