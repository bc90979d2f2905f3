"""The data engine: dreamt demos (shapes, seeding, the success filter), the Minari export round trip, refusals.

A tiny debug WAM (20 steps on 6 reach episodes) carries the plumbing; the filter is tested with a WAM whose
``imagine`` is replaced by a scripted one that reaches the instructed object in some episodes and not in others.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from neural_gym.dream_rl.data_engine import DreamDemo, dream_demos, export_minari, main
from neural_gym.envs.tabletop import TabletopEnv, rules
from neural_gym.policies.vla.data import check_demos, load_demos
from tests.neural_gym.wam_fixtures import tiny_wam

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def wam():
    return tiny_wam(steps=20)


def test_demos_have_the_vla_layout_and_start_from_the_real_reset(wam):
    result = dream_demos(wam, "reach", n_episodes=3, seed=5, max_steps=6, keep="all", progress=False)
    assert result.attempted == 3 and len(result.demos) == 3 and result.kept_share == 1.0
    check_demos(result.demos, 64)  # what train_vla checks
    env = TabletopEnv(task="reach", obs_mode="dict")
    for i, d in enumerate(result.demos):
        t = len(d)
        assert 1 <= t <= 6
        assert d.frames.shape == (t + 1, 64, 64, 3) and d.frames.dtype == np.uint8
        assert d.observations.shape == (t + 1, 54) and d.actions.shape == (t, 4) and d.actions.dtype == np.float32
        assert d.rewards.shape == (t,) and d.physics_states.shape[0] == t + 1
        assert np.all(np.abs(d.actions) <= 1.0) and np.isfinite(d.observations).all()
        obs, info = env.reset(seed=5 + i)
        assert d.seed == 5 + i and d.instruction == info["instruction"]
        np.testing.assert_array_equal(d.observations[0], obs["state"])  # the real start state, exactly
        np.testing.assert_array_equal(d.frames[0], obs["pixels"])  # the real renderer's frame of it
        # every frame is the real renderer's image of the stored physics state
        env.unwrapped.set_physics_state(d.physics_states[-1])
        np.testing.assert_array_equal(env.render(), d.frames[-1])
        assert d.physics_states[-1][-2] == t  # elapsed_steps
    env.close()
    assert set(result.wall_s) == {"imagine", "label", "render", "total"}


def test_same_seed_same_demos_other_seed_other_demos(wam):
    def run(seed, noise=True):
        r = dream_demos(wam, n_episodes=2, seed=seed, max_steps=5, keep="all", sample_noise=noise, progress=False)
        return r.demos

    a, b, c = run(0), run(0), run(1)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x.observations, y.observations)
        np.testing.assert_array_equal(x.actions, y.actions)
        np.testing.assert_array_equal(x.frames, y.frames)
    assert not np.array_equal(a[0].observations[1:], c[0].observations[1:])  # other start and other noise
    state = torch.random.get_rng_state()
    z1, z2 = run(0, noise=False), run(0, noise=False)
    assert torch.equal(state, torch.random.get_rng_state())  # the global RNG is left alone
    np.testing.assert_array_equal(z1[0].actions, z2[0].actions)
    assert not np.array_equal(z1[0].actions, a[0].actions)  # zero start noise is another path


class ScriptedImagination:
    """Stands in for ``WAMModel.imagine``: the gripper moves 1 cm a step towards the instructed object in the rows
    whose instruction is about the ``target`` object, and stays put in the others."""

    def __init__(self, target: str, k: int) -> None:
        self.target, self.k = target, k

    def __call__(self, obs, instruction, *, generator=None):
        o = obs.clone().double()
        out = []
        for _ in range(self.k):
            goal = rules.target_object_position(o)
            step = goal - o[:, :3]
            dist = step.norm(dim=1, keepdim=True)
            step = step * dist.clamp(max=0.01) / dist.clamp(min=1e-9)
            moving = torch.tensor([self.target in text for text in instruction])[:, None]
            o = o.clone()
            o[:, :3] += torch.where(moving, step, torch.zeros_like(step))
            out.append(o.float())
        return torch.stack(out, dim=1)


def test_the_success_filter_keeps_exactly_the_episodes_the_rule_calls_successful(wam, monkeypatch):
    monkeypatch.setattr(wam, "imagine", ScriptedImagination("blue", wam.config.future_steps))
    every = dream_demos(wam, n_episodes=12, seed=0, max_steps=40, keep="all", progress=False)
    flags = [d.success for d in every.demos]
    assert any(flags) and not all(flags), flags  # the scripted dream reaches in some episodes only
    for d in every.demos:
        hit = rules.reach_success(d.observations[:-1], np.zeros((len(d), 4)), d.observations[1:])
        assert d.success == bool(hit[-1]) and not hit[:-1].any()  # ends at its first success, else runs out
        assert d.success or len(d) == 40
        assert d.success == ("blue" in d.instruction)
    kept = dream_demos(wam, n_episodes=12, seed=0, max_steps=40, keep="success", progress=False)
    assert [d.seed for d in kept.demos] == [d.seed for d in every.demos if d.success]
    assert kept.successes == every.successes == sum(flags)
    assert kept.kept_share == pytest.approx(sum(flags) / 12) and every.success_share == kept.kept_share


def test_the_minari_export_round_trips_through_load_demos(wam, minari_dir):
    demos = dream_demos(wam, n_episodes=3, seed=0, max_steps=4, keep="all", progress=False).demos
    dataset_id = export_minari(demos, "test/TabletopReach/dream-v0")
    loaded = load_demos(dataset_id)
    assert len(loaded) == len(demos)
    for d, e in zip(demos, loaded, strict=True):
        np.testing.assert_array_equal(e.frames, d.frames)
        np.testing.assert_array_equal(e.observations, d.observations)
        np.testing.assert_array_equal(e.actions, d.actions)
        np.testing.assert_array_equal(e.rewards, d.rewards)
        np.testing.assert_array_equal(e.physics_states, d.physics_states)
        assert e.instruction == d.instruction
        assert bool(e.terminations[-1]) == d.success and bool(e.truncations[-1]) != d.success
    with pytest.raises(FileExistsError, match="overwrite"):
        export_minari(demos, dataset_id)
    export_minari(demos[:1], dataset_id, overwrite=True)
    assert len(load_demos(dataset_id)) == 1


def test_bad_input_is_refused(wam, minari_dir):
    with pytest.raises(ValueError, match="keep"):
        dream_demos(wam, n_episodes=1, keep="best", progress=False)
    with pytest.raises(ValueError, match="n_episodes"):
        dream_demos(wam, n_episodes=0, progress=False)
    with pytest.raises(TypeError, match="n_episodes"):
        dream_demos(wam, n_episodes=2.5, progress=False)
    with pytest.raises(ValueError, match="max_steps"):
        dream_demos(wam, n_episodes=1, max_steps=0, progress=False)
    with pytest.raises(ValueError, match="family"):
        dream_demos(wam, "stack", n_episodes=1, progress=False)
    with pytest.raises(ValueError, match="TabletopReach"):
        dream_demos(wam, "push", n_episodes=1, progress=False)
    with pytest.raises(TypeError, match="WAMModel"):
        dream_demos(object(), n_episodes=1, progress=False)
    with pytest.raises(ValueError, match="at least one"):
        export_minari([], "test/TabletopReach/empty-v0")
    demo = dream_demos(wam, n_episodes=1, max_steps=3, keep="all", progress=False).demos[0]
    with pytest.raises(ValueError, match=r"T \+ 1"):
        export_minari([DreamDemo(**{**demo.__dict__, "frames": demo.frames[:-1]})], "test/TabletopReach/bad-v0")
    with pytest.raises(TypeError, match="DreamDemo"):
        export_minari([object()], "test/TabletopReach/bad-v0")


def test_the_command_line_writes_a_dataset_and_fails_in_one_line(wam, minari_dir, tmp_path, capsys):
    from neural_gym.world_models import save_checkpoint

    path = tmp_path / "wam.safetensors"
    save_checkpoint(wam, path)
    argv = ["--episodes", "2", "--max-steps", "3", "--keep", "all", "--checkpoint", str(path), "--quiet"]
    assert main([*argv, "--out-dataset", "test/TabletopReach/cli-dream-v0"]) == 0
    assert '"kept": 2' in capsys.readouterr().out
    assert len(load_demos("test/TabletopReach/cli-dream-v0")) == 2
    assert main([*argv, "--out-dataset", "test/TabletopReach/cli-dream-v0"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "already exists" in err and "\n" not in err
    assert main(["--episodes", "1", "--checkpoint", str(tmp_path / "none.safetensors"), "--out-dataset", "a/b-v0"]) == 2
    assert capsys.readouterr().err.startswith("error:")
