"""Paired policy evaluation on the tabletop suite: each policy plays the same start states in MuJoCo and in the dream.

:func:`evaluate_policies` plays ``K`` policies for ``M`` paired episodes each and returns a :class:`PolicyEvaluation`,
whose :meth:`~PolicyEvaluation.report` says how far the dream's verdicts can be trusted
(:func:`~neural_gym.evaluate.agreement.agreement_report`) beside each policy's success rates in both worlds.

**Start states.** Episode ``i`` starts from the ground truth's reset with seed ``seed + i`` (layout, instruction and
gripper offset), the same for every policy. The dream starts from that reset's state observation
(``reset(options={"obs": ...})``), its episode ``i`` seeded ``seed + i`` too (so it follows the same ensemble member
for every policy).

**The two worlds.** MuJoCo: ``M`` :class:`~neural_gym.envs.tabletop.TabletopEnv` in dict mode, stepped together. The
dream: one :class:`~neural_gym.DreamVectorEnv` of ``M`` envs (autoreset disabled; an ended env is restarted from its
start state only so that the batch keeps stepping, and its rows are ignored). In the dream the policy sees a dict
observation built from the **predicted** state: ``pixels`` drawn by the task's own MuJoCo scene ("learned dynamics,
real renderer": one ``TabletopEnv`` per row, holding the real episode's initial physics state, so layout and
instruction phrasing are the real episode's, then set to the predicted state with ``physics_state_from_obs`` before
each frame), ``state`` the predicted state and ``instruction`` the real episode's. At step 0 the dream's state,
instruction and frame equal the real ones bit for bit; every run checks this (:attr:`PolicyEpisodes.step0_identical`).

**Policy execution.** The same in both worlds: ``policy.reset(seed)`` before each world's run, then
:class:`~neural_gym.policies.chunking.ChunkExecutor` with the whole batch queried together (``query="all"``) and
``n_action_steps`` actions of each chunk run open loop (default the whole chunk, as
:func:`~neural_gym.policies.vla.evaluate.evaluate_in_mujoco`). A finished episode's row repeats its last observation
and its actions are ignored.

**Verdicts.** Real success: ``info["is_success"]`` of the step that ends the episode. Dream success: the task's exact
success rule on the predicted state (the dream env's ``info["is_success"]``, from the task's ``success_fn``; the judge's
name :data:`DREAM_JUDGE` is in the result). A dream episode cut by the uncertainty rule (or ended by a model error)
without success on that step is **inconclusive**: recorded as such, with dream success ``False``.

**Speed.** Episodes per second in each world over the same run, with rendering (every MuJoCo observation is rendered;
every dream frame is drawn through the scene), both with and without the time spent inside the policy.

Example:
    >>> from neural_gym.evaluate import evaluate_policies
    >>> result = evaluate_policies({"expert": "expert", "random": "random"}, "TabletopReach", episodes=10)
    >>> report = result.report()  # JSON-ready
    >>> report["agreement"]["all_episodes"]["figures"]["kappa"]["value"], report["per_policy"]["expert"]["dream"]
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from neural_gym.metrics import success_interval
from neural_gym.policies.chunking import ChunkExecutor
from neural_gym.policies.protocol import INSTRUCTION_KEY, PIXELS_KEY, STATE_KEY, Policy, PolicyError, stack_observations
from neural_gym.progress import progress_bar

from .agreement import agreement_report

DREAM_JUDGE = "task rule on predicted state"
"""How a state dream decides success: the task's exact success rule applied to the predicted state."""
JUDGES = {
    "rule": DREAM_JUDGE,
    "probe": "state probe on the dream's frames + task rule",
    "classifier": "success classifier on the dream's frames",
    "heads": "the world model's own termination head",
}
"""Judge kinds -> what they say. ``rule`` judges state dreams; ``probe``, ``classifier`` (a
:class:`~neural_gym.evaluate.judges.FrameJudge` trained on real frames) and ``heads`` judge pixel dreams."""
CHUNK_EXECUTION = "open loop: the whole batch queried together, n_action_steps actions of each chunk executed"
"""The chunk-execution rule of both worlds."""
DREAM_ENDS = ("success", "time_limit", "uncertainty", "model_error", "model_terminated")
"""Why a dream episode ended (:attr:`PolicyEpisodes.dream_end`); ``model_terminated``: a pixel model's termination
head ended the episode without the primary judge seeing success (a failure under that judge, not inconclusive)."""
BURN_IN_ACTION = (0.0, 0.0, 0.0, -1.0)
"""The action of the real burn-in before each episode of a context model: no displacement, fingers held open (as at
reset: ``grip = -1`` opens them), so the state after the burn-in is the reset state and the policies see the start
they were trained from (a zero ``grip`` would half-close the fingers)."""
REFERENCE_NAMES = ("expert", "noisy-expert", "random")
"""Policy names resolved by :func:`~neural_gym.policies.vla.evaluate.reference_policy`; other strings go through
:func:`~neural_gym.policies.named.resolve_policy` (``zoo:<name>``, ``*.safetensors``, ``ws://``, SB3 ``.zip``)."""


