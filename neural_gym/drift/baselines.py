"""The baselines drift compares every checkpoint with, built for the checkpoint's task and data.

- ``"copy_last"`` — :class:`neural_gym.world_models.baselines.CopyLastModel`.
- ``"linear"`` — :class:`neural_gym.world_models.baselines.LinearExtrapolationModel` (two observations of context).
- ``"single_mlp"`` — :class:`neural_gym.world_models.baselines.SingleMLPModel` trained here on the *same dataset* the checkpoint
  was trained on (``spec.provenance["dataset_id"]``, read from ``MINARI_DATASETS_PATH``) with the *same budget*: the
  hidden width and depth of ``spec.config``, the number of epochs the checkpoint's training ran
  (``provenance["epochs"]``), and its batch size, learning rate, weight decay, held-out fraction and seed
  (``provenance["train_args"]``). Loss: plain MSE on normalized ``(Δobs, reward)`` targets (+ BCE termination).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from neural_gym.envs import load_transitions
from neural_gym.world_models import WorldModel
from neural_gym.world_models.baselines import CopyLastModel, LinearExtrapolationModel, train_single_mlp

#: Names of the built-in baselines.
BASELINES: tuple[str, ...] = ("copy_last", "linear", "single_mlp")


def single_mlp_budget(model: WorldModel) -> dict[str, Any]:
    """The training budget of ``model`` as recorded in its spec, for the single-MLP baseline.

    Returns:
        ``dataset_id``, ``hidden_size``, ``num_layers``, ``epochs``, ``batch_size``, ``lr``, ``weight_decay``,
        ``holdout_fraction``, ``seed`` and ``defaults_used`` (the keys the spec did not record).
    """
    prov = model.spec.provenance or {}
    cfg = model.spec.config or {}
    args = prov.get("train_args", {}) or {}
    defaults = {
        "hidden_size": (cfg.get("hidden_size"), 200),
        "num_layers": (cfg.get("num_layers"), 4),
        "epochs": (prov.get("epochs"), args.get("max_epochs", 100)),
        "batch_size": (args.get("batch_size"), 256),
        "lr": (args.get("lr"), 1e-3),
        "weight_decay": (args.get("weight_decay"), 5e-5),
        "holdout_fraction": (args.get("holdout_fraction"), 0.1),
        "seed": (prov.get("seed"), 0),
    }
    budget: dict[str, Any] = {"dataset_id": prov.get("dataset_id")}
    used = []
    for key, (value, default) in defaults.items():
        budget[key] = value if value is not None else default
        if value is None:
            used.append(key)
    budget["defaults_used"] = used
    return budget


def build_baselines(
    model: WorldModel,
    names: Sequence[str],
    *,
    provided: Mapping[str, WorldModel] | None = None,
    device: Any = "cpu",
    progress: bool = True,
) -> tuple[dict[str, WorldModel], dict[str, dict[str, Any]]]:
    """The baseline predictors for ``model``, and what each is.

    Args:
        model: the checkpoint under test.
        names: baselines to build: names from :data:`BASELINES`, or keys of ``provided``.
        provided: ready predictors by name (e.g. a single MLP trained earlier, or another checkpoint); they take
            precedence over the built-in ones.
        device: where the single MLP trains and runs.
        progress: show the single MLP's training bar.

    Returns:
        ``(predictors, info)``; ``info[name]`` is JSON-ready (family, context length, training facts).

    Raises:
        ValueError: an unknown name, a provided predictor for another task, or a single MLP whose training dataset is
            not recorded in the checkpoint.
        FileNotFoundError: the checkpoint's dataset is not under ``MINARI_DATASETS_PATH``.
    """
    provided = dict(provided or {})
    out: dict[str, WorldModel] = {}
    info: dict[str, dict[str, Any]] = {}
    for name in names:
        if name in provided:
            pred = provided[name]
            if pred.spec.task.lower() != model.spec.task.lower():
                raise ValueError(
                    f"baseline {name!r} is for task {pred.spec.task}, the checkpoint for {model.spec.task}"
                )
            out[name] = pred
            info[name] = {"family": pred.spec.family, "source": "provided"}
        elif name == "copy_last":
            out[name] = CopyLastModel(model.spec).to(model.device)
            info[name] = {"family": "copy_last", "description": "next observation = current observation"}
        elif name == "linear":
            out[name] = LinearExtrapolationModel(model.spec).to(model.device)
            info[name] = {"family": "linear", "description": "s_{t+1} = s_t + (s_t - s_{t-1})"}
        elif name == "single_mlp":
            out[name], info[name] = _train_single_mlp(model, device=device, progress=progress)
        else:
            raise ValueError(f"unknown baseline {name!r}; built-in: {list(BASELINES)} (or pass it in baseline_models)")
        info[name]["context_length"] = int(out[name].context_length)
    return out, info


def _train_single_mlp(model: WorldModel, *, device: Any, progress: bool) -> tuple[WorldModel, dict[str, Any]]:
    budget = single_mlp_budget(model)
    dataset_id = budget["dataset_id"]
    if not dataset_id:
        raise ValueError(
            "the single-MLP baseline trains on the checkpoint's own dataset, but this checkpoint records none "
            "(spec.provenance['dataset_id']); leave 'single_mlp' out of baselines or pass one in baseline_models"
        )
    try:
        data = load_transitions(dataset_id)
    except FileNotFoundError as err:
        raise FileNotFoundError(
            f"the single-MLP baseline trains on the checkpoint's dataset {dataset_id!r}: {err} "
            f"(the checkpoint's command: {model.spec.provenance.get('command', '?')}); or leave 'single_mlp' out"
        ) from err
    mlp, report = train_single_mlp(
        data.observations,
        data.actions,
        data.next_observations,
        data.rewards,
        data.terminations,
        spec=model.spec,
        hidden_size=int(budget["hidden_size"]),
        num_layers=int(budget["num_layers"]),
        epochs=int(budget["epochs"]),
        batch_size=int(budget["batch_size"]),
        lr=float(budget["lr"]),
        weight_decay=float(budget["weight_decay"]),
        episode_ids=data.episode_ids,
        holdout_fraction=float(budget["holdout_fraction"]),
        seed=int(budget["seed"]),
        device=device,
        progress=progress,
    )
    info = {
        "family": "single_mlp",
        "description": "one deterministic MLP, MSE on normalized (delta obs, reward), same data and budget",
        "budget": budget,
        "best_epoch": report.best_epoch,
        "best_holdout_mse": min(report.holdout_mse),
        "n_train": report.n_train,
        "n_holdout": report.n_holdout,
    }
    return mlp, info
