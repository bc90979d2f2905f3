"""Frame drift: a perfect stand-in scores capped PSNR / SSIM 1, copy-last-frame degrades, controllability separates a
model that uses its actions from one that ignores them, hand-checked uncertainty figures, bad input, the report folder.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import imageio.v2 as imageio
import numpy as np
import pytest
import torch

from neural_gym.drift import FRAME_REPORT_FILES, FrameDriftResult, measure_frame_drift, write_frame_report
from neural_gym.drift import frame_report as frame_report_module
from neural_gym.drift.cli import main as drift_main
from neural_gym.drift.frames import FrameRenderer, score_frame_uncertainty
from neural_gym.envs import collect, get_physics_state, get_task, load_episodes, set_physics_state
from neural_gym.metrics import PSNR_CAP_DB
from neural_gym.world_models import LatentModel, ModelSpec, Prediction, WorldModel, save_checkpoint
from neural_gym.world_models.baselines import CopyLastFrameModel
from neural_gym.world_models.latent import preset

SIZE = 32
PIXELS_ID = "frames/Reacher/pixels32-v0"
STATES_ID = "frames/Reacher/states-v0"


def reacher_spec(size: int = SIZE) -> ModelSpec:
    return ModelSpec(
        family="oracle",
        task="Reacher",
        task_env_id="Reacher-v5",
        obs_shape=(size, size, 3),
        action_dim=2,
        action_low=[-1.0, -1.0],
        action_high=[1.0, 1.0],
        ensemble_size=2,
        elites=[0, 1],
    )


@dataclass
class OracleState:
    physics: np.ndarray  # (B, S)
    frames: torch.Tensor  # (B, H, W, 3) float32


class PhysicsOracle(WorldModel):
    """Test-only "model" that predicts by stepping and re-rendering the true physics.

    It finds the physics state of each start by looking its context (last frame + actions) up in the held-out
    episodes, so its frames equal the ground-truth renders whenever it is given the recorded actions.
    """

    def __init__(self, episodes: list[Any], context: int = 2) -> None:
        super().__init__()
        self.spec = reacher_spec()
        self.k = context
        self.register_buffer("_anchor", torch.zeros(0))
        self.renderer: FrameRenderer | None = None
        self.index: dict[bytes, np.ndarray] = {}
        for ep in episodes:
            for t in range(context - 1, len(ep) + 1):
                self.index[self._key(ep.frames[t], ep.actions[t - context + 1 : t])] = ep.physics_states[t]

    @property
    def device(self) -> torch.device:
        return self._anchor.device

    @property
    def context_length(self) -> int:
        return self.k

    @staticmethod
    def _key(frame: np.ndarray, actions: np.ndarray) -> bytes:
        return np.asarray(frame, np.uint8).tobytes() + np.asarray(actions, np.float32).tobytes()

    def initial_state_from_history(self, observations: torch.Tensor, actions: torch.Tensor) -> OracleState:
        if self.renderer is None:
            self.renderer = FrameRenderer(get_task("Reacher"), (SIZE, SIZE, 3))
        frames, acts = observations.cpu().numpy(), actions.cpu().numpy()
        physics = np.stack([self.index[self._key(f[-1], a)] for f, a in zip(frames, acts, strict=True)])
        return OracleState(physics, observations[:, -1].float())

    def initial_state(self, context: torch.Tensor) -> OracleState:
        raise NotImplementedError("the oracle needs the action history")

    def step(
        self, state: OracleState, action: torch.Tensor, member: torch.Tensor | None = None, return_members: bool = False
    ) -> Prediction:
        physics, frames = [], []
        assert self.renderer is not None
        env = self.renderer.env
        for s, a in zip(state.physics, action.cpu().numpy(), strict=True):
            set_physics_state(env, s)
            env.unwrapped.step(a.astype(env.action_space.dtype))
            physics.append(get_physics_state(env))
            frames.append(self.renderer.render(physics[-1]))
        B = len(physics)
        zeros = torch.zeros(B)
        return Prediction(
            OracleState(np.stack(physics), torch.as_tensor(np.stack(frames)).float()),
            zeros,
            zeros.clone(),
            disagreement=torch.full((B,), 0.5),
        )

    def observe(self, state: OracleState) -> torch.Tensor:
        return state.frames


class _StateStub(WorldModel):
    """A state-vector model (only its spec matters)."""

    def __init__(self, spec: ModelSpec) -> None:
        super().__init__()
        self.spec = spec
        self.register_buffer("_anchor", torch.zeros(0))

    @property
    def device(self) -> torch.device:
        return self._anchor.device

    def initial_state(self, context: torch.Tensor) -> torch.Tensor:
        return context

    def step(self, state: Any, action: torch.Tensor, member: Any = None, return_members: bool = False) -> Prediction:
        raise AssertionError("never stepped")

    def observe(self, state: torch.Tensor) -> torch.Tensor:
        return state


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py


@pytest.fixture(scope="module")
def pixel_data(minari_dir: Path) -> list[Any]:
    """Held-out Reacher pixel episodes (32×32, random policy, seed 1000) and a state-only dataset."""
    collect("Reacher", 400, seed=1000, dataset_id=PIXELS_ID, obs_mode="pixels", image_size=SIZE, progress=False)
    collect("Reacher", 60, seed=1001, dataset_id=STATES_ID, progress=False)
    return load_episodes(PIXELS_ID)


def run(model: WorldModel, **kw: Any) -> FrameDriftResult:
    args: dict[str, Any] = {
        "dataset_id": PIXELS_ID,
        "n_starts": 6,
        "horizons": (1, 5, 10),
        "n_boot": 100,
        "progress": False,
        "device": "cpu",
    }
    return measure_frame_drift("Reacher", model, **(args | kw))


@pytest.fixture(scope="module")
def oracle_result(pixel_data: list[Any]) -> FrameDriftResult:
    oracle = PhysicsOracle(pixel_data)
    result = run(oracle)
    assert oracle.renderer is not None
    oracle.renderer.close()
    return result


def test_perfect_model_scores_capped_psnr_and_ssim_one(oracle_result: FrameDriftResult) -> None:
    r = oracle_result
    assert r.meta["render_max_abs_diff"] == 0  # renders of restored states equal the recorded frames
    assert r.meta["replay_max_abs_error"] == 0.0
    assert r.meta["context"] == 2 and r.meta["n_starts"] == 6 and r.horizons == [1, 5, 10]
    model = r.predictors["model"]
    assert model["psnr"]["value"] == [PSNR_CAP_DB] * 3
    assert model["psnr_by_step"]["low"] == [PSNR_CAP_DB] * 10
    np.testing.assert_allclose(model["ssim"]["value"], 1.0)
    assert model["model_errors"] == 0
    # copy-last-frame degrades with the horizon on a moving task
    copy = r.predictors["copy_last"]
    assert copy["psnr"]["value"][0] > copy["psnr"]["value"][-1]
    assert copy["ssim"]["value"][0] > copy["ssim"]["value"][-1]
    assert max(copy["psnr"]["value"]) < 60
    # a model that follows its actions is controllable: shuffled actions lead elsewhere
    ctl = r.controllability
    assert all(lo > 0 for lo in ctl["psnr"]["low"]) and all(v > 0 for v in ctl["ssim"]["value"])
    perm = np.asarray(r.meta["shuffle_permutation"])
    assert sorted(perm.tolist()) == list(range(6)) and (perm != np.arange(6)).all()  # no start keeps its actions
    # constant disagreement, no frame below tau: undefined figures are flagged, not errors
    assert r.uncertainty is not None and r.uncertainty["psnr_below_tau"] == 0
    assert "one class" in r.uncertainty["auroc_note"]
    assert r.uncertainty["trusted_horizon"]["censored_share"] == 1.0
    assert "PSNR h=5" in r.summary_table() and "controllability" in r.summary_table()


def test_action_blind_model_has_no_controllability(pixel_data: list[Any]) -> None:
    # fresh held-out collection path (dataset_id=None), default horizons cut to what 50-step episodes reach
    r = run(CopyLastFrameModel(reacher_spec()), dataset_id=None, horizons=None, heldout_steps=150, n_starts=4, seed=7)
    assert r.meta["heldout"] == {"collected": True, "steps": 150, "policy": "random", "seed": 7}
    assert r.meta["render_max_abs_diff"] == 0
    assert r.horizons == [1, 5, 10, 25] and "50" in r.meta["skipped_horizons"]
    assert r.controllability["psnr"]["value"] == [0.0] * 4
    assert r.controllability["ssim"]["value"] == [0.0] * 4
    assert r.predictors["model"]["psnr"] == r.predictors["copy_last"]["psnr"]
    assert r.uncertainty is not None and r.uncertainty["dream_horizon"] is None  # no calibrated threshold
    assert any("no calibrated threshold" in n for n in r.meta["notes"])
    json.dumps(r.to_json(), allow_nan=False)


def test_uncertainty_figures_hand_computed() -> None:
    # 2 starts × 3 steps; PSNR falls below tau=20 exactly where disagreement is high
    psnr = np.array([[30.0, 25.0, 15.0], [28.0, 18.0, 12.0]])
    dis = np.array([[0.1, 0.2, 0.9], [0.15, 0.8, 1.0]])
    valid = np.ones((2, 3), dtype=bool)
    out = score_frame_uncertainty(dis, psnr, valid, threshold=0.5, tau_psnr=20.0, n_boot=50, seed=0)
    assert out is not None
    assert out["pairs"] == 6 and out["psnr_below_tau"] == 3
    assert out["auroc"]["value"] == 1.0 and out["auroc_note"] is None
    assert out["spearman"]["value"] == pytest.approx(1.0)  # disagreement ranks exactly as −PSNR
    assert out["justified_share"]["value"] == 1.0 and out["justified_share"]["cutoffs"] == 3
    assert out["trusted_horizon"]["per_start"] == [2, 1] and out["dream_horizon"]["per_start"] == [2, 1]
    assert out["cut_no_later_than_error"] == 1.0
    # a threshold that never fires
    never = score_frame_uncertainty(dis, psnr, valid, threshold=5.0, tau_psnr=20.0, n_boot=20)
    assert never is not None and never["justified_share"]["value"] is not None
    assert np.isnan(never["justified_share"]["value"]) and "never exceeded" in never["justified_note"]
    assert score_frame_uncertainty(np.full((2, 3), np.nan), psnr, valid, 0.5, 20.0) is None


def test_bad_arguments_raise_clear_errors(pixel_data: list[Any]) -> None:
    copy = CopyLastFrameModel(reacher_spec())
    with pytest.raises(ValueError, match="positive integers"):
        run(copy, horizons=(0, 5))
    with pytest.raises(ValueError, match="max_horizon"):
        run(copy, horizons=(1, 10), max_horizon=5)
    with pytest.raises(ValueError, match="longer than any recorded window"):
        run(copy, horizons=(1, 60))
    with pytest.raises(ValueError, match="n_starts"):
        run(copy, n_starts=0)
    with pytest.raises(ValueError, match="tau_psnr"):
        run(copy, tau_psnr=float("nan"))
    with pytest.raises(ValueError, match="no frames"):
        run(copy, dataset_id=STATES_ID)
    with pytest.raises(ValueError, match=r"\(64, 64, 3\) frames"):
        run(CopyLastFrameModel(reacher_spec(64)))
    with pytest.raises(ValueError, match="seed 0"):
        run(copy, dataset_id=None, seed=0)
    state_spec = ModelSpec("ensemble", "Reacher", "Reacher-v5", (10,), 2, [-1.0, -1.0], [1.0, 1.0], 2, [0, 1])
    with pytest.raises(ValueError, match="measure_drift for state models"):
        run(_StateStub(state_spec))
    with pytest.raises(ValueError, match="expected InvertedPendulum"):
        measure_frame_drift("InvertedPendulum", copy, dataset_id=PIXELS_ID, progress=False)
    with pytest.raises(ValueError, match="obs_shape"):
        CopyLastFrameModel(state_spec)


def test_report_folder_is_complete_and_atomic(
    oracle_result: FrameDriftResult, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = write_frame_report(oracle_result, tmp_path / "report", video_starts=3, upscale=2)
    assert sorted(os.listdir(out)) == sorted(FRAME_REPORT_FILES.values())
    payload = json.loads((out / FRAME_REPORT_FILES["json"]).read_text())
    assert payload["predictors"]["model"]["psnr"]["value"] == [PSNR_CAP_DB] * 3
    assert "NaN" not in (out / FRAME_REPORT_FILES["json"]).read_text()
    frames = imageio.mimread(out / FRAME_REPORT_FILES["video"])
    assert len(frames) == oracle_result.max_horizon + 1
    assert frames[0].shape[:2] == (3 * 2 * SIZE, 3 * 2 * SIZE)  # 3 starts × (truth | model | diff), 2× upscaled
    md = (out / FRAME_REPORT_FILES["markdown"]).read_text()
    assert "Controllability" in md and FRAME_REPORT_FILES["video"] in md
    with pytest.raises(FileExistsError):
        write_frame_report(oracle_result, out, overwrite=False)

    def broken(*args: Any, **kwargs: Any) -> str:
        raise RuntimeError("video failed")

    monkeypatch.setattr(frame_report_module, "write_frame_video", broken)
    with pytest.raises(RuntimeError, match="video failed"):
        write_frame_report(oracle_result, tmp_path / "never")
    with pytest.raises(RuntimeError, match="video failed"):
        write_frame_report(oracle_result, out)  # the complete report stays as it was
    assert not (tmp_path / "never").exists() and sorted(os.listdir(out)) == sorted(FRAME_REPORT_FILES.values())
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_cli_takes_the_frame_path_for_a_pixel_checkpoint(
    pixel_data: list[Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = LatentModel(
        task="Reacher",
        task_env_id="Reacher-v5",
        obs_shape=(SIZE, SIZE, 3),
        action_dim=2,
        action_low=[-1.0, -1.0],
        action_high=[1.0, 1.0],
        config=preset("debug", obs_kind="pixels", image_size=SIZE),
    )
    model.spec.calibration.thresholds = {model.spec.calibration.measure: 1.0}  # uncalibrated checkpoints are refused
    path = save_checkpoint(model, tmp_path / "latent.safetensors")
    out = tmp_path / "cli"
    args = ["drift", "--task", "Reacher", "--checkpoint", str(path), "--dataset-id", PIXELS_ID, "--starts", "3"]
    args += ["--horizons", "1,3", "--n-boot", "20", "--out", str(out), "--no-video", "--quiet", "--device", "cpu"]
    assert drift_main(args) == 0
    assert "controllability" in capsys.readouterr().out
    payload = json.loads((out / FRAME_REPORT_FILES["json"]).read_text())
    assert payload["family"] == "latent" and payload["context"] == model.context_length
    assert drift_main([*args, "--reground-every", "1"]) == 2
    assert "state checkpoints only" in capsys.readouterr().err


def test_state_probe_error_by_horizon_for_a_video_model(pixel_data: list[Any], oracle_result: FrameDriftResult) -> None:
    from neural_gym.world_models import VideoModel
    from neural_gym.world_models.video import preset as video_preset

    assert oracle_result.probe is None and oracle_result.to_json()["probe"] is None  # no probe, no figures
    model = VideoModel(
        task="Reacher",
        task_env_id="Reacher-v5",
        obs_shape=(SIZE, SIZE, 3),
        action_dim=2,
        action_low=[-1.0, -1.0],
        action_high=[1.0, 1.0],
        config=video_preset("debug", image_size=SIZE, state_dim=10),
    )
    states = np.concatenate([ep.observations for ep in pixel_data])
    model.set_normalization(states=states)
    r = run(model.eval(), n_starts=3, horizons=(1, 5))
    assert r.meta["context"] == model.context_length
    probe = r.probe
    assert probe is not None and probe["state_dim"] == 10 and "training" in probe["normalization"]
    assert len(probe["model"]["value"]) == 2 and len(probe["floor_by_step"]["value"]) == 5
    assert all(np.isfinite(v) and v > 0 for v in probe["model"]["value"] + probe["floor"]["value"])
    # the untrained probe reads every frame as the same state; on the untouched start-like frames model ≈ floor
    assert probe["model"]["value"][0] == pytest.approx(probe["floor"]["value"][0], rel=0.2)
    json.dumps(r.to_json(), allow_nan=False)