@dataclass
class PolicyEpisodes:
    """One policy's ``M`` paired episodes.

    Attributes:
        name: The policy's name (its key in the mapping given to :func:`evaluate_policies`).
        real_success: ``[M]`` bool, success in MuJoCo.
        dream_success: ``[M]`` bool, success in the dream (``False`` for inconclusive episodes).
        inconclusive: ``[M]`` bool, dream episodes cut by the uncertainty rule (or a model error) before success.
        real_lengths: ``[M]`` steps of each MuJoCo episode.
        dream_lengths: ``[M]`` steps of each dream episode.
        dream_end: ``[M]`` why each dream episode ended, one of :data:`DREAM_ENDS`.
        real_wall_s: Seconds the MuJoCo episodes took (policy, physics and rendering).
        dream_wall_s: Seconds the dream episodes took (policy, model, scene rendering).
        real_policy_s: Of ``real_wall_s``, seconds spent choosing actions (the policy and chunk execution).
        dream_policy_s: The same of ``dream_wall_s``.
        step0_identical: Whether every dream episode's step-0 state, instruction and frame equal MuJoCo's bit for bit.
        real_final_states: ``[M, D]`` the state observation of the step that ended each MuJoCo episode (what the
            dream's judge is measured on: :func:`~neural_gym.evaluate.report.judge_accuracy`).
        real_frames: The MuJoCo frames ``[T + 1, H, W, 3]`` of the first ``record_episodes`` episodes (step 0 first).
        dream_frames: The dream's frames of the same episodes (the scene drawing each predicted state, the last one
            included; a pixel dream's own frames).
        judge_verdicts: Judge kind (:data:`JUDGES`) -> ``[M]`` bool, each judge's dream verdict on the same dream
            episodes (pixel dreams: ``probe``, ``classifier``, ``heads``; ``dream_success`` is the primary one's with
            inconclusive episodes set ``False``). State dreams: ``{"rule": dream_success}``.
        judge_on_real: Frame-judge kind -> ``[M]`` bool, the judge applied to every MuJoCo frame of each real episode
            ("some frame judged successful"), to be held against ``real_success`` (empty for state dreams).
    """

    name: str
    real_success: np.ndarray
    dream_success: np.ndarray
    inconclusive: np.ndarray
    real_lengths: np.ndarray
    dream_lengths: np.ndarray
    dream_end: list[str]
    real_wall_s: float
    dream_wall_s: float
    real_policy_s: float
    dream_policy_s: float
    step0_identical: bool
    real_final_states: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.float32))
    real_frames: list[np.ndarray] = field(default_factory=list)
    dream_frames: list[np.ndarray] = field(default_factory=list)
    judge_verdicts: dict[str, np.ndarray] = field(default_factory=dict)
    judge_on_real: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def episodes(self) -> int:
        """``M``."""
        return int(self.real_success.size)

    def summary(self) -> dict[str, Any]:
        """Success rates with Wilson 95 % intervals, inconclusive counts, lengths and speed, JSON-ready.

        ``dream`` counts inconclusive episodes as failures (the dream's verdict as it stands); ``dream_conclusive`` is
        over the conclusive episodes only (``null`` rate and interval when there are none).
        """
        m = self.episodes
        keep = ~self.inconclusive
        conclusive = int(keep.sum())
        out: dict[str, Any] = {
            "episodes": m,
            "real": _rate(int(self.real_success.sum()), m),
            "dream": _rate(int(self.dream_success.sum()), m),
            "dream_conclusive": _rate(int(self.dream_success[keep].sum()), conclusive),
            "inconclusive": int(self.inconclusive.sum()),
            "inconclusive_share": float(self.inconclusive.mean()),
            "dream_end": {k: self.dream_end.count(k) for k in DREAM_ENDS},
            "real_mean_length": float(self.real_lengths.mean()),
            "dream_mean_length": float(self.dream_lengths.mean()),
            "episode_agreement": float(np.mean(self.real_success == self.dream_success)),
            "step0_identical": bool(self.step0_identical),
            "speed": _speed(m, self.real_wall_s, self.dream_wall_s, self.real_policy_s, self.dream_policy_s),
        }
        return out

    def to_dict(self) -> dict[str, Any]:
        """Every per-episode field, JSON-ready."""
        return {
            "name": self.name,
            "real_success": self.real_success.astype(bool).tolist(),
            "dream_success": self.dream_success.astype(bool).tolist(),
            "inconclusive": self.inconclusive.astype(bool).tolist(),
            "real_lengths": self.real_lengths.astype(int).tolist(),
            "dream_lengths": self.dream_lengths.astype(int).tolist(),
            "dream_end": list(self.dream_end),
            "real_wall_s": round(self.real_wall_s, 3),
            "dream_wall_s": round(self.dream_wall_s, 3),
            "real_policy_s": round(self.real_policy_s, 3),
            "dream_policy_s": round(self.dream_policy_s, 3),
            "step0_identical": bool(self.step0_identical),
            "real_final_states": np.asarray(self.real_final_states, dtype=np.float64).tolist(),
            "recorded_episodes": len(self.real_frames),
            "judge_verdicts": {k: v.astype(bool).tolist() for k, v in self.judge_verdicts.items()},
            "judge_on_real": {k: v.astype(bool).tolist() for k, v in self.judge_on_real.items()},
        }


