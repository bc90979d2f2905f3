"""Training loop of the ``wam`` family: fit on action-labelled episodes and action-free clips, evaluate every mode on
held-out episodes, calibrate the uncertainty threshold.

A training window starts at step ``t`` of an episode: the observation ``o_t``, the ``K`` next observations and the
``H`` actions from ``a_t`` (past the episode's end both are padded by repeating its last entry and left out of the
loss). Each window draws a noise pattern of the training mix (:mod:`~neural_gym.world_models.wam.config`), which sets
the level ``l`` of every future and action token; with ``x_l = (1 − l) x_0 + l ε`` and the velocity target
``ε − x_0``, per sample::

    future  = mean_e mean_{k: l_k > 0, k inside the episode, head e's bootstrap mask} ‖u_e,k − (ε_k − x_0,k)‖²
    actions = mean_{j: l_j > 0, j inside the episode, the window has actions} ‖u_j − (ε_j − x_0,j)‖²
    reward  = (r̂ − r)² + BCE(term_logit, terminated)          (labelled windows; the reward head reads clean data)
    loss    = future + actions + reward

(the future term is averaged over the dimensions whose change varies in the data). Clips have no actions: their
windows always take the ``dynamics`` pattern (actions held at the maximum level, never scored).

``objective`` is the ablation switch of :data:`OBJECTIVES` (same data, same budget, only the training signal differs):

- ``"joint"`` (default): the whole mix above, ``loss = future + actions + reward``;
- ``"actions"`` (behaviour cloning): every window takes the ``policy`` pattern (future held at the maximum level),
  ``loss = actions``; the dynamics heads and the reward head stay untrained (no clips allowed: they hold no actions);
- ``"future"`` (dynamics): labelled windows take only the action-clean patterns ``forward`` and ``step`` (in the
  mix's proportions), clips ``dynamics``; ``loss = future + reward``, the action tokens never scored.

Held-out figures (whole held-out episodes, the modes run deterministically from zero start noise): one-step forward
normalized RMSE against copy-last, inverse-dynamics and policy mean absolute action errors against the mean training
action and the zero action, and the Spearman correlation of each disagreement measure with the one-step error.

Example:
    >>> model, report = train_wam(episodes, task="TabletopReach", task_env_id="TabletopReach-v0",   # doctest: +SKIP
    ...                           action_low=[-1] * 4, action_high=[1] * 4, config="debug", steps=300)
    >>> report.heldout_inverse_mae, report.heldout_inverse_mean_baseline_mae                        # doctest: +SKIP
"""

from __future__ import annotations

import math
import platform
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from neural_gym.progress import progress_bar
from neural_gym.world_models.base import Calibration
from neural_gym.world_models.device import resolve_device
from neural_gym.world_models.training import calibration_from_values, spearman, summary_writer
from neural_gym.world_models.wam.config import PATTERNS, WAMConfig, preset
from neural_gym.world_models.wam.instructions import encode, vocabulary
from neural_gym.world_models.wam.model import NEVER_TERMINATES_LOGIT, WAM_MEASURES, WAMModel

#: Held-out windows evaluated at most, and rows per evaluation batch.
MAX_EVAL_WINDOWS = 2048
_EVAL_BATCH = 512
#: Patterns whose instruction may be read (the others read the null instruction, see the config module).
_LANGUAGE_PATTERNS = ("joint", "policy", "imagined", "dynamics")
#: Training signals of the ablation switch ``objective`` of :func:`train_wam` (see the module docstring).
OBJECTIVES: tuple[str, ...] = ("joint", "actions", "future")
#: Patterns a labelled window may take under each objective (``None``: the whole mix).
_OBJECTIVE_PATTERNS: dict[str, tuple[str, ...] | None] = {
    "joint": None,
    "actions": ("policy",),
    "future": ("forward", "step"),
}


