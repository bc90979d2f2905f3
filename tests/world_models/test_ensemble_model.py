"""EnsembleModel: shapes, member selection, normalization, spec round trip, device resolution."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from neural_gym.world_models import EnsembleConfig, EnsembleModel, ModelSpec, Prediction, resolve_device
from neural_gym.world_models.ensemble.layers import EnsembleLinear, SoftBoundedLogVar

OD, A, B = 3, 2, 5  # obs size, action size, batch
TINY = EnsembleConfig(ensemble_size=4, num_elites=3, hidden_size=16, num_layers=2)


def make_model(seed: int = 0, config: EnsembleConfig = TINY) -> EnsembleModel:
    """A tiny untrained model with non-trivial normalization."""
    model = EnsembleModel(
        task="Toy",
        task_env_id="Toy-v0",
        obs_dim=OD,
        action_dim=A,
        action_low=[-1.0] * A,
        action_high=[1.0] * A,
        config=config,
        seed=seed,
    )
    rng = np.random.default_rng(seed)
    model.set_normalization(rng.normal(1.0, 2.0, size=(50, OD + A)), rng.normal(0.5, 3.0, size=(50, OD + 1)))
    return model.eval()


@pytest.fixture
def batch() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(3)
    return torch.randn(B, OD, generator=g), torch.rand(B, A, generator=g) * 2 - 1


def test_spec_of_a_fresh_model() -> None:
    model = make_model()
    spec = model.spec
    assert (spec.family, spec.task, spec.task_env_id, spec.obs_shape, spec.action_dim) == (
        "ensemble",
        "Toy",
        "Toy-v0",
        (OD,),
        A,
    )
    assert spec.ensemble_size == 4 and spec.elites == [0, 1, 2] and model.num_members == 3
    assert spec.config["hidden_size"] == 16
    assert model.elite_idx.tolist() == [0, 1, 2]
    assert model.start_states.shape == (0, OD)


def test_step_shapes(batch: tuple[torch.Tensor, torch.Tensor]) -> None:
    model = make_model()
    obs, act = batch
    pred = model.step(model.initial_state(obs), act, return_members=True)
    assert isinstance(pred, Prediction)
    assert pred.state.shape == (B, OD) and pred.state.dtype == torch.float32
    assert pred.reward.shape == pred.terminated.shape == pred.disagreement.shape == (B,)
    assert pred.member_means is not None and pred.member_means.shape == (3, B, OD)
    assert set(pred.uncertainty) == {"ensemble_std", "aleatoric_max", "pairwise_max"}
    assert ((pred.terminated >= 0) & (pred.terminated <= 1)).all()
    torch.testing.assert_close(pred.disagreement, pred.uncertainty["ensemble_std"])
    assert model.observe(pred.state) is pred.state
    assert model.step(obs, act).member_means is None


def test_forward_members_shapes(batch: tuple[torch.Tensor, torch.Tensor]) -> None:
    model = make_model()
    obs, act = batch
    mean, logvar, logit = model.forward_members(obs, act)
    assert mean.shape == logvar.shape == (3, B, OD + 1) and logit.shape == (3, B)
    mean, logvar, logit = model.forward_members(obs, act, members="all")
    assert mean.shape == (4, B, OD + 1) and logit.shape == (4, B)
    mean, _, _ = model.forward_members(obs, act, members=torch.tensor([2]))
    assert mean.shape == (1, B, OD + 1)


def test_logvar_stays_within_the_soft_bounds(batch: tuple[torch.Tensor, torch.Tensor]) -> None:
    model = make_model()
    obs, act = batch
    _, logvar, _ = model.forward_members(obs * 1e3, act, members="all")
    lo, hi = model.logvar_bounds.min_logvar, model.logvar_bounds.max_logvar
    assert (logvar >= lo - 1e-5).all()
    assert (logvar <= hi + torch.nn.functional.softplus(lo - hi) + 1e-5).all()  # the upper bound is soft


def test_per_member_batches_match_the_shared_batch(batch: tuple[torch.Tensor, torch.Tensor]) -> None:
    """[E, B, ·] inputs give each member its own batch."""
    model = make_model()
    g = torch.Generator().manual_seed(1)
    obs3, act3 = torch.randn(4, B, OD, generator=g), torch.randn(4, B, A, generator=g)
    mean3, logvar3, logit3 = model.forward_members(obs3, act3, members="all")
    for e in range(4):
        mean, logvar, logit = model.forward_members(obs3[e], act3[e], members="all")
        torch.testing.assert_close(mean3[e], mean[e])
        torch.testing.assert_close(logvar3[e], logvar[e])
        torch.testing.assert_close(logit3[e], logit[e])
    with pytest.raises(ValueError, match=r"for 3 members"):
        model.forward_members(obs3, act3)  # 4 batches for 3 elites


def test_member_selection_picks_that_elite(batch: tuple[torch.Tensor, torch.Tensor]) -> None:
    model = make_model()
    model.set_elites([3, 0, 2])
    obs, act = batch
    member = torch.tensor([0, 1, 2, 1, 0])
    pred = model.step(obs, act, member=member, return_members=True)
    assert pred.member_means is not None
    for b in range(B):
        torch.testing.assert_close(pred.state[b], pred.member_means[member[b], b])
    # elite slot 0 is member 3 of the whole ensemble: check against a direct forward pass of member 3.
    mean, _, logit = model.forward_members(obs, act, members=torch.tensor([3]))
    delta_and_reward = mean[0] * model.target_std + model.target_mean
    torch.testing.assert_close(pred.state[0], obs[0] + delta_and_reward[0, :OD])
    torch.testing.assert_close(pred.reward[0], delta_and_reward[0, OD])
    torch.testing.assert_close(pred.terminated[0], torch.sigmoid(logit[0, 0]))


def test_mean_and_member_propagation_differ(batch: tuple[torch.Tensor, torch.Tensor]) -> None:
    model = make_model()
    obs, act = batch
    mean_pred = model.step(obs, act, return_members=True)
    member_pred = model.step(obs, act, member=torch.zeros(B, dtype=torch.long))
    assert mean_pred.member_means is not None
    torch.testing.assert_close(mean_pred.state, mean_pred.member_means.mean(dim=0))
    assert not torch.allclose(mean_pred.state, member_pred.state)
    # disagreement does not depend on which member an env follows
    torch.testing.assert_close(mean_pred.disagreement, member_pred.disagreement)


def test_elite_cache_follows_weight_and_elite_changes(batch: tuple[torch.Tensor, torch.Tensor]) -> None:
    model = make_model()
    obs, act = batch
    before = model.step(obs, act).state.clone()
    model.set_elites([1, 2, 3])
    after_elites = model.step(obs, act).state.clone()
    assert not torch.allclose(before, after_elites)
    with torch.no_grad():
        model.head.bias.add_(1.0)
    assert not torch.allclose(after_elites, model.step(obs, act).state)


def test_bad_inputs_are_refused(batch: tuple[torch.Tensor, torch.Tensor]) -> None:
    model = make_model()
    obs, act = batch
    with pytest.raises(ValueError, match=r"action must have shape \[B, 2\]"):
        model.step(obs, act[:, :1])
    with pytest.raises(ValueError, match=r"batch sizes differ"):
        model.step(obs, act[:3])
    with pytest.raises(ValueError, match=r"context \(observations\) must have shape \[B, 3\]"):
        model.initial_state(torch.zeros(OD))
    with pytest.raises(ValueError, match=r"member indices must be in \[0, 3\)"):
        model.step(obs, act, member=torch.full((B,), 3))
    with pytest.raises(ValueError, match=r"member must have shape \[5\]"):
        model.step(obs, act, member=torch.zeros(2, dtype=torch.long))
    with pytest.raises(ValueError, match="distinct member indices"):
        model.set_elites([0, 0, 1])


@pytest.mark.parametrize(
    ("config", "match"),
    [
        (EnsembleConfig(ensemble_size=1, num_elites=1), "ensemble_size must be >= 2"),
        (EnsembleConfig(ensemble_size=3, num_elites=4), "num_elites must be in"),
        (EnsembleConfig(num_layers=0), "num_layers"),
        (EnsembleConfig(min_logvar_init=1.0, max_logvar_init=0.0), "min_logvar_init must be below"),
    ],
)
def test_bad_configs_are_refused(config: EnsembleConfig, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        make_model(config=config)


def test_normalization_statistics() -> None:
    model = make_model()
    inputs = np.column_stack([np.arange(10.0), np.full(10, 7.0), np.zeros((10, 3))])  # constant dims → std 1
    model.set_normalization(inputs, np.ones((10, OD + 1)))
    assert model.input_mean[0].item() == pytest.approx(4.5)
    assert model.input_std[0].item() == pytest.approx(np.std(np.arange(10.0)))
    assert model.input_std[1:].tolist() == [1.0] * 4 and model.target_std.tolist() == [1.0] * 4
    with pytest.raises(ValueError, match=r"inputs must have shape \[N>=1, 5\]"):
        model.set_normalization(np.zeros((10, 4)), np.zeros((10, 4)))


def test_from_spec_rebuilds_the_shapes() -> None:
    model = make_model()
    model.set_elites([1, 2, 3])
    spec = ModelSpec.from_dict(model.spec.to_dict())
    clone = EnsembleModel.from_spec(spec)
    assert clone.elite_idx.tolist() == [1, 2, 3] and clone.spec is spec
    clone.load_state_dict(model.state_dict())  # identical shapes and keys


def test_start_states_take_the_loaded_row_count() -> None:
    model = make_model()
    model.set_start_states(np.ones((7, OD)))
    clone = EnsembleModel.from_spec(ModelSpec.from_dict(model.spec.to_dict()))
    clone.load_state_dict(model.state_dict())
    assert clone.start_states.shape == (7, OD)


def test_seeded_init_and_global_rng_untouched() -> None:
    torch_state, np_state = torch.get_rng_state(), np.random.get_state()
    a, b, c = make_model(seed=5), make_model(seed=5), make_model(seed=6)
    assert torch.equal(torch.get_rng_state(), torch_state)
    assert np.array_equal(np.random.get_state()[1], np_state[1])
    assert torch.equal(a.head.weight, b.head.weight)
    assert not torch.equal(a.head.weight, c.head.weight)


def test_layers() -> None:
    layer = EnsembleLinear(3, 4, 2, generator=torch.Generator().manual_seed(0))
    x = torch.randn(3, 6, 4)
    out = layer(x)
    for e in range(3):
        torch.testing.assert_close(out[e], x[e] @ layer.weight[e] + layer.bias[e])
    assert layer.weight.abs().max() <= 2 * (1 / (2 * 4**0.5)) + 1e-6  # truncated at two stds
    bounds = SoftBoundedLogVar(3, 2, -5.0, 1.0)
    logvar = bounds(torch.tensor([-100.0, 0.0, 100.0]).view(1, 3, 1).expand(3, 3, 2))
    assert logvar.min() >= -5.0 and logvar.max() <= 1.0 + np.log1p(np.exp(-6.0)) + 1e-6
    assert abs(logvar[0, 1, 0].item()) < 0.5  # in the middle of the range it is close to the identity


def test_resolve_device() -> None:
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")
    assert resolve_device("auto").type in {"cpu", "cuda"}
    with pytest.raises(ValueError, match="expected 'auto', 'cpu'"):
        resolve_device("gpu-please")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            resolve_device("cuda")


def test_step_picks_members_and_means_as_the_per_member_pass_does() -> None:
    from neural_gym.world_models import EnsembleConfig, EnsembleModel

    config = EnsembleConfig(ensemble_size=4, num_elites=3, hidden_size=16, num_layers=2)
    model = EnsembleModel(
        task="T", task_env_id="T-v0", obs_dim=5, action_dim=2, action_low=[-1, -1], action_high=[1, 1], config=config
    )
    model.target_std.copy_(torch.linspace(0.5, 2.0, 6))  # denormalizing after picking members must change nothing
    model.target_mean.copy_(torch.linspace(-1.0, 1.0, 6))
    obs = torch.randn(6, 5, generator=torch.Generator().manual_seed(1))
    act = torch.rand(6, 2, generator=torch.Generator().manual_seed(2)) * 2 - 1
    member = torch.tensor([0, 1, 2, 2, 1, 0])
    with torch.inference_mode():
        mean_n, logvar_n, logit = model.forward_members(obs, act)
        raw = mean_n * model.target_std + model.target_mean
        nxt, rew, term = obs + raw[..., :5], raw[..., 5], torch.sigmoid(logit)
        picked = model.step(obs, act, member=member, return_members=True)
        averaged = model.step(obs, act)
    rows = torch.arange(6)
    torch.testing.assert_close(picked.state, nxt[member, rows])
    torch.testing.assert_close(picked.reward, rew[member, rows])
    torch.testing.assert_close(picked.terminated, term[member, rows])
    torch.testing.assert_close(picked.member_means, nxt)
    torch.testing.assert_close(averaged.state, nxt.mean(0))
    torch.testing.assert_close(averaged.terminated, term.mean(0))
    from neural_gym.world_models.uncertainty import all_measures

    for name, value in all_measures(mean_n, (0.5 * logvar_n).exp()).items():  # read lazily, same values
        torch.testing.assert_close(picked.uncertainty[name], value)
    with pytest.raises(ValueError, match=r"in \[0, 3\)"):
        model.step(obs, act, member=torch.full((6,), 3))