@dataclass
class PolicyEvaluation:
    """The result of :func:`evaluate_policies`: ``K`` policies' paired episodes and how they were played.

    Attributes:
        task: Task name (``"TabletopReach"``, ...).
        split: Instruction split of the start states.
        episodes: ``M``, paired episodes per policy.
        seed: Seed of the first episode (episode ``i``: ``seed + i``).
        checkpoint: The dream's checkpoint (as given, or ``"zoo:<task>"``).
        uncertainty_threshold: The dream's cut-off threshold (the calibrated one unless overridden).
        max_episode_steps: Time limit of both worlds.
        n_action_steps: Actions run open loop per chunk (``None``: each policy's whole chunk).
        image_size: Frame side of the observations.
        instructions: ``[M]`` the episodes' instructions (the same for every policy).
        policies: Per policy (in the order given) its :class:`PolicyEpisodes`.
        judge: How the dream decides success (:data:`DREAM_JUDGE`).
        chunk_execution: The chunk-execution rule (:data:`CHUNK_EXECUTION`).
        setup_s: Seconds spent making the envs and the dream (not in any world's speed).
        judge_kind: The primary judge's kind (a key of :data:`JUDGES`).
        burn_in: Steps of real context played in MuJoCo before each episode proper (``context_length - 1`` of the
            dream's model, :data:`BURN_IN_ACTION`), the same for both worlds.
        frame_judge_info: The frame judge's ``info`` (training data and held-out accuracy) for pixel dreams.
    """

    task: str
    split: str
    episodes: int
    seed: int
    checkpoint: str
    uncertainty_threshold: float
    max_episode_steps: int
    n_action_steps: int | None
    image_size: int
    instructions: list[str]
    policies: dict[str, PolicyEpisodes] = field(default_factory=dict)
    judge: str = DREAM_JUDGE
    chunk_execution: str = CHUNK_EXECUTION
    setup_s: float = 0.0
    judge_kind: str = "rule"
    burn_in: int = 0
    frame_judge_info: dict[str, Any] | None = None

    @property
    def names(self) -> list[str]:
        """Policy names in order."""
        return list(self.policies)

    def speed(self) -> dict[str, Any]:
        """Episodes per second in each world over all policies (with rendering), with and without the policy's time."""
        runs = self.policies.values()
        return _speed(
            sum(p.episodes for p in runs),
            sum(p.real_wall_s for p in runs),
            sum(p.dream_wall_s for p in runs),
            sum(p.real_policy_s for p in runs),
            sum(p.dream_policy_s for p in runs),
        )

    def report(self, *, n_boot: int = 1000, level: float = 0.95, bootstrap_seed: int = 0) -> dict[str, Any]:
        """Agreement of the dream with MuJoCo over the policies, per-policy rates and speed, JSON-ready.

        Args:
            n_boot: Bootstrap resamples of :func:`~neural_gym.evaluate.agreement.agreement_report`.
            level: Coverage of its intervals (the per-policy Wilson intervals are 95 %).
            bootstrap_seed: Seed of its bootstraps.

        Returns:
            ``{"task", "split", "episodes", "seed", "checkpoint", "judge", "chunk_execution", "n_action_steps",
            "uncertainty_threshold", "max_episode_steps", "policies", "agreement", "per_policy", "speed",
            "step0_identical"}``; ``agreement`` is ``agreement_report(dream=..., real=..., inconclusive=...)`` over
            the policies in order.

        Raises:
            ValueError: For bad ``n_boot`` or ``level`` (from ``agreement_report``).
        """
        names = self.names
        agreement = agreement_report(
            dream=[self.policies[n].dream_success for n in names],
            real=[self.policies[n].real_success for n in names],
            inconclusive=[self.policies[n].inconclusive for n in names],
            n_boot=n_boot,
            level=level,
            seed=bootstrap_seed,
        )
        return {
            "task": self.task,
            "split": self.split,
            "episodes": self.episodes,
            "seed": self.seed,
            "checkpoint": self.checkpoint,
            "judge": self.judge,
            "chunk_execution": self.chunk_execution,
            "n_action_steps": self.n_action_steps,
            "uncertainty_threshold": self.uncertainty_threshold,
            "max_episode_steps": self.max_episode_steps,
            "image_size": self.image_size,
            "policies": names,
            "agreement": agreement,
            "per_policy": {n: self.policies[n].summary() for n in names},
            "speed": self.speed(),
            "step0_identical": all(p.step0_identical for p in self.policies.values()),
            "setup_s": round(self.setup_s, 2),
            "judge_kind": self.judge_kind,
            "burn_in": self.burn_in,
            "judges": self.judges_report(n_boot=n_boot, level=level, bootstrap_seed=bootstrap_seed),
            "frame_judge": self.frame_judge_info,
        }

    def judges_report(self, *, n_boot: int = 1000, level: float = 0.95, bootstrap_seed: int = 0) -> dict[str, Any]:
        """Every judge's verdicts on the same dream episodes: its agreement with MuJoCo (Pearson, MMRV, episode
        agreement, kappa, with and without inconclusive episodes) and, for frame judges, its own accuracy on the real
        episodes' frames ("some frame judged successful" against MuJoCo's success), JSON-ready."""
        names = self.names
        kinds = [k for k in JUDGES if all(k in self.policies[n].judge_verdicts for n in names)]
        out: dict[str, Any] = {}
        for kind in kinds:
            dream = [self.policies[n].judge_verdicts[kind] for n in names]
            agreement = agreement_report(
                dream=dream,
                real=[self.policies[n].real_success for n in names],
                inconclusive=[self.policies[n].inconclusive for n in names],
                n_boot=n_boot,
                level=level,
                seed=bootstrap_seed,
            )
            entry: dict[str, Any] = {
                "judge": JUDGES[kind],
                "primary": kind == self.judge_kind,
                "dream_rates": {n: float(np.mean(d)) for n, d in zip(names, dream, strict=True)},
                "agreement": agreement,
            }
            if all(kind in self.policies[n].judge_on_real for n in names):
                said = np.concatenate([self.policies[n].judge_on_real[kind] for n in names]).astype(bool)
                truth = np.concatenate([self.policies[n].real_success for n in names]).astype(bool)
                correct = int(np.sum(said == truth))
                rate, low, high = success_interval(correct, int(said.size))
                entry["accuracy_on_real_episodes"] = {
                    "correct": correct,
                    "n": int(said.size),
                    "rate": rate,
                    "ci_low": low,
                    "ci_high": high,
                    "true_positive": int(np.sum(said & truth)),
                    "false_positive": int(np.sum(said & ~truth)),
                    "false_negative": int(np.sum(~said & truth)),
                    "true_negative": int(np.sum(~said & ~truth)),
                }
            out[kind] = entry
        return out

    def to_dict(self, **report_kwargs: Any) -> dict[str, Any]:
        """:meth:`report` plus the instructions and every policy's per-episode results (``"episodes_detail"``)."""
        out = self.report(**report_kwargs)
        out["instructions"] = list(self.instructions)
        out["episodes_detail"] = {n: p.to_dict() for n, p in self.policies.items()}
        return out