@dataclass
class WAMTrainReport:
    """What :func:`train_wam` did. Observation errors are normalized RMSE (per-dimension training std), action errors
    mean absolute errors in the action's raw units.

    Attributes:
        steps: optimizer steps run.
        train_loss: mean training loss over each block of ``log_every`` steps.
        loss_terms: mean of each loss term over the last block (``future``, ``actions``, ``reward``).
        wall_time_s: total wall time, evaluation and calibration included.
        steps_per_s: optimizer steps per second of training time.
        n_train_episodes: labelled episodes trained on.
        n_train_clips: action-free clips trained on.
        n_heldout_episodes: episodes held out.
        n_heldout_windows: held-out transitions evaluated.
        heldout_forward_nrmse: one-step forward mode (:meth:`WAMModel.step`).
        heldout_copy_last_nrmse: predicting the current observation again.
        heldout_inverse_mae: inverse mode's action against the true action.
        heldout_policy_mae: policy mode's first action against the demonstrated one (future marginalised).
        heldout_policy_imagine_mae: the same with the future imagined first.
        heldout_mean_action_mae: the mean training action as a prediction.
        heldout_zero_action_mae: the zero action as a prediction.
        heldout_uncertainty_spearman: per measure, Spearman correlation of the one-step disagreement and error.
        calibration: the uncertainty calibration written into the model's spec.
    """

    steps: int
    train_loss: list[float]
    loss_terms: dict[str, float]
    wall_time_s: float
    steps_per_s: float
    n_train_episodes: int
    n_train_clips: int
    n_heldout_episodes: int
    n_heldout_windows: int
    heldout_forward_nrmse: float
    heldout_copy_last_nrmse: float
    heldout_inverse_mae: float
    heldout_policy_mae: float
    heldout_policy_imagine_mae: float
    heldout_mean_action_mae: float
    heldout_zero_action_mae: float
    calibration: Calibration
    heldout_uncertainty_spearman: dict[str, float] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """JSON-ready dict of the held-out figures (what goes into ``spec.provenance``)."""
        d = asdict(self)
        d.pop("train_loss")
        d["calibration"] = self.calibration.to_dict()
        return d


@dataclass
class _Windows:
    """Every training window as index arrays into the stacked observations and actions (see :func:`_windows`)."""

    current: np.ndarray  # (N,) row of o_t in the observation table
    future: np.ndarray  # (N, K) rows of o_{t+1..t+K} (repeated past the end)
    future_mask: np.ndarray  # (N, K) inside the episode
    actions: np.ndarray  # (N, H) rows of a_t..a_{t+H-1} in the action table (repeated past the end)
    action_mask: np.ndarray  # (N, H) inside the episode and the window has actions
    has_actions: np.ndarray  # (N,) labelled episode (not a clip)
    reward: np.ndarray  # (N,) r_t (0 for clips)
    terminated: np.ndarray  # (N,) terminated after a_t (False for clips)
    instruction: np.ndarray  # (N,) row of the instruction in the token table (the last row: none)


def _field(item: Any, name: str, default: Any = None) -> Any:
    if isinstance(item, Mapping):
        return item.get(name, default)
    return getattr(item, name, default)


