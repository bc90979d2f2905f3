"""Action recoverability: the figures checked by hand; a model whose rollouts equal the truth scores a ratio of 1 and
a model that never moves more than 1, from the same starts and the same real figures; frames run the same code path;
bad input refused.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from neural_gym.drift import action_recoverability, score_recoverability, train_inverse_model
from neural_gym.drift.inverse_dynamics import InverseDynamicsConfig, InverseDynamicsModel
from neural_gym.envs import collect, load_episodes
from neural_gym.world_models import Prediction, load_checkpoint
from neural_gym.world_models.baselines import CopyLastFrameModel, CopyLastModel

from ..evaluate.pixel_fixtures import real_pixel_episodes, untrained_video_model

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py

TASK = "TabletopReach"
TRAIN_ID = "recoverability/TabletopReach/idm-v0"
HELDOUT_ID = "recoverability/TabletopReach/heldout-v0"
PIXELS_ID = "recoverability/TabletopReach/heldout-pixels32-v0"


class ReplayModel(CopyLastModel):
    """A model whose rollouts are the truth: it looks each (observation, action) up in the recorded episodes."""

    def __init__(self, spec, episodes) -> None:
        super().__init__(spec)
        self.table = {}
        for ep in episodes:
            obs = ep.observations.astype(np.float32)
            act = ep.actions.astype(np.float32)
            for t in range(len(act)):
                self.table[(obs[t].tobytes(), act[t].tobytes())] = obs[t + 1]

    def step(self, state, action, member=None, return_members=False) -> Prediction:
        pred = super().step(state, action)
        rows = [self.table[(o.tobytes(), a.tobytes())] for o, a in zip(state.numpy(), action.numpy(), strict=True)]
        pred.state = torch.as_tensor(np.stack(rows))
        return pred


@pytest.fixture(scope="module")
def data(minari_dir: Path) -> dict:
    """A state IDM trained on 1500 real steps (seed 3000), held-out states (seed 1000) and a model spec."""
    collect(TASK, 1500, policy="expert", action_noise=0.4, seed=3000, dataset_id=TRAIN_ID, progress=False)
    collect(TASK, 300, policy="expert", action_noise=0.4, seed=1000, dataset_id=HELDOUT_ID, progress=False)
    idm, _ = train_inverse_model(load_episodes(TRAIN_ID), task=TASK, steps=300, eval_every=100, progress=False)
    spec = load_checkpoint("zoo:TabletopReach", task=TASK, device="cpu").spec
    return {"idm": idm, "spec": spec, "heldout": load_episodes(HELDOUT_ID)}


def _run(model, idm, **kw) -> dict:
    kw = {"dataset_id": HELDOUT_ID, "n_starts": 12, "horizon": 5, "n_boot": 200, "device": "cpu", **kw}
    return action_recoverability(TASK, model, idm, **kw)


def test_figures_match_a_hand_computation(data: dict) -> None:
    rng = np.random.default_rng(0)
    idm = data["idm"]
    real = np.stack([ep.observations[:6] for ep in data["heldout"][:4]])  # (4, 6, 54)
    actions = np.stack([ep.actions[:5] for ep in data["heldout"][:4]])
    generated = real + rng.normal(0, 0.05, real.shape)
    generated[:, 0] = real[:, 0]
    valid = np.ones((4, 5), dtype=bool)
    valid[3, 2:] = False
    out = score_recoverability(idm, real, generated, actions, valid, n_boot=100)
    target = idm.scale_actions(actions)
    for h in range(5):
        rows = valid[:, h]
        gen = idm.predict(generated[rows, h], generated[rows, h + 1])
        rea = idm.predict(real[rows, h], real[rows, h + 1])
        assert out["generated"]["value"][h] == pytest.approx(np.sqrt(np.mean((gen - target[rows, h]) ** 2)), rel=1e-5)
        assert out["real"]["value"][h] == pytest.approx(np.sqrt(np.mean((rea - target[rows, h]) ** 2)), rel=1e-5)
        base = np.sqrt(np.mean((idm.mean_action - target[rows, h]) ** 2))
        assert out["mean_action"]["value"][h] == pytest.approx(base)
        assert out["ratio"]["value"][h] == pytest.approx(
            out["generated"]["value"][h] / out["real"]["value"][h], rel=1e-5
        )
    np.testing.assert_array_equal(out["alive"], [4, 4, 3, 3, 3])
    assert out["overall"]["steps"] == 17
    lo, hi = out["overall"]["generated"]["low"], out["overall"]["generated"]["high"]
    assert lo <= out["overall"]["generated"]["value"] <= hi
    same = score_recoverability(idm, real, real.copy(), actions, valid, n_boot=100)
    assert same["overall"]["ratio"]["value"] == 1.0 and np.allclose(same["ratio"]["value"], 1.0)


def test_rollouts_equal_to_the_truth_score_one_and_a_frozen_model_more(data: dict) -> None:
    idm = data["idm"]
    replay = _run(ReplayModel(data["spec"], data["heldout"]), idm)
    frozen = _run(CopyLastModel(data["spec"]), idm)
    assert replay["observation"] == "state" and replay["n_starts"] == 12
    for figure in ("real", "mean_action"):  # same starts, same real steps
        assert replay["overall"][figure]["value"] == frozen["overall"][figure]["value"]
        assert replay[figure]["value"] == frozen[figure]["value"]
    assert replay["overall"]["ratio"]["value"] == pytest.approx(1.0, abs=1e-3)
    assert np.allclose(replay["ratio"]["value"], 1.0, atol=1e-3)
    assert replay["overall"]["real"]["value"] < 0.5 * replay["overall"]["mean_action"]["value"]
    assert frozen["overall"]["ratio"]["value"] > 1.5
    assert frozen["overall"]["ratio"]["low"] > 1.0
    assert replay["replay_max_abs_error"] == 0.0 and replay["model_error_steps"] == 0
    assert replay["inverse_model"]["observation"] == "state"


def test_frames_run_the_same_path(minari_dir: Path) -> None:
    collect(
        TASK,
        120,
        policy="expert",
        action_noise=0.4,
        seed=1000,
        obs_mode="pixels",
        image_size=32,
        dataset_id=PIXELS_ID,
        progress=False,
    )
    idm, _ = train_inverse_model(real_pixel_episodes(4), task=TASK, observation="frames", steps=20, progress=False)
    video = untrained_video_model()
    kw = {"dataset_id": PIXELS_ID, "n_starts": 3, "horizon": 3, "n_boot": 50, "device": "cpu"}
    context = int(video.context_length)
    out = action_recoverability(TASK, video, idm, start_context=context, **kw)
    copy = action_recoverability(TASK, CopyLastFrameModel(video.spec), idm, start_context=context, **kw)
    assert out["observation"] == copy["observation"] == "frames"
    assert out["start_context"] == copy["start_context"] == context and copy["context_length"] == 1
    assert out["real"]["value"] == copy["real"]["value"]  # same starts
    assert all(np.isfinite(v) for v in out["generated"]["value"])
    assert np.isfinite(out["overall"]["ratio"]["value"])


def test_bad_input_is_refused(data: dict) -> None:
    idm, spec = data["idm"], data["spec"]
    model = CopyLastModel(spec)
    with pytest.raises(ValueError, match="horizon must be a positive integer"):
        action_recoverability(TASK, model, idm, dataset_id=HELDOUT_ID, horizon=0)
    with pytest.raises(ValueError, match="n_starts must be a positive integer"):
        action_recoverability(TASK, model, idm, dataset_id=HELDOUT_ID, n_starts=0)
    with pytest.raises(ValueError, match="start_context"):
        action_recoverability(TASK, model, idm, dataset_id=HELDOUT_ID, start_context=0)
    other = InverseDynamicsModel(
        InverseDynamicsConfig(task="Hopper", obs_shape=(11,), action_low=(-1.0,) * 3, action_high=(1.0,) * 3)
    )
    with pytest.raises(ValueError, match="reads Hopper transitions, expected TabletopReach"):
        action_recoverability(TASK, model, other, dataset_id=HELDOUT_ID)
    with pytest.raises(ValueError, match=r"\(train_inverse_model\(\.\.\., observation='frames'\)\)"):
        action_recoverability(TASK, untrained_video_model(), idm, dataset_id=HELDOUT_ID)
    with pytest.raises(ValueError, match="training data"):
        action_recoverability(TASK, model, idm, dataset_id=spec.provenance["dataset_id"])
    with pytest.raises(ValueError, match=r"real and generated must be"):
        score_recoverability(idm, np.zeros((2, 4, 54)), np.zeros((2, 3, 54)), np.zeros((2, 3, 4)), np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"valid must be"):
        score_recoverability(idm, np.zeros((2, 4, 54)), np.zeros((2, 4, 54)), np.zeros((2, 3, 4)), np.ones((2, 4)))


def test_drift_reports_carry_it(data: dict, tmp_path: Path) -> None:
    """``measure_drift(..., inverse_model=)`` scores every predictor from the drift's own starts, and the report shows it."""
    from neural_gym.drift import measure_drift, save_inverse_model, write_report

    idm, spec = data["idm"], data["spec"]
    path = save_inverse_model(idm, tmp_path / "idm.safetensors")
    kw = {"dataset_id": HELDOUT_ID, "n_starts": 8, "horizons": (1, 3), "n_boot": 50, "device": "cpu", "progress": False}
    result = measure_drift(TASK, CopyLastModel(spec), baselines=["replay"], inverse_model=path,
                           baseline_models={"replay": ReplayModel(spec, data["heldout"])}, **kw)  # fmt: skip
    rec = result.recoverability
    assert set(rec["predictors"]) == {"copy_last", "replay"} and rec["inverse_model"]["observation"] == "state"
    replay, frozen = rec["predictors"]["replay"]["overall"], rec["predictors"]["copy_last"]["overall"]
    assert replay["real"]["value"] == frozen["real"]["value"]  # the same starts and real steps
    assert replay["ratio"]["value"] == pytest.approx(1.0, abs=1e-3) and frozen["ratio"]["value"] > 1.5
    assert result.to_json()["recoverability"]["predictors"]["replay"]["overall"]["steps"] == replay["steps"]
    md = (write_report(result, tmp_path / "report", video=False, progress=False) / "report.md").read_text()
    assert "## Action recoverability" in md and "| replay |" in md
    assert measure_drift(TASK, CopyLastModel(spec), baselines=[], **kw).recoverability is None
    other = InverseDynamicsModel(
        InverseDynamicsConfig(task="Hopper", obs_shape=(11,), action_low=(-1.0,) * 3, action_high=(1.0,) * 3)
    )
    with pytest.raises(ValueError, match="reads Hopper transitions"):
        measure_drift(TASK, CopyLastModel(spec), baselines=[], inverse_model=other, **kw)