def _rate(successes: int, n: int) -> dict[str, Any]:
    """``{"successes", "n", "rate", "ci_low", "ci_high"}`` with Wilson's 95 % interval (``None`` values for ``n = 0``)."""
    if n == 0:
        return {"successes": 0, "n": 0, "rate": None, "ci_low": None, "ci_high": None, "note": "no episodes"}
    rate, low, high = success_interval(successes, n)
    return {"successes": successes, "n": n, "rate": rate, "ci_low": low, "ci_high": high}


def _per_s(count: int, seconds: float) -> float | None:
    return count / seconds if seconds > 0 else None


def _speed(episodes: int, real_s: float, dream_s: float, real_policy_s: float, dream_policy_s: float) -> dict[str, Any]:
    return {
        "episodes": episodes,
        "mujoco_episodes_per_s": _per_s(episodes, real_s),
        "dream_episodes_per_s": _per_s(episodes, dream_s),
        "mujoco_episodes_per_s_without_policy": _per_s(episodes, real_s - real_policy_s),
        "dream_episodes_per_s_without_policy": _per_s(episodes, dream_s - dream_policy_s),
        "mujoco_wall_s": round(real_s, 3),
        "dream_wall_s": round(dream_s, 3),
    }


# --------------------------------------------------------------------------------------------------------- the harness
def evaluate_policies(
    policies: Mapping[str, Policy | str],
    task: str = "TabletopReach",
    *,
    episodes: int = 50,
    seed: int = 1000,
    split: str = "train",
    checkpoint: Any = None,
    n_action_steps: int | None = None,
    uncertainty_threshold: float | None = None,
    max_episode_steps: int | None = None,
    image_size: int = 64,
    device: str = "auto",
    progress: bool = True,
    record_episodes: int = 0,
    judge: str | None = None,
    frame_judge: Any = None,
) -> PolicyEvaluation:
    """Play every policy for ``episodes`` paired episodes in MuJoCo and in the dream (see the module doc).

    Args:
        policies: Name -> a :class:`~neural_gym.policies.Policy` reading batched dict observations, or a name:
            ``"expert"``, ``"noisy-expert"``, ``"random"`` (the references of
            :func:`~neural_gym.policies.vla.evaluate.reference_policy`), ``"zoo:<name>"`` (a shipped VLA), or anything
            :func:`~neural_gym.policies.named.resolve_policy` takes.
        task: A tabletop task (``"TabletopReach"``, ``"TabletopPush"``, ``"TabletopPickPlace"``).
        episodes: ``M``, paired episodes per policy (seeds ``seed .. seed + M - 1``).
        seed: Seed of the first episode (default 1000, as the ladder's ground-truth evaluation).
        split: Instruction split: ``"train"``, ``"heldout"`` or ``"all"``.
        checkpoint: The dream's world model (path, ``"zoo:<Task>"`` or a loaded state model); default the task's zoo
            checkpoint.
        n_action_steps: Actions run open loop per chunk (default each policy's whole chunk).
        uncertainty_threshold: The dream's cut-off (default the checkpoint's calibrated threshold).
        max_episode_steps: Time limit of both worlds (default the task's).
        image_size: Frame side of the observations (the shipped VLAs read 64).
        device: Torch device of the dream (``"auto"``, ``"cpu"``, ``"cuda"``).
        progress: Show a progress bar over episodes.
        record_episodes: Keep the frames of the first ``record_episodes`` episodes of every policy in both worlds
            (:attr:`PolicyEpisodes.real_frames`, :attr:`PolicyEpisodes.dream_frames`; for the report's videos);
            at most ``episodes``.
        judge: The primary judge (a key of :data:`JUDGES`): ``"rule"`` (the default, and the only one, for state
            dreams); for pixel dreams ``"probe"``, ``"classifier"`` or ``"heads"``, by default the frame judge's
            verdict with the better per-episode balanced accuracy on its held-out real episodes
            (:attr:`~neural_gym.evaluate.judges.FrameJudge.best_kind`). Every judge a dream
            supports is computed on the same episodes and reported (:meth:`PolicyEvaluation.judges_report`); the
            primary one sets ``dream_success`` and ends the dream episode on success.
        frame_judge: For pixel dreams, the :class:`~neural_gym.evaluate.judges.FrameJudge` (or its path, or
            ``"zoo:<Task>"``, the default).

    Returns:
        A :class:`PolicyEvaluation`.

    Raises:
        ValueError: No policy, an empty or non-string name, an unknown policy name, ``episodes < 1``,
            ``record_episodes`` outside ``[0, episodes]``, a task that is not
            a tabletop task (for a VLA: saying that the task has no instructions), an unknown split, a dream
            checkpoint for another task, a state model with more than one step of context, a judge the dream does
            not support, or a bad ``n_action_steps``.
        TypeError: A value that is neither a policy nor a name.
        neural_gym.policies.PolicyError: A policy returning chunks of the wrong action size (or any invalid chunk).
    """
    from neural_gym.envs import get_task
    from neural_gym.envs.tabletop import TASK_FAMILIES

    if isinstance(episodes, bool) or not isinstance(episodes, int | np.integer) or episodes < 1:
        raise ValueError(f"episodes must be a whole number >= 1, got {episodes!r}.")
    if (
        isinstance(record_episodes, bool)
        or not isinstance(record_episodes, int | np.integer)
        or not 0 <= record_episodes <= episodes
    ):
        raise ValueError(
            f"record_episodes must be a whole number in [0, episodes={episodes}], got {record_episodes!r}."
        )
    if not isinstance(policies, Mapping) or len(policies) == 0:
        raise ValueError("policies must be a non-empty mapping of name -> policy (or policy name).")
    for name in policies:
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"Policy names must be non-empty strings, got {name!r}.")
    spec = get_task(task)
    if spec.name not in TASK_FAMILIES:
        vlas = [name for name, p in policies.items() if _is_vla(p)]
        tabletop = list(TASK_FAMILIES)
        if vlas:
            raise ValueError(
                f"Task {spec.name!r} has no instructions, and the VLA policies {vlas} are conditioned on language: "
                f"evaluate them on a tabletop task {tabletop}."
            )
        raise ValueError(
            f"evaluate_policies plays the tabletop tasks {tabletop} (dict observations with instructions, an exact "
            f"success rule on the state); task {spec.name!r} has no instructions."
        )
    family = TASK_FAMILIES[spec.name]
    resolved = {name: _resolve(name, p, family, int(seed)) for name, p in policies.items()}
    return _Harness(
        spec,
        family,
        episodes=int(episodes),
        seed=int(seed),
        split=split,
        checkpoint=checkpoint,
        n_action_steps=n_action_steps,
        uncertainty_threshold=uncertainty_threshold,
        max_episode_steps=max_episode_steps,
        image_size=int(image_size),
        device=device,
        record_episodes=int(record_episodes),
        judge=judge,
        frame_judge=frame_judge,
    ).run(resolved, progress=progress)