def _check_sequences(
    episodes: Sequence[Any], clips: Sequence[Any], obs_dim: int | None, action_dim: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Episodes and clips as dicts of checked arrays; ``ValueError`` naming the first bad one otherwise."""
    out_ep: list[dict[str, Any]] = []
    for i, ep in enumerate(episodes):
        obs = np.asarray(_field(ep, "observations"), dtype=np.float64)
        act = np.asarray(_field(ep, "actions"), dtype=np.float64)
        if obs.ndim != 2 or obs.shape[0] < 2 or (obs_dim is not None and obs.shape[1] != obs_dim):
            raise ValueError(f"episode {i}: observations must be [T+1 >= 2, O] state vectors, got shape {obs.shape}")
        obs_dim = obs.shape[1]
        T = obs.shape[0] - 1
        if act.shape != (T, action_dim):
            raise ValueError(f"episode {i}: actions must have shape [T={T}, A={action_dim}], got {act.shape}")
        rew = np.asarray(_field(ep, "rewards", np.zeros(T)), dtype=np.float64).reshape(-1)
        term = np.asarray(_field(ep, "terminations", np.zeros(T, dtype=bool))).reshape(-1).astype(bool)
        if rew.shape != (T,) or term.shape != (T,):
            raise ValueError(
                f"episode {i}: rewards and terminations must have shape [T={T}], got {rew.shape}, {term.shape}"
            )
        if not (np.isfinite(obs).all() and np.isfinite(act).all() and np.isfinite(rew).all()):
            raise ValueError(f"episode {i}: observations, actions and rewards must be finite")
        instruction = _field(ep, "instruction")
        if instruction is not None and not isinstance(instruction, str):
            raise ValueError(f"episode {i}: instruction must be a string or None, got {type(instruction).__name__}")
        out_ep.append({"obs": obs, "act": act, "rew": rew, "term": term, "instruction": instruction})
    out_clips: list[dict[str, Any]] = []
    for i, clip in enumerate(clips):
        obs = np.asarray(_field(clip, "observations"), dtype=np.float64)
        if obs.ndim != 2 or obs.shape[0] < 2 or (obs_dim is not None and obs.shape[1] != obs_dim):
            want = "O" if obs_dim is None else str(obs_dim)
            raise ValueError(f"clip {i}: observations must be [T+1 >= 2, {want}] state vectors, got shape {obs.shape}")
        obs_dim = obs.shape[1]
        if not np.isfinite(obs).all():
            raise ValueError(f"clip {i}: observations must be finite")
        instruction = _field(clip, "instruction")
        if instruction is not None and not isinstance(instruction, str):
            raise ValueError(f"clip {i}: instruction must be a string or None, got {type(instruction).__name__}")
        out_clips.append({"obs": obs, "instruction": instruction})
    return out_ep, out_clips


def _windows(
    episodes: list[dict[str, Any]], clips: list[dict[str, Any]], K: int, H: int, instructions: list[str]
) -> tuple[np.ndarray, np.ndarray, _Windows]:
    """The observation table, the action table (plus one zero row for clips) and every window of both."""
    index = {text: i for i, text in enumerate(instructions)}
    none = len(instructions)
    obs_rows, act_rows, parts = [], [], []
    o_off = a_off = 0
    for item in [*episodes, *clips]:
        obs = item["obs"]
        T = len(obs) - 1
        t = np.arange(T)[:, None]
        fut = t + 1 + np.arange(K)[None]
        labelled = "act" in item
        if labelled:
            acts = t + np.arange(H)[None]
            act_idx, act_mask = a_off + np.minimum(acts, T - 1), acts < T
            act_rows.append(item["act"])
            reward, term = item["rew"], item["term"]
        else:
            act_idx, act_mask = np.zeros((T, H), dtype=np.int64), np.zeros((T, H), dtype=bool)
            reward, term = np.zeros(T), np.zeros(T, dtype=bool)
        parts.append(
            (
                o_off + t[:, 0],
                o_off + np.minimum(fut, T),
                fut <= T,
                act_idx,
                act_mask,
                np.full(T, labelled),
                reward,
                term,
                np.full(T, none if item["instruction"] is None else index[item["instruction"]]),
            )
        )
        obs_rows.append(obs)
        o_off += T + 1
        a_off += T if labelled else 0
    a_dim = episodes[0]["act"].shape[1] if episodes else 1
    act_table = np.concatenate([*act_rows, np.zeros((1, a_dim))]) if act_rows else np.zeros((1, a_dim))
    zero_row = len(act_table) - 1
    cols = [np.concatenate(c) for c in zip(*parts, strict=True)]
    cols[3] = np.where(cols[5][:, None], cols[3], zero_row)  # clips point at the zero row
    return np.concatenate(obs_rows), act_table, _Windows(*cols)


def _split(n: int, fraction: float, rng: np.random.Generator) -> tuple[list[int], list[int]]:
    if n < 2:
        raise ValueError(f"train_wam holds out whole episodes and needs at least 2 labelled episodes, got {n}")
    n_hold = min(n - 1, max(1, round(fraction * n)))
    perm = rng.permutation(n)
    return sorted(perm[n_hold:].tolist()), sorted(perm[:n_hold].tolist())


def _levels(pattern: torch.Tensor, K: int, H: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-token noise levels ``[B, K]`` and ``[B, H]`` of each sample's pattern (indices into :data:`PATTERNS`)."""
    B = pattern.shape[0]
    t_o = torch.rand(B, generator=generator)[:, None].expand(B, K)
    t_a = torch.rand(B, generator=generator)[:, None].expand(B, H)
    n_known = (2 + (torch.rand(B, generator=generator) * max(H - 1, 1)).long()).clamp(max=H)  # forward: 2..H
    k, j = torch.arange(K)[None], torch.arange(H)[None]
    p = {name: (pattern == i)[:, None] for i, name in enumerate(PATTERNS)}
    ones_o, ones_a = torch.ones(B, K), torch.ones(B, H)
    level_f = torch.where(p["policy"], ones_o, t_o)
    level_f = torch.where(p["inverse"], (k >= 1).float().expand(B, K), level_f)
    level_f = torch.where(p["imagined"], torch.zeros(B, K), level_f)
    level_a = torch.where(p["forward"], (j >= n_known[:, None]).float(), t_a)
    level_a = torch.where(p["step"], (j >= 1).float().expand(B, H), level_a)
    level_a = torch.where(p["dynamics"], ones_a, level_a)
    return level_f, level_a


def train_wam(
    episodes: Sequence[Any],
    *,
    task: str,
    task_env_id: str,
    action_low: Sequence[float],
    action_high: Sequence[float],
    clips: Sequence[Any] = (),
    config: WAMConfig | str = "small",
    steps: int = 3000,
    batch_size: int = 256,
    lr: float = 1e-3,
    weight_decay: float = 1e-4,
    warmup_steps: int = 100,
    grad_clip: float = 1.0,
    heldout_fraction: float = 0.1,
    calibration_quantile: float = 0.999,
    calibration_scale: float = 1.0,
    measure: str = "ensemble_std",
    max_start_states: int = 1024,
    seed: int = 0,
    device: str | torch.device = "auto",
    progress: bool = True,
    log_dir: str | None = None,
    log_every: int = 50,
    provenance: dict[str, Any] | None = None,
    objective: str = "joint",
) -> tuple[WAMModel, WAMTrainReport]:
    """Fit a :class:`WAMModel`, evaluate its modes on held-out episodes and calibrate its uncertainty.

    Args:
        episodes: action-labelled episodes: objects or dicts with ``observations [T+1, O]``, ``actions [T, A]``,
            ``rewards [T]``, ``terminations [T]`` and optionally ``instruction`` (e.g. ``neural_gym.envs.Episode``).
        task: ground-truth task name (``"TabletopReach"``).
        task_env_id: gymnasium id of the ground truth (``"TabletopReach-v0"``).
        action_low: ``[A]`` lower action bounds.
        action_high: ``[A]`` upper action bounds.
        clips: action-free clips: ``observations [T+1, O]`` and optionally ``instruction`` (any ``actions`` are
            ignored); they train the ``dynamics`` pattern only.
        config: a :class:`WAMConfig` or a preset name; its ``vocab`` is replaced by the training instructions' words.
        steps: optimizer steps.
        batch_size: windows per step.
        lr: peak AdamW learning rate (linear warm-up, then cosine decay to a tenth).
        weight_decay: AdamW weight decay.
        warmup_steps: steps of linear warm-up.
        grad_clip: gradient-norm clip.
        heldout_fraction: share of the labelled episodes held out (at least one).
        calibration_quantile: held-out quantile the thresholds are taken at.
        calibration_scale: factor applied to that quantile.
        measure: disagreement measure that drives cut-offs (one of :data:`WAM_MEASURES`).
        max_start_states: training observations kept for ``start="dataset"``.
        seed: seeds the weights, the split, the batches, the noise patterns and the noise.
        device: ``"auto"``, ``"cpu"``, ``"cuda"``, ...
        progress: show a progress bar (a tqdm bar on a terminal, plain lines elsewhere).
        log_dir: write TensorBoard scalars there when set.
        log_every: steps per logged loss block.
        provenance: extra facts (dataset id, command line) merged into ``spec.provenance``.
        objective: the training signal, one of :data:`OBJECTIVES` (``"joint"``; ``"actions"``: behaviour cloning;
            ``"future"``: dynamics only; see the module docstring).

    Returns:
        The trained model (eval mode, on ``device``) and a :class:`WAMTrainReport`.

    Raises:
        ValueError: on inputs of the wrong shape, non-finite values, fewer than 2 labelled episodes, or arguments out
            of range.
    """
    t_start = time.perf_counter()
    if isinstance(config, str):
        config = preset(config)
    if not isinstance(config, WAMConfig):
        raise TypeError(f"config must be a WAMConfig or a preset name, got {type(config).__name__}")
    config.validate()
    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {OBJECTIVES}, got {objective!r}")
    if objective == "actions" and len(clips) > 0:
        raise ValueError(
            "objective='actions' trains the action tokens only; action-free clips have none: pass no clips"
        )
    if measure not in WAM_MEASURES:
        raise ValueError(f"measure must be one of {WAM_MEASURES}, got {measure!r}")
    for name, value in (("steps", steps), ("batch_size", batch_size), ("log_every", log_every)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    if not (lr > 0 and weight_decay >= 0 and grad_clip > 0 and warmup_steps >= 0):
        raise ValueError(
            f"need lr > 0, weight_decay >= 0, grad_clip > 0, warmup_steps >= 0; got {lr}, {weight_decay}, {grad_clip}, {warmup_steps}"
        )
    if not 0.0 < heldout_fraction < 1.0:
        raise ValueError(f"heldout_fraction must be in (0, 1), got {heldout_fraction}")
    if not (0.0 < calibration_quantile <= 1.0 and calibration_scale > 0):
        raise ValueError(
            f"need calibration_quantile in (0, 1] and calibration_scale > 0, got {calibration_quantile}, {calibration_scale}"
        )
    A = len(action_low)
    eps, clip_list = _check_sequences(episodes, clips, None, A)
    rng = np.random.default_rng(seed)
    train_ids, hold_ids = _split(len(eps), heldout_fraction, rng)
    train_eps, hold_eps = [eps[i] for i in train_ids], [eps[i] for i in hold_ids]
    texts = [x["instruction"] for x in [*train_eps, *clip_list] if x["instruction"] is not None]
    config = replace(config, vocab=vocabulary(texts))
    K, H = config.future_steps, config.chunk_size
    n_obs = eps[0]["obs"].shape[1]
    dev = resolve_device(device)

    model = WAMModel(
        task=task,
        task_env_id=task_env_id,
        obs_shape=(n_obs,),
        action_dim=A,
        action_low=action_low,
        action_high=action_high,
        config=config,
        seed=seed,
    )
    instructions = sorted(set(texts))
    obs_table, act_table, win = _windows(train_eps, clip_list, K, H, instructions)
    changes = obs_table[win.future] - obs_table[win.current][:, None]  # (N, K, O)
    model.set_normalization(
        observations=obs_table, changes=changes, change_mask=win.future_mask, rewards=win.reward[win.has_actions]
    )
    model.fit_context_stats(obs_table)
    keep = rng.choice(len(obs_table), size=min(max_start_states, len(obs_table)), replace=False)
    model.set_start_contexts(obs_table[np.sort(keep)][:, None], np.zeros((len(keep), 0, A)))
    model.to(dev)

    # everything a batch reads, on the device, in model units
    obs_t = torch.as_tensor(obs_table, dtype=torch.float32, device=dev)
    act_t = model.scale_action(torch.as_tensor(act_table, dtype=torch.float32, device=dev))
    tokens_t = torch.as_tensor(encode(config.vocab, [*instructions, None]), device=dev)  # (U + 1, L)
    w = {name: torch.as_tensor(getattr(win, name), device=dev) for name in win.__dataclass_fields__}
    learn_termination = bool(win.terminated[win.has_actions].any())
    allowed = _OBJECTIVE_PATTERNS[objective]
    weights = torch.tensor(
        [config.pattern_weights.get(p, 0.0) if allowed is None or p in allowed else 0.0 for p in PATTERNS],
        dtype=torch.float64,
    )
    if objective == "actions":  # the behaviour-cloning pattern alone, whatever its weight in the mix
        weights = torch.tensor([float(p == "policy") for p in PATTERNS], dtype=torch.float64)
    if not float(weights.sum()) > 0:
        raise ValueError(f"objective={objective!r} trains the patterns {allowed}, which all weigh 0 in pattern_weights")
    dynamics_id = PATTERNS.index("dynamics")
    language = torch.tensor([p in _LANGUAGE_PATTERNS for p in PATTERNS])
    active = model.change_active  # (K, O)
    n_active = active.sum(dim=-1).clamp(min=1.0)  # (K,)

    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)

    def lr_at(step: int) -> float:
        if step < warmup_steps:
            return lr * (step + 1) / warmup_steps
        progress_frac = (step - warmup_steps) / max(steps - warmup_steps, 1)
        return lr * (0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * progress_frac)))

    gen = torch.Generator().manual_seed(seed + 1)  # CPU generator: the same batches and noise on every device
    writer = summary_writer(log_dir)
    n_windows = len(win.current)
    report_loss: list[float] = []
    block = {"loss": 0.0, "future": 0.0, "actions": 0.0, "reward": 0.0}
    block_n = 0
    train_time = 0.0
    model.train()
    bar = progress_bar(range(steps), desc=f"wam {task}", unit="step", enabled=progress)
    for step in bar:
        t0 = time.perf_counter()
        b = torch.randint(n_windows, (batch_size,), generator=gen).to(dev)
        B = batch_size
        has_act = w["has_actions"][b]
        pattern = torch.multinomial(weights, B, replacement=True, generator=gen).to(dev)
        pattern = torch.where(has_act, pattern, torch.full_like(pattern, dynamics_id))
        level_f, level_a = (x.to(dev) for x in _levels(pattern.cpu(), K, H, gen))
        keep_words = language.to(dev)[pattern] & (torch.rand(B, generator=gen).to(dev) >= config.instruction_dropout)
        tokens = tokens_t[w["instruction"][b]] * keep_words[:, None]

        cur = obs_t[w["current"][b]]  # (B, O)
        obs_n = model.normalize_obs(cur)
        x0_f = model.normalize_changes(obs_t[w["future"][b]] - cur[:, None])  # (B, K, O)
        x0_a = act_t[w["actions"][b]]  # (B, H, A)
        eps_f = torch.randn(x0_f.shape, generator=gen).to(dev)
        eps_a = torch.randn(x0_a.shape, generator=gen).to(dev)
        x_f = (1 - level_f[..., None]) * x0_f + level_f[..., None] * eps_f
        x_a = (1 - level_a[..., None]) * x0_a + level_a[..., None] * eps_a
        instruction = model.backbone.instruction_token(tokens)
        u_f, u_a = model.backbone(obs_n, instruction, x_f, level_f, x_a, level_a)  # (E, B, K, O), (B, H, A)

        err_f = ((u_f - (eps_f - x0_f)).square() * active).sum(dim=-1) / n_active  # (E, B, K)
        boot = (torch.rand(config.num_heads, B, generator=gen) < config.head_bootstrap).to(dev)
        wt_f = (w["future_mask"][b] & (level_f > 0)).float()[None] * boot[..., None].float()  # (E, B, K)
        loss_f = ((err_f * wt_f).sum(dim=(1, 2)) / wt_f.sum(dim=(1, 2)).clamp(min=1.0)).mean()
        err_a = (u_a - (eps_a - x0_a)).square().mean(dim=-1)  # (B, H)
        wt_a = (w["action_mask"][b] & (level_a > 0)).float()
        loss_a = (err_a * wt_a).sum() / wt_a.sum().clamp(min=1.0)
        reward_n, term_logit = model.reward_head(obs_n, x0_a[:, 0], x0_f[:, 0])
        lab = has_act.float()
        r_target = (w["reward"][b].float() - model.reward_loc) / model.reward_scale
        loss_r = ((reward_n - r_target).square() * lab).sum() / lab.sum().clamp(min=1.0)
        if learn_termination:
            bce = F.binary_cross_entropy_with_logits(term_logit, w["terminated"][b].float(), reduction="none")
            loss_r = loss_r + (bce * lab).sum() / lab.sum().clamp(min=1.0)
        if objective == "actions":
            loss = loss_a
        elif objective == "future":
            loss = loss_f + loss_r
        else:
            loss = loss_f + loss_a + loss_r

        for group in optimizer.param_groups:
            group["lr"] = lr_at(step)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        optimizer.step()
        train_time += time.perf_counter() - t0

        for key, value in (("loss", loss), ("future", loss_f), ("actions", loss_a), ("reward", loss_r)):
            block[key] += float(value.detach())
        block_n += 1
        if block_n == log_every or step == steps - 1:
            means = {k: v / block_n for k, v in block.items()}
            report_loss.append(means["loss"])
            bar.set_postfix(loss=f"{means['loss']:.4f}", future=f"{means['future']:.4f}", act=f"{means['actions']:.4f}")
            if writer is not None:
                for k, v in means.items():
                    writer.add_scalar(f"train/{k}", v, step)
            last_terms = {k: v for k, v in means.items() if k != "loss"}
            block = dict.fromkeys(block, 0.0)
            block_n = 0
    bar.close()
    model.eval()
    if not learn_termination:  # no terminal transition seen: the task never ends in the model either
        with torch.no_grad():
            final = model.reward_head.net[-1]
            final.weight[1].zero_()
            final.bias[1] = NEVER_TERMINATES_LOGIT

    figures, values = _evaluate(model, hold_eps, np.asarray(act_table[:-1]).mean(axis=0), rng)
    calibration = calibration_from_values(
        {m: values[m] for m in WAM_MEASURES}, measure=measure, quantile=calibration_quantile, scale=calibration_scale
    )
    model.spec.calibration = calibration
    wall_time = time.perf_counter() - t_start
    if writer is not None:
        for k, v in figures.items():
            if isinstance(v, float):
                writer.add_scalar(f"heldout/{k}", v, steps)
        writer.close()
    report = WAMTrainReport(
        steps=steps,
        train_loss=report_loss,
        loss_terms=last_terms,
        wall_time_s=wall_time,
        steps_per_s=steps / max(train_time, 1e-9),
        n_train_episodes=len(train_eps),
        n_train_clips=len(clip_list),
        n_heldout_episodes=len(hold_eps),
        calibration=calibration,
        **figures,
    )
    model.spec.provenance = {
        **(provenance or {}),
        "seed": seed,
        "torch": torch.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "trained_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "train_args": {
            "steps": steps,
            "batch_size": batch_size,
            "lr": lr,
            "weight_decay": weight_decay,
            "warmup_steps": warmup_steps,
            "grad_clip": grad_clip,
            "heldout_fraction": heldout_fraction,
            "objective": objective,
            "device": str(dev),
        },
        "report": report.summary(),
    }
    return model, report


