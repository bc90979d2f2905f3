"""Frame judges for pixel dreams: the probe's verdict is the task rule on the probed state (known frames), training
and held-out measurement on real frames, the checkpoint round trip and its refusals, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from neural_gym.evaluate.judges import (
    JUDGE_KINDS,
    FrameJudge,
    JudgeConfig,
    JudgeError,
    load_judge,
    measure_judge,
    save_judge,
    train_frame_judge,
)

from .pixel_fixtures import SIZE, real_pixel_episodes


@pytest.fixture(scope="module")
def episodes():
    return real_pixel_episodes(12)


@pytest.fixture(scope="module")
def judge(episodes, one_torch_thread) -> FrameJudge:
    return train_frame_judge(episodes, "TabletopReach", steps=30, batch_size=16, seed=0, progress=False)


def _constant_probe(judge: FrameJudge, state: np.ndarray) -> FrameJudge:
    """A copy of ``judge`` whose probe outputs 0 (normalized) for any frame: the probed state is ``state``'s dynamic
    dims, whatever the frame shows."""
    net = type(judge.net)(judge.config, judge.dynamic_dims.size, judge.constant_dims.size)
    net.load_state_dict(judge.net.state_dict())
    with torch.no_grad():
        last = net.probe[-1]
        last.weight.zero_()
        last.bias.zero_()
    return FrameJudge(judge.config, net, state[judge.dynamic_dims], judge.state_std, judge.info)


def test_probe_verdict_is_the_task_rule_on_the_probed_state(episodes, judge) -> None:
    from neural_gym.envs.tabletop import rules

    won = next(ep for ep in episodes if ep.terminations.any())
    success_state, start = won.observations[-1], won.observations[:1]
    assert rules.reach_success(success_state, None, success_state)
    frame = won.frames[:1]
    assert _constant_probe(judge, success_state).success(frame, start, kind="probe").tolist() == [True]
    # the same gripper, far from the target: the rule says no
    far = success_state.copy()
    far[rules.GRIPPER_SLICE] += np.array([0.2, 0.2, 0.1])
    assert _constant_probe(judge, far).success(frame, start, kind="probe").tolist() == [False]
    # the episode-constant dims (which object is the target) come from the start state, not the probe
    states, _ = _constant_probe(judge, far).predict(frame, start)
    np.testing.assert_array_equal(states[0, judge.constant_dims], start[0, judge.constant_dims])


def test_training_records_what_it_was_measured_on(judge, episodes) -> None:
    info = judge.info
    held = info["heldout"]
    assert info["train_episodes"] + info["calibration_episodes"] + info["heldout_episodes"] == len(episodes)
    assert info["classifier_threshold"] == judge.classifier_threshold
    frames = sum(len(ep.observations) for ep in episodes[-info["heldout_episodes"] :])
    for kind in JUDGE_KINDS:
        c = held["frames"][kind]
        assert c["tp"] + c["fp"] + c["tn"] + c["fn"] == c["n"] == frames
        assert held["episodes"][kind]["n"] == info["heldout_episodes"]
    assert np.isfinite(held["probe_rmse_normalized"])


def test_measure_judge_matches_its_own_verdicts(judge, episodes) -> None:
    ep = episodes[0]
    out = measure_judge(judge, [ep])
    said = judge.verdicts(ep.frames, np.repeat(ep.observations[:1], len(ep.frames), axis=0))
    for kind in JUDGE_KINDS:
        assert out["frames"][kind]["tp"] + out["frames"][kind]["fp"] == int(said[kind].sum())
        assert out["episodes"][kind]["tp"] + out["episodes"][kind]["fp"] == int(said[kind].any())


def test_a_few_hundred_steps_learn_the_probe(episodes, one_torch_thread) -> None:
    short = train_frame_judge(episodes, "TabletopReach", steps=5, batch_size=16, seed=1, progress=False)
    longer = train_frame_judge(episodes, "TabletopReach", steps=300, batch_size=16, seed=1, progress=False)
    train = episodes[: longer.info["train_episodes"]]  # 12 episodes are too few to generalize; they can be fitted
    assert (
        measure_judge(longer, train)["probe_rmse_normalized"]
        < 0.8 * measure_judge(short, train)["probe_rmse_normalized"]
    )


def test_round_trip_and_refusals(judge, episodes, tmp_path) -> None:
    path = save_judge(judge, tmp_path / "judge.safetensors")
    back = load_judge(path, task="TabletopReach")
    ep = episodes[1]
    start = np.repeat(ep.observations[:1], len(ep.frames), axis=0)
    a, pa = judge.predict(ep.frames, start)
    b, pb = back.predict(ep.frames, start)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(pa, pb)
    assert back.classifier_threshold == judge.classifier_threshold
    with pytest.raises(JudgeError, match="judges TabletopReach, expected TabletopPush"):
        load_judge(path, task="TabletopPush")
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(path.read_bytes()[:100])
    with pytest.raises(JudgeError, match="truncated or corrupt"):
        load_judge(broken)
    with pytest.raises(JudgeError, match="not a judge"):
        load_judge("world_models/zoo/TabletopReach.safetensors")
    with pytest.raises(JudgeError, match="No shipped judge 'zoo:Nope'"):
        load_judge("zoo:Nope")
    with pytest.raises(JudgeError, match="No judge checkpoint file"):
        load_judge(tmp_path / "missing.safetensors")


def test_bad_input(judge, episodes) -> None:
    ep = episodes[0]
    with pytest.raises(ValueError, match=rf"frames must be uint8 \[B, {SIZE}, {SIZE}, 3\]"):
        judge.predict(ep.frames.astype(np.float32), ep.observations)
    with pytest.raises(ValueError, match="start_states must be finite"):
        judge.predict(ep.frames, ep.observations[:1])
    with pytest.raises(ValueError, match="kind must be one of"):
        judge.success(ep.frames, ep.observations, kind="oracle")
    with pytest.raises(ValueError, match="tabletop task"):
        train_frame_judge(episodes, "Reacher", steps=1, progress=False)
    with pytest.raises(ValueError, match="at least 3 episodes"):
        train_frame_judge(episodes[:2], "TabletopReach", steps=1, progress=False)
    no_frames = [type(ep)(**{**ep.__dict__, "frames": None}) for ep in episodes]
    with pytest.raises(ValueError, match="uint8 frames aligned"):
        train_frame_judge(no_frames, "TabletopReach", steps=1, progress=False)
    with pytest.raises(ValueError, match="tabletop task"):
        FrameJudge(JudgeConfig(task="Reacher"), judge.net, judge.state_mean, judge.state_std)


def test_velocities_are_finite_differences_of_the_probed_positions(judge, episodes) -> None:
    from neural_gym.envs.tabletop import rules

    ep = episodes[0]
    whole = judge.episode_verdicts(ep.frames, ep.observations[0])["states"]
    previous = None
    for t in range(3):  # step by step, as the harness calls it
        step, _ = judge.predict(ep.frames[t : t + 1], ep.observations[:1], previous=previous)
        np.testing.assert_allclose(step[0], whole[t], rtol=1e-4, atol=1e-4)  # batch size changes float rounding
        previous = step
    dt = 0.04  # 20 physics steps of 2 ms
    np.testing.assert_allclose(
        whole[1:, rules.GRIPPER_VEL_SLICE], np.diff(whole[:, rules.GRIPPER_SLICE], axis=0) / dt, rtol=1e-9, atol=1e-12
    )
    np.testing.assert_array_equal(whole[0, rules.GRIPPER_VEL_SLICE], 0.0)
