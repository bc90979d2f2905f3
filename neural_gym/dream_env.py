"""``DreamEnv``: one imagined episode of a ground-truth task, played by a learned world model."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from neural_gym.envs import get_task
from neural_gym.world_models import WorldModel

from .cutoff import Cutoff
from .engine import Propagation, Source, Start, make_engine, to_real_array
from .render import ObsRenderer
from .threads import NumThreads


class DreamEnv(gym.Env[np.ndarray, np.ndarray]):
    """A trained world model served as a ``gymnasium.Env``.

    Observation and action spaces are the ground truth's, so a policy moves between dream and MuJoCo unchanged: the
    state vector for state models, ``uint8`` frames ``(H, W, 3)`` for models trained on pixels (the checkpoint decides;
    compare with ``task.make(obs_mode="pixels")``). Families that encode several real steps (``model.context_length``
    > 1, e.g. the ``latent`` RSSM) start from a real burn-in: ``start="env"`` plays ``k - 1`` random actions in the
    ground truth after its reset, ``start="dataset"`` draws contexts stored in the checkpoint.
    ``terminated`` is the task's terminal condition as the model predicts it; ``truncated`` is the time limit or an
    uncertainty cut-off. ``info`` carries ``uncertainty`` (the cut-off signal: the calibrated ensemble-disagreement
    measure of the step, or its running maximum / sum along the episode where the checkpoint's rollout calibration
    chose one; see :mod:`neural_gym.cutoff`), ``uncertainty_exceeded`` and ``model_error`` (the model produced a
    non-finite value; the episode ends and the last good observation is returned instead of NaN).

    The cut-off (:attr:`cutoff`): with ``uncertainty_risk=α`` and a checkpoint calibrated on held-out rollouts
    (``neural-gym calibrate``), the threshold is set by split-conformal calibration over the calibration episodes so
    that the expected share of an episode's kept steps whose true error exceeds the calibration's ``τ`` is at most
    ``α``. This assumes exchangeability: the new episode's start is drawn like the calibration episodes' starts,
    and model, data distribution and policy are the calibration rollouts' (an agent that learns to exploit the dream
    acts differently, and the promise no longer covers it). Without either keyword the checkpoint's rollout-calibrated
    cut-off is used when it has one, else the one-step threshold (``spec.calibration.threshold``).

    Args:
        task: ground-truth task name (``"HalfCheetah"``, ``"HalfCheetah-v5"``, ...).
        checkpoint: a checkpoint path, a zoo name (``"zoo:HalfCheetah"``), or a loaded :class:`WorldModel`;
            default: the shipped checkpoint for ``task``.
        start: ``"env"`` (the ground truth's reset distribution) or ``"dataset"`` (real states stored in the checkpoint).
        on_uncertain: ``"truncate"`` (default), ``"terminate"`` (MOReL HALT) or ``"penalize"`` (MOPO).
        uncertainty_threshold: cut-off on the cut-off signal; default the value calibrated on held-out real data,
            stored in the checkpoint. Not together with ``uncertainty_risk``.
        uncertainty_risk: ``α`` in ``(0, 1)``: the threshold becomes the split-conformal one for that risk (see above;
            needs a rollout-calibrated checkpoint, else ``ValueError`` saying how to calibrate one).
        uncertainty_signal: the cut-off signal, one of :data:`~neural_gym.cutoff.ENV_SIGNALS`; default the
            checkpoint's (the rollout calibration's, else ``"disagreement"``). Other signals need
            ``uncertainty_threshold``. ``"member_trajectories"`` (ensemble family) carries every elite's own state
            beside the episode and cuts on their spread; the observation stays the followed member's.
        penalty: MOPO's lambda for ``on_uncertain="penalize"``.
        halt_penalty: reward magnitude of a HALT for ``on_uncertain="terminate"``.
        reward: ``"learned"`` or ``"known"``; default ``"known"`` where the task's reward is exact from observations.
        termination: ``"learned"`` or ``"known"``, defaulting as ``reward``.
        propagation: ``"member"`` (each episode follows one elite drawn at reset) or ``"mean"`` (elite mean).
        max_episode_steps: time limit; default the ground truth's.
        render_mode: ``None`` or ``"rgb_array"`` (pixel models: the decoded frame; state models: the predicted state
            drawn in the task's MuJoCo scene).
        device: ``"auto"``, ``"cpu"``, ``"cuda"``, ...
        num_threads: torch intra-op threads for the model's forward passes, set around each and restored after it:
            ``"auto"`` (default: one thread for small batches, where a thread pool only adds waiting, badly so on a
            busy machine), an int, or ``None`` to leave torch's setting alone (see :mod:`neural_gym.threads`).

    Example:
        >>> import gymnasium as gym, neural_gym
        >>> env = gym.make("neural_gym/InvertedPendulum-v0")
        >>> obs, info = env.reset(seed=0)
        >>> obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
        >>> sorted(info)
        ['model_error', 'uncertainty', 'uncertainty_exceeded']
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 25}

    def __init__(
        self,
        task: str = "InvertedPendulum",
        checkpoint: str | WorldModel | None = None,
        *,
        start: Start = "env",
        on_uncertain: str = "truncate",
        uncertainty_threshold: float | None = None,
        uncertainty_risk: float | None = None,
        uncertainty_signal: str | None = None,
        penalty: float = 1.0,
        halt_penalty: float = 100.0,
        reward: Source | None = None,
        termination: Source | None = None,
        propagation: Propagation = "member",
        max_episode_steps: int | None = None,
        render_mode: str | None = None,
        device: str = "auto",
        num_threads: NumThreads = "auto",
    ) -> None:
        spec = get_task(task)
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode must be None or 'rgb_array', got {render_mode!r}")
        self.engine = make_engine(
            spec,
            1,
            checkpoint=checkpoint,
            start=start,
            on_uncertain=on_uncertain,
            uncertainty_threshold=uncertainty_threshold,
            uncertainty_risk=uncertainty_risk,
            uncertainty_signal=uncertainty_signal,
            penalty=penalty,
            halt_penalty=halt_penalty,
            reward=reward,
            termination=termination,
            propagation=propagation,
            max_episode_steps=max_episode_steps,
            device=device,
            num_threads=num_threads,
        )
        self.task = spec
        gt = spec.make()
        self.observation_space = self.engine.single_observation_space
        self.action_space = gt.action_space
        self.metadata = {**self.metadata, "render_fps": int(round(1.0 / gt.unwrapped.dt))}
        gt.close()
        self.render_mode = render_mode
        self._renderer: ObsRenderer | None = None
        self._needs_reset = True
        self._closed = False

    @property
    def model(self) -> WorldModel:
        """The world model playing this env."""
        return self.engine.model

    @property
    def cutoff(self) -> Cutoff:
        """The cut-off signal and threshold in use, and where they come from."""
        return self.engine.cutoff

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        """Start an imagined episode.

        Args:
            seed: seeds ``self.np_random``, from which the start state and the ensemble member are drawn.
            options: ``{"obs": observation}`` starts from that observation instead of sampling one. Models that read
                ``k = model.context_length > 1`` real steps (burn-in) need ``{"obs": [k, *obs_shape] observations,
                "actions": [k - 1, A] actions taken between them}``.
        """
        if self._closed:
            raise RuntimeError("this DreamEnv is closed; make a new one")
        super().reset(seed=seed)
        options = options or {}
        unknown = set(options) - {"obs", "actions"}
        if unknown:
            raise ValueError(
                f"unknown reset options {sorted(unknown)}; DreamEnv accepts {{'obs': observation(s), 'actions': ...}}"
            )
        start = None if options.get("obs") is None else np.asarray(options["obs"])[None]
        actions = None if options.get("actions") is None else np.asarray(options["actions"])[None]
        if start is None and actions is not None:
            raise ValueError("reset options give 'actions' without 'obs'; pass both or neither")
        self.engine.reset(np.ones(1, dtype=bool), self.np_random, obs=start, actions=actions)
        self._needs_reset = False
        if self._renderer is not None:
            self._renderer.reset()
        return self.engine.obs[0].copy(), {}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Advance the imagined episode by one step (see the class docstring for the returned flags and info)."""
        if self._closed:
            raise RuntimeError("step() called on a closed DreamEnv; make a new one")
        if self._needs_reset:
            raise RuntimeError("call reset() before step(), and again after an episode ends")
        batch = to_real_array(action, lambda: f"an action in {self.action_space}")
        if batch.shape != self.action_space.shape:
            raise ValueError(
                f"expected an action of shape {self.action_space.shape} in {self.action_space}, got {batch.shape}"
            )
        actions = self.engine.check_actions(batch[None], self.action_space)
        out = self.engine.step(actions)
        terminated, truncated = bool(out.terminated[0]), bool(out.truncated[0])
        self._needs_reset = terminated or truncated
        info = {k: (v.item() if hasattr(v, "item") else v) for k, v in out.info(0).items()}
        return out.obs[0], float(out.reward[0]), terminated, truncated, info

    def render(self) -> np.ndarray | None:  # type: ignore[override]
        """The current frame when ``render_mode="rgb_array"``.

        Pixel models: the decoded (predicted) frame itself. State models: the predicted state drawn in the
        ground-truth scene.
        """
        if self.render_mode is None:
            gym.logger.warn("render() called without render_mode; pass render_mode='rgb_array' to gym.make")
            return None
        if self.engine.pixels:
            return self.engine.obs[0].copy()
        if self._renderer is None:
            self._renderer = ObsRenderer(self.task)
        return self._renderer.render(self.engine.obs[0], advance=self.engine.steps[0] > 0)

    def close(self) -> None:
        """Release renderers and helper envs; later ``reset()`` or ``step()`` calls raise ``RuntimeError``."""
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None
        self.engine.close()
        self._closed = True
