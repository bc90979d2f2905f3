"""The ablation switch of ``train_wam``: ``objective="actions"`` (behaviour cloning) leaves the dynamics heads as
initialised, ``objective="future"`` (dynamics) leaves the action head as initialised, the joint run trains both;
unknown objectives and clips under behaviour cloning are refused."""

from __future__ import annotations

import pytest
import torch

from neural_gym.world_models.wam import WAMModel, preset
from neural_gym.world_models.wam.train import OBJECTIVES, train_wam
from tests.neural_gym.wam_fixtures import reach_episodes, tiny_wam

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py


def _initial(trained: WAMModel) -> WAMModel:
    """The model ``train_wam`` started from (seed 0, the trained model's config: its vocabulary sizes the embedding)."""
    return WAMModel(
        task="TabletopReach", task_env_id="TabletopReach-v0", obs_shape=(54,), action_dim=4, action_low=[-1.0] * 4,
        action_high=[1.0] * 4, config=trained.config, seed=0,
    )  # fmt: skip


def _params(module: torch.nn.Module) -> list[torch.Tensor]:
    return [p.detach().cpu().clone() for p in module.parameters()]


def _same(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    return all(torch.equal(x, y) for x, y in zip(_params(a), _params(b), strict=True))


@pytest.fixture(scope="module")
def trained() -> dict[str, WAMModel]:
    return {objective: tiny_wam(steps=10, objective=objective) for objective in OBJECTIVES}


def test_each_objective_trains_only_its_part(trained):
    for objective, model in trained.items():
        start = _initial(model).backbone
        future_trained = not _same(model.backbone.future_heads, start.future_heads)
        actions_trained = not _same(model.backbone.action_head, start.action_head)
        assert (future_trained, actions_trained) == {
            "actions": (False, True),  # behaviour cloning: the dynamics heads as initialised
            "future": (True, False),  # dynamics: the action head as initialised
            "joint": (True, True),
        }[objective]
    for objective, model in trained.items():
        assert model.spec.provenance["train_args"]["objective"] == objective


def test_bad_objectives_are_refused():
    kwargs = dict(task="TabletopReach", task_env_id="TabletopReach-v0", action_low=[-1.0] * 4, action_high=[1.0] * 4)
    episodes = reach_episodes(2)
    with pytest.raises(ValueError, match="objective must be one of"):
        train_wam(episodes, **kwargs, config="debug", steps=1, objective="policy", progress=False)
    clips = [{"observations": episodes[0]["observations"]}]
    with pytest.raises(ValueError, match="clips"):
        train_wam(episodes, **kwargs, clips=clips, config="debug", steps=1, objective="actions", progress=False)
    no_dynamics = preset("debug", pattern_weights={"joint": 1.0})
    with pytest.raises(ValueError, match="weigh 0"):
        train_wam(episodes, **kwargs, config=no_dynamics, steps=1, objective="future", progress=False)
