"""One peer-throughput measurement per process, for ``benchmarks/peers.py``.

Runs under the project's venv (neural_gym, torchrl) or under ``benchmarks/.venv-mbrl`` (mbrl-lib, which pins old
gymnasium/hydra releases), so it imports only the standard library, numpy and torch at module level; each engine's own
package is imported inside its worker.

Every engine gets the same ensemble architecture: 7 members of which 5 elites run, 4 hidden layers of 200 SiLU units,
HalfCheetah sizes (17 observation + 6 action dims in, obs delta + reward out, as Gaussian mean and log-variance), the
elite mean propagated (deterministic), the learned reward, and HalfCheetah's known termination rule (never ends).
neural_gym plays the shipped trained checkpoint; the peers get random weights (timing does not depend on the values;
their last layer is scaled down so states stay bounded over a long run).

    python benchmarks/_peer_workers.py '{"engine": "mbrl", "num_envs": 64, "seconds": 3, "threads": 2}'

prints one JSON line: ``env_steps_per_s``, ``calls``, ``torch_threads``, ...
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

OBS_DIM = 17
ACT_DIM = 6
MEMBERS = 7
ELITES = 5
HIDDEN = 200
LAYERS = 4
ACTION_SETS = 64  # distinct pre-drawn action batches cycled through, so action generation is not timed
OUTPUT_SCALE = 0.01  # random peers' last layer scaled so that ``obs + delta`` stays bounded for thousands of steps


def timed(step: Callable[[], None], seconds: float, min_iters: int = 5) -> tuple[float, int]:
    """Run ``step`` for about ``seconds`` after one warm-up call; return (seconds per call, calls)."""
    step()
    n, t0 = 0, time.perf_counter()
    while n < min_iters or time.perf_counter() - t0 < seconds:
        step()
        n += 1
    return (time.perf_counter() - t0) / n, n


def _actions(num_envs: int, dtype: type = np.float64) -> np.ndarray:
    return np.random.default_rng(0).uniform(-1, 1, (ACTION_SETS, num_envs, ACT_DIM)).astype(dtype)


def _start_obs(num_envs: int) -> np.ndarray:
    return np.random.default_rng(1).normal(0.0, 0.1, (num_envs, OBS_DIM)).astype(np.float32)


# ------------------------------------------------------------------------------------------------------ neural_gym
def neural_gym_worker(
    num_envs: int, seconds: float, propagation: str, num_threads: str | None, checkpoint: str
) -> dict[str, Any]:
    """``DreamVectorEnv.step`` on the shipped HalfCheetah ensemble; ``num_threads`` is passed to the env as given."""
    from neural_gym import DreamVectorEnv

    envs = DreamVectorEnv(
        "HalfCheetah",
        checkpoint,
        num_envs=num_envs,
        device="cpu",
        uncertainty_threshold=1e9,
        propagation=propagation,  # type: ignore[arg-type]
        num_threads=num_threads,  # type: ignore[arg-type]
    )
    envs.reset(seed=0)
    acts = _actions(num_envs)
    i = [0]

    def step() -> None:
        envs.step(acts[i[0] % ACTION_SETS])
        i[0] += 1

    per, calls = timed(step, seconds)
    model = envs.model
    return {
        "env_steps_per_s": num_envs / per,
        "calls": calls,
        "members": int(model.num_members),
        "ensemble_size": int(model.spec.ensemble_size),
        "engine_threads": envs.engine.num_threads or torch.get_num_threads(),
        "final_obs_finite": bool(np.isfinite(envs.engine.obs).all()),
        "weights": f"trained ({checkpoint})",
    }


# ------------------------------------------------------------------------------------------------------ mbrl-lib
def mbrl_worker(num_envs: int, seconds: float) -> dict[str, Any]:
    """mbrl-lib's ``ModelEnv`` over ``OneDTransitionRewardModel(GaussianMLP)``, ``propagation_method="expectation"``.

    ``expectation`` is the elite mean, as neural_gym's ``propagation="mean"``. Every propagation mode of mbrl's
    ``GaussianMLP`` refuses a batch that is not a multiple of the elite count (5), so the batch is ``num_envs`` rounded
    up to one (5, 65, 1025 for 1, 64, 1024). ``env_steps_per_s`` counts the ``num_envs`` envs asked for (what a user
    of that many envs gets); ``padded_env_steps_per_s`` counts every row of the padded batch.
    """
    batch = -(-num_envs // ELITES) * ELITES
    import mbrl.env.termination_fns as termination_fns
    import mbrl.models

    member = mbrl.models.GaussianMLP(
        in_size=OBS_DIM + ACT_DIM,
        out_size=OBS_DIM + 1,
        device="cpu",
        num_layers=LAYERS,
        ensemble_size=MEMBERS,
        hid_size=HIDDEN,
        deterministic=False,
        propagation_method="expectation",
        activation_fn_cfg={"_target_": "torch.nn.SiLU"},
    )
    with torch.no_grad():
        member.mean_and_logvar.weight.mul_(OUTPUT_SCALE)
    model = mbrl.models.OneDTransitionRewardModel(
        member, target_is_delta=True, normalize=True, learned_rewards=True, num_elites=ELITES
    )
    model.set_elite(list(range(ELITES)))
    model.eval()

    class _Spaces:  # ModelEnv reads only the two spaces from the real env
        observation_space = None
        action_space = None

    env = mbrl.models.ModelEnv(
        _Spaces(), model, termination_fns.no_termination, reward_fn=None, generator=torch.Generator().manual_seed(0)
    )
    state = [env.reset(_start_obs(batch), return_as_np=True)]
    acts = _actions(batch, np.float32)  # ModelEnv sends numpy actions to the model as they are: float32
    i = [0]
    last: list[Any] = [None]

    def step() -> None:
        obs, _reward, _done, state[0] = env.step(acts[i[0] % ACTION_SETS], state[0], sample=False)
        last[0] = obs
        i[0] += 1

    per, calls = timed(step, seconds)
    return {
        "env_steps_per_s": num_envs / per,
        "padded_env_steps_per_s": batch / per,
        "batch": batch,
        "calls": calls,
        "members": ELITES,
        "ensemble_size": MEMBERS,
        "final_obs_finite": bool(np.isfinite(last[0]).all()),
        "weights": "random",
        "propagation": "expectation",
    }


# ------------------------------------------------------------------------------------------------------ torchrl
class BmmEnsemble(torch.nn.Module):
    """The ensemble as one batched matmul per layer over the elites' stacked weights (mean + log-variance heads).

    Maps raw ``observation [B, O]`` and ``action [B, A]`` to the elite-mean next observation ``[B, O]`` and reward
    ``[B, 1]``, normalizing inputs and de-normalizing targets with stored statistics (identity here).
    """

    def __init__(self) -> None:
        super().__init__()
        gen = torch.Generator().manual_seed(0)
        sizes = [OBS_DIM + ACT_DIM] + [HIDDEN] * LAYERS + [2 * (OBS_DIM + 1)]
        elite = torch.arange(ELITES)
        weights, biases = [], []
        for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
            w = torch.randn(MEMBERS, fan_in, fan_out, generator=gen) / (2.0 * fan_in**0.5)
            if i == len(sizes) - 2:
                w *= OUTPUT_SCALE
            weights.append(torch.nn.Parameter(w[elite].clone(), requires_grad=False))
            biases.append(torch.nn.Parameter(torch.zeros(ELITES, 1, fan_out), requires_grad=False))
        self.weights = torch.nn.ParameterList(weights)
        self.biases = torch.nn.ParameterList(biases)
        self.register_buffer("in_mean", torch.zeros(OBS_DIM + ACT_DIM))
        self.register_buffer("in_std", torch.ones(OBS_DIM + ACT_DIM))
        self.register_buffer("out_mean", torch.zeros(OBS_DIM + 1))
        self.register_buffer("out_std", torch.ones(OBS_DIM + 1))
        self.register_buffer("min_logvar", torch.full((1, OBS_DIM + 1), -10.0))
        self.register_buffer("max_logvar", torch.full((1, OBS_DIM + 1), 0.5))

    def forward(self, observation: torch.Tensor, action: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(observation [B, O], action [B, A])`` → ``(next observation [B, O], reward [B, 1])``."""
        x = ((torch.cat([observation, action], dim=-1) - self.in_mean) / self.in_std).expand(ELITES, -1, -1)
        for w, b in zip(self.weights[:-1], self.biases[:-1], strict=True):
            x = torch.nn.functional.silu(torch.baddbmm(b, x, w))
        out = torch.baddbmm(self.biases[-1], x, self.weights[-1])
        mean, logvar = out.chunk(2, dim=-1)
        logvar = self.max_logvar - torch.nn.functional.softplus(self.max_logvar - logvar)
        logvar = self.min_logvar + torch.nn.functional.softplus(logvar - self.min_logvar)
        mean = (mean * self.out_std + self.out_mean).mean(dim=0)
        return observation + mean[:, :OBS_DIM], mean[:, OBS_DIM:]