def test_frame_drift_reports_carry_it(minari_dir: Path, tmp_path: Path) -> None:
    from neural_gym.drift import measure_frame_drift, write_frame_report

    collect(TASK, 120, policy="expert", action_noise=0.4, seed=1000, obs_mode="pixels", image_size=32,
            dataset_id=PIXELS_ID, overwrite=True, progress=False)  # fmt: skip
    idm, _ = train_inverse_model(real_pixel_episodes(4), task=TASK, observation="frames", steps=20, progress=False)
    result = measure_frame_drift(TASK, untrained_video_model(), dataset_id=PIXELS_ID, n_starts=3, horizons=(1, 3),
                                 inverse_model=idm, n_boot=20, device="cpu", progress=False)  # fmt: skip
    rec = result.recoverability
    assert set(rec["predictors"]) == {"model", "copy_last"}
    model, copy = rec["predictors"]["model"]["overall"], rec["predictors"]["copy_last"]["overall"]
    assert model["real"]["value"] == copy["real"]["value"] and np.isfinite(model["generated"]["value"])
    md = (write_frame_report(result, tmp_path / "frames", video=False, progress=False) / "report.md").read_text()
    assert "## Action recoverability" in md and "copy last frame" in md


def test_drift_cli_refuses_a_bad_inverse_model_in_one_line(data: dict, tmp_path: Path, capsys) -> None:
    from neural_gym.cli import main

    bad = tmp_path / "not-an-idm.safetensors"
    bad.write_bytes(b"nonsense")
    args = ["drift", "--task", TASK, "--checkpoint", "zoo:TabletopReach", "--dataset-id", HELDOUT_ID, "--starts", "4"]
    assert main([*args, "--inverse-model", str(bad), "--quiet", "--no-video", "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err and "not-an-idm" in err
    assert not (tmp_path / "r").exists()