def _is_vla(policy: Any) -> bool:
    """Whether ``policy`` is (or names) a VLA checkpoint."""
    if isinstance(policy, str):
        return policy.startswith("zoo:") or policy.endswith(".safetensors")
    from neural_gym.policies.vla.policy import VLAPolicy

    return isinstance(policy, VLAPolicy)


def _resolve(name: str, policy: Any, family: str, seed: int) -> Policy:
    if isinstance(policy, str):
        from neural_gym.policies.named import resolve_policy
        from neural_gym.policies.vla.evaluate import reference_policy

        if policy in REFERENCE_NAMES:
            return reference_policy(policy, family, seed=seed)
        try:
            return resolve_policy(policy, task=family, seed=seed)
        except ValueError as err:
            raise ValueError(
                f"Unknown policy {policy!r} for {name!r}: expected a Policy, one of {REFERENCE_NAMES}, 'zoo:<name>' "
                f"(a shipped VLA) or a policy file. {err}"
            ) from err
    if not isinstance(policy, Policy):
        raise TypeError(
            f"Policy {name!r} must be a Policy (chunk_size, reset, act) or a policy name, got {type(policy).__name__}."
        )
    return policy


@dataclass
class _RealStart:
    """Where the real episodes of one policy began (after the burn-in): what the dream starts from."""

    first: list[dict[str, Any]]
    """The first dict observation of each real episode."""
    physics: list[np.ndarray]
    """Each real env's physics state then (the scene that draws a state dream's predictions)."""
    states: np.ndarray
    """``[M, 54]`` their state observations."""
    texts: list[str]
    """The instructions."""
    context: np.ndarray
    """``[M, k, S, S, 3]`` the burn-in frames (the last is the start frame)."""
    context_actions: np.ndarray
    """``[M, k - 1, A]`` the burn-in actions."""