class _NeverTerminates(torch.nn.Module):
    """HalfCheetah's known termination rule: ``terminated = done = False`` for every env."""

    def forward(self, observation: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        flags = torch.zeros(observation.shape[0], 1, dtype=torch.bool)
        return flags, flags.clone()


def _vmap_ensemble() -> Any:
    """The ensemble from torchrl/tensordict building blocks: ``EnsembleModule`` (``torch.vmap``) over a torchrl ``MLP``."""
    from tensordict import TensorDict
    from tensordict.nn import EnsembleModule, TensorDictModule
    from torchrl.modules import MLP

    mlp = MLP(
        in_features=OBS_DIM + ACT_DIM,
        out_features=2 * (OBS_DIM + 1),
        depth=LAYERS,
        num_cells=HIDDEN,
        activation_class=torch.nn.SiLU,
    )
    members = EnsembleModule(TensorDictModule(mlp, in_keys=["x"], out_keys=["out"]), num_copies=MEMBERS)
    with torch.no_grad():  # keep the elites' parameters only (torch.vmap then runs 5 copies), last layer scaled
        members.params_td = type(members.params_td)(members.params_td[:ELITES].clone())
        weights = [k for k in members.params_td.keys(include_nested=True, leaves_only=True) if k[-1] == "weight"]
        members.params_td.get(max(weights, key=lambda k: int(k[-2]))).mul_(OUTPUT_SCALE)

    class _VmapDynamics(torch.nn.Module):
        """Concatenates the inputs, runs the vmapped members, bounds the log-variance, returns the elite mean."""

        def __init__(self) -> None:
            super().__init__()
            self.register_buffer("min_logvar", torch.full((1, OBS_DIM + 1), -10.0))
            self.register_buffer("max_logvar", torch.full((1, OBS_DIM + 1), 0.5))

        def forward(self, observation: torch.Tensor, action: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            x = torch.cat([observation, action], dim=-1)
            out = members(TensorDict({"x": x}, batch_size=x.shape[:1])).get("out")  # [E, B, 2T]
            mean, logvar = out.chunk(2, dim=-1)
            logvar = self.max_logvar - torch.nn.functional.softplus(self.max_logvar - logvar)
            logvar = self.min_logvar + torch.nn.functional.softplus(logvar - self.min_logvar)
            mean = mean.mean(dim=0)
            return observation + mean[:, :OBS_DIM], mean[:, OBS_DIM:]

    return TensorDictModule(_VmapDynamics(), in_keys=["observation", "action"], out_keys=["observation", "reward"])


def torchrl_worker(num_envs: int, seconds: float, ensemble: str) -> dict[str, Any]:
    """A ``torchrl.envs.model_based.ModelBasedEnvBase`` subclass stepped with ``step_and_maybe_reset`` (what torchrl's
    collectors call), over ``ensemble``: ``"bmm"`` (:class:`BmmEnsemble`) or ``"vmap"`` (tensordict's
    ``EnsembleModule`` over a torchrl ``MLP``)."""
    import torchrl
    from tensordict import TensorDict
    from tensordict.nn import TensorDictModule, TensorDictSequential
    from torchrl.data import Bounded, Composite, Unbounded
    from torchrl.envs.model_based import ModelBasedEnvBase

    batch = torch.Size([num_envs])
    if ensemble == "bmm":
        dynamics: Any = TensorDictModule(
            BmmEnsemble(), in_keys=["observation", "action"], out_keys=["observation", "reward"]
        )
    else:
        dynamics = _vmap_ensemble()
    termination = TensorDictModule(_NeverTerminates(), in_keys=["observation"], out_keys=["terminated", "done"])
    world_model = TensorDictSequential(dynamics, termination)
    start = torch.as_tensor(_start_obs(num_envs))

    class DreamCheetah(ModelBasedEnvBase):
        """HalfCheetah-sized imagined env: observation ``[N, 17]``, action ``[N, 6]`` in ``[-1, 1]``."""

        def __init__(self) -> None:
            super().__init__(world_model, device="cpu", batch_size=batch)
            self.observation_spec = Composite(observation=Unbounded((*batch, OBS_DIM)), shape=batch)
            self.action_spec = Bounded(-1.0, 1.0, (*batch, ACT_DIM))
            self.reward_spec = Unbounded((*batch, 1))

        def _reset(self, tensordict: Any = None, **kwargs: Any) -> Any:
            zeros = torch.zeros(*batch, 1, dtype=torch.bool)
            return TensorDict(
                {"observation": start.clone(), "done": zeros, "terminated": zeros.clone()}, batch_size=batch
            )

    env = DreamCheetah()
    acts = torch.as_tensor(_actions(num_envs, np.float32))
    td = [env.reset()]
    i = [0]
    last: list[Any] = [None]

    def step() -> None:
        cur = td[0]
        cur.set("action", acts[i[0] % ACTION_SETS])
        last[0], td[0] = env.step_and_maybe_reset(cur)
        i[0] += 1

    with torch.inference_mode():
        per, calls = timed(step, seconds)
    return {
        "env_steps_per_s": num_envs / per,
        "calls": calls,
        "members": ELITES,
        "ensemble_size": MEMBERS,
        "final_obs_finite": bool(torch.isfinite(last[0].get(("next", "observation"))).all()),
        "weights": "random",
        "ensemble_impl": ensemble,
        "torchrl_version": torchrl.__version__,
    }


WORKERS: dict[str, Callable[..., dict[str, Any]]] = {
    "neural_gym": neural_gym_worker,
    "mbrl": mbrl_worker,
    "torchrl": torchrl_worker,
}


def main() -> None:
    """Parse the JSON job, set torch's thread count, run the worker, print one JSON line."""
    job = json.loads(sys.argv[1])
    torch.set_num_threads(int(job.pop("threads")))
    engine = job.pop("engine")
    out = WORKERS[engine](**job)
    out.update(torch_threads=torch.get_num_threads(), torch_version=torch.__version__, python=sys.version.split()[0])
    print(json.dumps(out))


if __name__ == "__main__":
    main()