@torch.no_grad()
def _evaluate(
    model: WAMModel, episodes: list[dict[str, Any]], mean_action: np.ndarray, rng: np.random.Generator
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Held-out figures of every mode (deterministic: zero start noise) and the one-step disagreement values."""
    rows = [(i, t) for i, ep in enumerate(episodes) for t in range(len(ep["act"]))]
    if len(rows) > MAX_EVAL_WINDOWS:
        rows = [rows[j] for j in np.sort(rng.choice(len(rows), size=MAX_EVAL_WINDOWS, replace=False))]
    obs = np.stack([episodes[i]["obs"][t] for i, t in rows])
    nxt = np.stack([episodes[i]["obs"][t + 1] for i, t in rows])
    act = np.stack([episodes[i]["act"][t] for i, t in rows])
    texts = [episodes[i]["instruction"] for i, _ in rows]
    dev = model.obs_loc.device
    std = model.obs_std.cpu().numpy()
    pred_next, inv, pol, pol_img = [], [], [], []
    values: dict[str, list[np.ndarray]] = {m: [] for m in WAM_MEASURES}
    for s in range(0, len(rows), _EVAL_BATCH):
        o = torch.as_tensor(obs[s : s + _EVAL_BATCH], dtype=torch.float32, device=dev)
        n = torch.as_tensor(nxt[s : s + _EVAL_BATCH], dtype=torch.float32, device=dev)
        a = torch.as_tensor(act[s : s + _EVAL_BATCH], dtype=torch.float32, device=dev)
        words = texts[s : s + _EVAL_BATCH]
        pred = model.step(model.initial_state(o), a)
        pred_next.append(pred.state.obs.cpu().numpy())
        for m in WAM_MEASURES:
            values[m].append(pred.uncertainty[m].double().cpu().numpy())
        inv.append(model.inverse(o, n).cpu().numpy())
        pol.append(model.act(o, words)[:, 0].cpu().numpy())
        pol_img.append(model.act(o, words, imagine=True)[:, 0].cpu().numpy())
    nrmse = np.sqrt((((np.concatenate(pred_next) - nxt) / std) ** 2).mean(axis=1))  # (N,)
    copy_last = np.sqrt((((obs - nxt) / std) ** 2).mean(axis=1))
    out_values = {m: np.concatenate(v) for m, v in values.items()}

    def mae(x: np.ndarray) -> float:
        return float(np.abs(x - act).mean())

    figures: dict[str, Any] = {
        "n_heldout_windows": len(rows),
        "heldout_forward_nrmse": float(nrmse.mean()),
        "heldout_copy_last_nrmse": float(copy_last.mean()),
        "heldout_inverse_mae": mae(np.concatenate(inv)),
        "heldout_policy_mae": mae(np.concatenate(pol)),
        "heldout_policy_imagine_mae": mae(np.concatenate(pol_img)),
        "heldout_mean_action_mae": mae(np.broadcast_to(mean_action, act.shape)),
        "heldout_zero_action_mae": mae(np.zeros_like(act)),
        "heldout_uncertainty_spearman": {m: spearman(v, nrmse) for m, v in out_values.items()},
    }
    return figures, out_values