class _Harness:
    """The envs of one evaluation, reused across policies."""

    def __init__(
        self,
        spec: Any,
        family: str,
        *,
        episodes: int,
        seed: int,
        split: str,
        checkpoint: Any,
        n_action_steps: int | None,
        uncertainty_threshold: float | None,
        max_episode_steps: int | None,
        image_size: int,
        device: str,
        record_episodes: int = 0,
        judge: str | None = None,
        frame_judge: Any = None,
    ) -> None:
        self.spec = spec
        self.family = family
        self.m = episodes
        self.seed = seed
        self.split = split
        self.checkpoint = checkpoint
        self.n_action_steps = n_action_steps
        self.uncertainty_threshold = uncertainty_threshold
        self.max_episode_steps = max_episode_steps
        self.image_size = image_size
        self.device = device
        self.record = record_episodes
        self.judge_kind = judge
        self.frame_judge_arg = frame_judge

    def _setup_judge(self, pixels: bool) -> None:
        """Check the primary judge against the dream's kind and load the frame judge of a pixel dream."""
        from .judges import FrameJudge, load_judge

        kinds = ("probe", "classifier", "heads") if pixels else ("rule",)
        kind = self.judge_kind or kinds[0]
        if kind not in kinds:
            what = "a pixel world model (frames)" if pixels else "a state world model"
            raise ValueError(f"judge {kind!r} cannot judge {what}; choose one of {list(kinds)} (see JUDGES).")
        self.frame_judge = None
        if pixels:
            given = self.frame_judge_arg if self.frame_judge_arg is not None else f"zoo:{self.spec.name}"
            judge = given if isinstance(given, FrameJudge) else load_judge(given, task=self.spec.name)
            if judge.config.task != self.spec.name or judge.config.image_size != self.image_size:
                raise ValueError(
                    f"The frame judge judges {judge.config.task} at {judge.config.image_size}x"
                    f"{judge.config.image_size}; this evaluation is {self.spec.name} at {self.image_size}."
                )
            self.frame_judge = judge
            if self.judge_kind is None:  # the frame judge's verdict that scored better on held-out real episodes
                kind = judge.best_kind
        elif self.frame_judge_arg is not None:
            raise ValueError("frame_judge is for pixel dreams; a state dream is judged by the task rule.")
        self.judge_kind = kind

    def run(self, policies: dict[str, Policy], *, progress: bool) -> PolicyEvaluation:
        from gymnasium.vector import AutoresetMode

        from neural_gym.envs.tabletop import TabletopEnv

        from ..vector_env import DreamVectorEnv

        start = time.perf_counter()

        def make() -> TabletopEnv:
            return TabletopEnv(
                task=self.family,
                split=self.split,
                obs_mode="dict",
                image_size=self.image_size,
                max_episode_steps=self.max_episode_steps,
            )

        self.real = [make() for _ in range(self.m)]
        self.scene: list[TabletopEnv] = []
        self.limit = self.real[0].max_episode_steps
        self.action_dim = int(self.real[0].action_space.shape[0])
        self.dream: DreamVectorEnv | None = None
        try:
            # the model's context length sets the burn-in, which shortens both worlds' episodes alike
            from neural_gym.world_models import WorldModel, load_checkpoint

            model = self.checkpoint
            if not isinstance(model, WorldModel):
                model = load_checkpoint(model or f"zoo:{self.spec.name}", task=self.spec.name, device=self.device)
            self.burn_in = int(model.context_length) - 1
            if self.burn_in >= self.limit:
                raise ValueError(
                    f"The dream's model reads {self.burn_in + 1} steps of context; episodes of {self.limit} steps "
                    "leave none to evaluate."
                )
            self.dream = DreamVectorEnv(
                self.spec.name,
                model,
                num_envs=self.m,
                autoreset_mode=AutoresetMode.DISABLED,
                uncertainty_threshold=self.uncertainty_threshold,
                max_episode_steps=self.limit - self.burn_in,
                device=self.device,
            )
            engine = self.dream.engine
            self.pixels = bool(engine.pixels)
            if self.pixels and tuple(engine.obs_shape) != (self.image_size, self.image_size, 3):
                raise ValueError(
                    f"The dream's model makes frames of shape {tuple(engine.obs_shape)}; this evaluation serves "
                    f"{self.image_size}x{self.image_size} frames (image_size)."
                )
            if not self.pixels and self.burn_in:
                raise ValueError(
                    "evaluate_policies reads state world models with one step of context (it renders each predicted "
                    f"state through the scene); this checkpoint reads {self.burn_in + 1}."
                )
            self._setup_judge(self.pixels)
            if not self.pixels:
                self.scene = [make() for _ in range(self.m)]  # draws the dream's predicted states
            result = PolicyEvaluation(
                task=self.spec.name,
                split=self.split,
                episodes=self.m,
                seed=self.seed,
                checkpoint=str(self.checkpoint) if isinstance(self.checkpoint, str) else self._checkpoint_name(),
                uncertainty_threshold=float(engine.rule.threshold),
                max_episode_steps=int(self.limit),
                n_action_steps=self.n_action_steps,
                image_size=self.image_size,
                instructions=[],
                judge=JUDGES[self.judge_kind],
                judge_kind=self.judge_kind,
                burn_in=self.burn_in,
                frame_judge_info=None if self.frame_judge is None else dict(self.frame_judge.info),
            )
            result.setup_s = time.perf_counter() - start
            bar = progress_bar(
                total=2 * self.m * len(policies), desc=f"evaluate {self.spec.name}", unit="episode", enabled=progress
            )
            try:
                for name, policy in policies.items():
                    result.policies[name] = self._play(name, policy, bar, result)
            finally:
                bar.close()
            return result
        finally:
            for env in (*self.real, *self.scene):
                env.close()
            if self.dream is not None:
                self.dream.close()

    def _checkpoint_name(self) -> str:
        if self.checkpoint is None:
            return f"zoo:{self.spec.name}"
        return type(self.checkpoint).__name__

    def _executor(self, policy: Policy) -> ChunkExecutor:
        executor = ChunkExecutor(policy, self.m, n_action_steps=self.n_action_steps, query="all")
        executor.reset(seed=self.seed)  # the same policy seed in both worlds
        return executor

    def _act(self, name: str, executor: ChunkExecutor, obs: dict[str, Any]) -> np.ndarray:
        actions = executor.act(obs)
        if actions.ndim != 2 or actions.shape[1] != self.action_dim:
            raise PolicyError(
                f"Policy {name!r} returned actions of size {actions.shape[1:]}; task {self.spec.name} takes "
                f"{self.action_dim} ([dx, dy, dz, grip] in [-1, 1])."
            )
        return actions

    def _judge_real(self, verdicts: dict[str, np.ndarray], frames: np.ndarray, starts: np.ndarray, rows: Any) -> None:
        """OR the frame judge's verdicts on real ``frames`` of ``rows`` into ``verdicts`` (no-op for state dreams)."""
        rows = np.asarray(rows, dtype=np.int64)
        if self.frame_judge is None or rows.size == 0:
            return
        previous = None if self._real_probed is None else self._real_probed[rows]
        said = self.frame_judge.verdicts(frames, starts[rows], previous=previous)
        if self._real_probed is None:
            self._real_probed = np.zeros_like(starts)
        self._real_probed[rows] = said["states"]
        for kind in ("probe", "classifier"):
            verdicts[kind][rows] |= said[kind]

    def _reset_real(self) -> tuple[list[dict[str, Any]], np.ndarray, np.ndarray]:
        """Reset every real env (episode ``i`` seeded ``seed + i``) and play the burn-in (:data:`BURN_IN_ACTION`).

        Returns the observations after the burn-in, the context frames ``[M, k, S, S, 3]`` and actions
        ``[M, k - 1, A]``."""
        k = self.burn_in + 1
        obs = [env.reset(seed=self.seed + i)[0] for i, env in enumerate(self.real)]
        frames = np.empty((self.m, k, *obs[0][PIXELS_KEY].shape), dtype=np.uint8)
        actions = np.zeros((self.m, self.burn_in, self.action_dim), dtype=np.float64)
        actions[:] = BURN_IN_ACTION
        for i, env in enumerate(self.real):
            frames[i, 0] = obs[i][PIXELS_KEY]
            for j in range(self.burn_in):
                obs[i], _, terminated, truncated, _ = env.step(actions[i, j])
                if terminated or truncated:
                    raise RuntimeError(
                        f"Real episode {i} (seed {self.seed + i}) ended during the {self.burn_in}-step burn-in."
                    )
                frames[i, j + 1] = obs[i][PIXELS_KEY]
        return obs, frames, actions

    def _play(self, name: str, policy: Policy, bar: Any, result: PolicyEvaluation) -> PolicyEpisodes:
        m = self.m
        # ----------------------------------------------------------------------------------------------- MuJoCo
        t0 = time.perf_counter()
        obs, context, context_actions = self._reset_real()
        physics0 = [env.get_physics_state() for env in self.real]
        first = [dict(o) for o in obs]
        starts = np.stack([o[STATE_KEY] for o in first]).astype(np.float64)
        texts = [str(o[INSTRUCTION_KEY]) for o in obs]
        if not result.instructions:
            result.instructions = texts
        executor = self._executor(policy)
        active = np.ones(m, dtype=bool)
        real_success = np.zeros(m, dtype=bool)
        real_len = np.zeros(m, dtype=np.int64)
        real_final = starts.copy()
        real_frames = [[obs[i][PIXELS_KEY].copy()] for i in range(self.record)]
        judge_on_real = {k: np.zeros(m, dtype=bool) for k in ("probe", "classifier")} if self.frame_judge else {}
        self._real_probed: np.ndarray | None = None  # the frame judge's last probed state of each real row
        self._judge_real(judge_on_real, np.stack([o[PIXELS_KEY] for o in obs]), starts, np.arange(m))
        policy_s = 0.0
        while active.any():
            tp = time.perf_counter()
            actions = self._act(name, executor, stack_observations(obs))
            policy_s += time.perf_counter() - tp
            stepped = np.flatnonzero(active)
            for i in stepped:
                obs[i], _, terminated, truncated, info = self.real[i].step(actions[i])
                real_len[i] += 1
                if i < self.record:
                    real_frames[i].append(obs[i][PIXELS_KEY].copy())
                if terminated or truncated:
                    active[i] = False
                    real_success[i] = bool(info["is_success"])
                    real_final[i] = obs[i][STATE_KEY]
                    bar.update(1)
            self._judge_real(judge_on_real, np.stack([obs[i][PIXELS_KEY] for i in stepped]), starts, stepped)
        real_s, real_policy_s = time.perf_counter() - t0, policy_s
        real = {
            "real_success": real_success,
            "real_lengths": real_len,
            "real_wall_s": real_s,
            "real_policy_s": real_policy_s,
            "real_final_states": real_final,
            "real_frames": [np.stack(f) for f in real_frames],
            "judge_on_real": judge_on_real,
        }
        # ------------------------------------------------------------------------------------------------ dream
        play = self._dream_pixels if self.pixels else self._dream_states
        dream = play(name, policy, bar, _RealStart(first, physics0, starts, texts, context, context_actions))
        return PolicyEpisodes(name=name, **real, **dream)

    def _dream_states(
        self,
        name: str,
        policy: Policy,
        bar: Any,
        start: _RealStart,
    ) -> dict[str, Any]:
        """A state dream: predicted states drawn through the task's scene, judged by the task rule."""
        assert self.dream is not None
        m = self.m
        t0 = time.perf_counter()
        first, physics0, states0, texts = start.first, start.physics, start.states, start.texts
        state, _ = self.dream.reset(seed=[self.seed + i for i in range(m)], options={"obs": states0})
        frames = np.empty((m, *first[0][PIXELS_KEY].shape), dtype=np.uint8)
        for i, scene in enumerate(self.scene):
            scene.set_physics_state(physics0[i])  # the real episode's layout and instruction phrasing
            frames[i] = self._draw(i, state[i])
        identical = (
            np.array_equal(state, states0)
            and all(np.array_equal(frames[i], first[i][PIXELS_KEY]) for i in range(m))
            and all(scene.instruction == texts[i] for i, scene in enumerate(self.scene))
        )
        if not identical:
            warnings.warn(
                f"The dream's step-0 observations of policy {name!r} differ from MuJoCo's (state, frame or "
                "instruction): the scene does not reproduce the real start frames.",
                RuntimeWarning,
                stacklevel=4,
            )
        executor = self._executor(policy)
        active = np.ones(m, dtype=bool)
        dream_success = np.zeros(m, dtype=bool)
        inconclusive = np.zeros(m, dtype=bool)
        dream_len = np.zeros(m, dtype=np.int64)
        ends = ["time_limit"] * m
        dream_frames = [[frames[i].copy()] for i in range(self.record)]
        policy_s = 0.0
        ended = np.zeros(m, dtype=bool)  # ended envs waiting to be restarted (their rows are ignored)
        while active.any():
            tp = time.perf_counter()
            actions = self._act(name, executor, {PIXELS_KEY: frames, STATE_KEY: state.copy(), INSTRUCTION_KEY: texts})
            policy_s += time.perf_counter() - tp
            if ended.any():  # autoreset is disabled: restart them from their start states to keep the batch stepping
                self.dream.reset(options={"reset_mask": ended, "obs": states0[ended]})
                ended[:] = False
            nxt, _, terminated, truncated, info = self.dream.step(actions)
            done = (terminated | truncated) & active
            dream_len[active] += 1
            for i in np.flatnonzero(done):
                success = bool(info["is_success"][i])
                dream_success[i] = success
                if success:
                    ends[i] = "success"
                elif info["model_error"][i]:
                    ends[i], inconclusive[i] = "model_error", True
                elif info["uncertainty_exceeded"][i]:
                    ends[i], inconclusive[i] = "uncertainty", True
                bar.update(1)
            ended = terminated | truncated
            active &= ~done
            state[active] = nxt[active]
            for i in np.flatnonzero(active):
                frames[i] = self._draw(i, state[i])
                if i < self.record:
                    dream_frames[i].append(frames[i].copy())
            for i in np.flatnonzero(done[: self.record]):  # the episode's last predicted state, for the video only
                dream_frames[i].append(self._draw(i, nxt[i]) if np.isfinite(nxt[i]).all() else dream_frames[i][-1])
        return {
            "dream_success": dream_success,
            "inconclusive": inconclusive,
            "dream_lengths": dream_len,
            "dream_end": ends,
            "dream_wall_s": time.perf_counter() - t0,
            "dream_policy_s": policy_s,
            "step0_identical": bool(identical),
            "dream_frames": [np.stack(f) for f in dream_frames],
            "judge_verdicts": {"rule": dream_success.copy()},
        }

    def _dream_pixels(
        self,
        name: str,
        policy: Policy,
        bar: Any,
        start: _RealStart,
    ) -> dict[str, Any]:
        """A pixel dream: the model's own frames; the frame judge probes states and gives verdicts."""
        assert self.dream is not None and self.frame_judge is not None
        m = self.m
        t0 = time.perf_counter()
        first, states0, texts = start.first, start.states, start.texts
        context, context_actions = start.context, start.context_actions
        options: dict[str, Any] = {"obs": context if self.burn_in else context[:, 0]}
        if self.burn_in:
            options["actions"] = context_actions
        frames, _ = self.dream.reset(seed=[self.seed + i for i in range(m)], options=options)
        identical = bool(np.array_equal(frames, np.stack([o[PIXELS_KEY] for o in first])))
        if not identical:
            warnings.warn(
                f"The dream's step-0 frames of policy {name!r} differ from MuJoCo's.", RuntimeWarning, stacklevel=4
            )
        said = self.frame_judge.verdicts(frames, states0)
        probed = said["states"]
        executor = self._executor(policy)
        active = np.ones(m, dtype=bool)
        verdicts = {k: np.zeros(m, dtype=bool) for k in ("probe", "classifier", "heads")}
        inconclusive = np.zeros(m, dtype=bool)
        dream_len = np.zeros(m, dtype=np.int64)
        ends = ["time_limit"] * m
        dream_frames = [[frames[i].copy()] for i in range(self.record)]
        policy_s = 0.0
        ended = np.zeros(m, dtype=bool)
        restart = dict(options)
        while active.any():
            tp = time.perf_counter()
            obs = {PIXELS_KEY: frames, STATE_KEY: probed, INSTRUCTION_KEY: texts}
            actions = self._act(name, executor, obs)
            policy_s += time.perf_counter() - tp
            if ended.any():  # autoreset is disabled: restart them from their start context to keep the batch stepping
                self.dream.reset(options={"reset_mask": ended, **{k: v[ended] for k, v in restart.items()}})
                ended[:] = False
            nxt, _, terminated, truncated, info = self.dream.step(actions)
            finite = np.isfinite(nxt.reshape(m, -1).astype(np.float64)).all(-1)
            said = self.frame_judge.verdicts(nxt, states0, previous=probed)
            hits = {"probe": said["probe"], "classifier": said["classifier"], "heads": terminated}
            for kind, hit in hits.items():
                verdicts[kind] |= hit & active & finite & ~info["model_error"]
            primary = hits[self.judge_kind] & active & finite & ~info["model_error"]
            done = (primary | terminated | truncated) & active
            dream_len[active] += 1
            for i in np.flatnonzero(done):
                if primary[i]:
                    ends[i] = "success"
                elif info["model_error"][i]:
                    ends[i], inconclusive[i] = "model_error", True
                elif info["uncertainty_exceeded"][i]:
                    ends[i], inconclusive[i] = "uncertainty", True
                elif terminated[i]:
                    ends[i] = "model_terminated"
                bar.update(1)
            ended = terminated | truncated  # the dream envs that must restart (done rows are ignored from now on)
            active &= ~done
            frames = np.where(active[:, None, None, None], nxt, frames)
            probed = np.where(active[:, None], said["states"], probed)
            for i in np.flatnonzero(done[: self.record] | active[: self.record]):
                dream_frames[i].append(nxt[i].copy())
        dream_success = verdicts[self.judge_kind] & ~inconclusive
        for kind in verdicts:  # every judge's verdict on the same episodes, inconclusive ones as failures
            verdicts[kind] &= ~inconclusive
        return {
            "dream_success": dream_success,
            "inconclusive": inconclusive,
            "dream_lengths": dream_len,
            "dream_end": ends,
            "dream_wall_s": time.perf_counter() - t0,
            "dream_policy_s": policy_s,
            "step0_identical": identical,
            "dream_frames": [np.stack(f) for f in dream_frames],
            "judge_verdicts": verdicts,
        }

    def _draw(self, i: int, state: np.ndarray) -> np.ndarray:
        """The frame of predicted ``state`` in row ``i``'s scene (which keeps the real episode's instruction)."""
        scene = self.scene[i]
        scene.set_physics_state(scene.physics_state_from_obs(state))
        return scene.render()


__all__ = [
    "CHUNK_EXECUTION",
    "DREAM_ENDS",
    "DREAM_JUDGE",
    "JUDGES",
    "BURN_IN_ACTION",
    "REFERENCE_NAMES",
    "PolicyEpisodes",
    "PolicyEvaluation",
    "evaluate_policies",
]
