"""Out-of-range start contexts: every family's Dream env flags them on the first step, real ones it does not.

A context far outside the training data (state vectors of 1e20, all-white / all-black / random-noise frames) must
raise the step's disagreement above the calibrated threshold, so the default ``on_uncertain="truncate"`` cuts the
episode at once. Real contexts from the ground truth's reset distribution must not be cut on the first step.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

import neural_gym
from neural_gym.engine import is_pixel_shape

#: family → (task, shipped checkpoint)
ZOO = {
    "ensemble": ("HalfCheetah", "zoo:HalfCheetah"),
    "latent": ("Reacher", "zoo:Reacher-latent"),
    "latent-pixels": ("Reacher", "zoo:Reacher-latent-pixels"),
    "video": ("Reacher", "zoo:Reacher-video"),
}


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py


@pytest.fixture(scope="module", params=sorted(ZOO))
def env(request: pytest.FixtureRequest) -> Iterator[neural_gym.DreamEnv]:
    task, checkpoint = ZOO[request.param]
    e = neural_gym.DreamEnv(task, checkpoint=checkpoint, device="cpu")
    yield e
    e.close()


def _far_context(env: neural_gym.DreamEnv, kind: str) -> dict[str, np.ndarray]:
    """Reset options with a context far outside any training data."""
    model = env.model
    k, shape = model.context_length, tuple(model.spec.obs_shape)
    if is_pixel_shape(shape):
        if kind == "white":
            obs = np.full((k, *shape), 255, dtype=np.uint8)
        elif kind == "black":
            obs = np.zeros((k, *shape), dtype=np.uint8)
        else:
            obs = np.random.default_rng(0).integers(0, 256, size=(k, *shape), dtype=np.uint8)
    else:
        obs = np.full((k, *shape), 1e20 if kind == "white" else -1e20)
    actions = np.zeros((k - 1, model.spec.action_dim))
    return {"obs": obs, "actions": actions}


@pytest.mark.parametrize("kind", ["white", "black", "noise"])
def test_far_out_of_range_start_is_cut_on_the_first_step(env: neural_gym.DreamEnv, kind: str) -> None:
    if kind == "noise" and not is_pixel_shape(tuple(env.model.spec.obs_shape)):
        pytest.skip("random-noise contexts are a frame case")
    env.reset(seed=0, options=_far_context(env, kind))
    _, _, terminated, truncated, info = env.step(np.zeros(env.action_space.shape))
    threshold = env.engine.rule.threshold
    assert info["uncertainty_exceeded"], (
        f"{env.model.spec.family} model: a {kind} out-of-range start gave uncertainty {info['uncertainty']:.4g}, "
        f"expected above the threshold {threshold:.4g}"
    )
    assert truncated and not terminated
    if env.model.spec.family != "ensemble":  # the ensemble's 1e20 start overflows: cut as a model error (inf)
        assert not info["model_error"], "the cut should come from the context check, not a non-finite prediction"


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_real_start_is_not_cut_on_the_first_step(env: neural_gym.DreamEnv, seed: int) -> None:
    obs, actions = env.engine.sample_context(1, np.random.default_rng(seed))
    env.reset(seed=seed, options={"obs": obs[0], "actions": actions[0]})
    _, _, _, truncated, info = env.step(np.zeros(env.action_space.shape))
    assert not info["uncertainty_exceeded"], (
        f"{env.model.spec.family} model: a real start (seed {seed}) gave uncertainty {info['uncertainty']:.4g}, "
        f"expected at most the threshold {env.engine.rule.threshold:.4g}"
    )
    assert not truncated


def test_shipped_models_get_context_statistics_on_load(env: neural_gym.DreamEnv) -> None:
    """The zoo's latent and video checkpoints predate the statistics: they are derived from the stored starts."""
    model = env.model
    if model.spec.family == "ensemble":
        pytest.skip("the ensemble family flags far states through its own disagreement")
    assert model.context_stats_fitted
    starts = model.start_obs
    assert float(model.context_ood_score(starts).max()) <= 1.0  # the stored real starts themselves pass
