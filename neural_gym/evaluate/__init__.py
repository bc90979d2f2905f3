"""Policy evaluation in the dream against ground truth.

- :mod:`~neural_gym.evaluate.paired` — :func:`paired_episodes`: play a policy for paired episodes (same start states)
  in ground truth and in the dream; :class:`PairedEpisodes` holds the returns.
- :mod:`~neural_gym.evaluate.agreement` — how far the dream's verdicts on ``K`` policies can be trusted: Pearson,
  Spearman, Kendall, MAE, exploitation gap and MMRV over per-policy success rates; agreement and Cohen's κ over
  paired episodes (optionally leaving out inconclusive dream episodes); bootstrap intervals over episodes and over
  policies; :func:`agreement_report` for all of them as a JSON-ready dict.
- :mod:`~neural_gym.evaluate.harness` — :func:`evaluate_policies`: ``K`` policies, ``M`` paired episodes each, in
  MuJoCo and in the dream (a state model's predicted states drawn by the task's own scene, or a pixel model's own
  frames), on the tabletop suite; :class:`PolicyEvaluation` holds the per-episode verdicts of every judge and gives
  the agreement report, per-policy rates and speed.
- :mod:`~neural_gym.evaluate.judges` — :class:`FrameJudge`: success from a pixel dream's frames, by a state probe plus
  the task rule or by a success classifier, trained on real frames (:func:`train_frame_judge`) and measured on held-out
  real frames (:func:`measure_judge`).
- :mod:`~neural_gym.evaluate.report` — :func:`write_evaluation_report`: a :class:`PolicyEvaluation` as a folder
  (``evaluation.json``, scatter and rank plots, side-by-side videos, ``report.md``, a self-contained ``report.html``),
  all or nothing; :func:`judge_accuracy`: the dream's success rule on the real episodes' final states.

Names are imported on first use, so the metrics (NumPy/SciPy only) load without torch.

Example:
    >>> from neural_gym.evaluate import mmrv
    >>> mmrv(dream=[0.8, 0.4], real=[0.3, 0.5])
    0.2
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from .agreement import (
        EPISODE_FIGURES,
        POLICY_FIGURES,
        agreement_report,
        bootstrap_over_episodes,
        cohen_kappa,
        episode_agreement,
        exploitation_gap,
        inconclusive_share,
        kendall_tau,
        mean_absolute_error,
        mmrv,
        pearson_r,
        spearman_rho,
    )
    from .harness import DREAM_JUDGE, JUDGES, PolicyEpisodes, PolicyEvaluation, evaluate_policies
    from .judges import FrameJudge, load_judge, measure_judge, save_judge, train_frame_judge
    from .paired import PairedEpisodes, paired_episodes
    from .report import judge_accuracy, write_evaluation_report

_WHERE = {
    "DREAM_JUDGE": "harness",
    "JUDGES": "harness",
    "FrameJudge": "judges",
    "load_judge": "judges",
    "measure_judge": "judges",
    "save_judge": "judges",
    "train_frame_judge": "judges",
    "PolicyEpisodes": "harness",
    "PolicyEvaluation": "harness",
    "evaluate_policies": "harness",
    "PairedEpisodes": "paired",
    "paired_episodes": "paired",
    "judge_accuracy": "report",
    "write_evaluation_report": "report",
    "EPISODE_FIGURES": "agreement",
    "POLICY_FIGURES": "agreement",
    "agreement_report": "agreement",
    "bootstrap_over_episodes": "agreement",
    "cohen_kappa": "agreement",
    "episode_agreement": "agreement",
    "exploitation_gap": "agreement",
    "inconclusive_share": "agreement",
    "kendall_tau": "agreement",
    "mean_absolute_error": "agreement",
    "mmrv": "agreement",
    "pearson_r": "agreement",
    "spearman_rho": "agreement",
}

__all__ = [
    "DREAM_JUDGE",
    "JUDGES",
    "FrameJudge",
    "load_judge",
    "measure_judge",
    "save_judge",
    "train_frame_judge",
    "EPISODE_FIGURES",
    "POLICY_FIGURES",
    "PairedEpisodes",
    "PolicyEpisodes",
    "PolicyEvaluation",
    "agreement_report",
    "bootstrap_over_episodes",
    "cohen_kappa",
    "episode_agreement",
    "evaluate_policies",
    "exploitation_gap",
    "inconclusive_share",
    "judge_accuracy",
    "kendall_tau",
    "mean_absolute_error",
    "mmrv",
    "paired_episodes",
    "pearson_r",
    "spearman_rho",
    "write_evaluation_report",
]


def __getattr__(name: str) -> Any:
    """Import public names lazily from their submodule."""
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)


def __dir__() -> list[str]:
    return sorted({*globals(), *_WHERE})
