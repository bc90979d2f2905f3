# `make demo` and `make test` create (or reuse) .venv, install what they need, and run.
# torch comes from $(TORCH_SPEC); the default pins the CPU build available offline on the project's machines.
# Elsewhere: `make test TORCH_SPEC=torch` (or any pip requirement for torch).

PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip
export MUJOCO_GL ?= egl
export MINARI_DATASETS_PATH ?= $(CURDIR)/data/minari

# Steps of ground-truth data behind each shipped checkpoint (see world_models/zoo/README.md).
ZOO_TASKS := InvertedPendulum Reacher HalfCheetah Hopper Pusher Walker2d KukaReach
ZOO_STEPS_InvertedPendulum := 20000
ZOO_STEPS_Reacher := 30000
ZOO_STEPS_HalfCheetah := 50000
ZOO_STEPS_Hopper := 50000
ZOO_STEPS_Pusher := 50000
ZOO_STEPS_Walker2d := 50000
ZOO_STEPS_KukaReach := 30000
# Data policy per task (default: uniform random). InvertedPendulum's random episodes last ~7 steps, so its dream
# would know nothing of balancing; its scripted expert with heavy action noise covers both (envs/experts.py).
ZOO_POLICY_InvertedPendulum := expert --action-noise 0.6
ZOO_LABEL_InvertedPendulum := expert
# KukaReach (PyBullet, the `bullet` extra): under random joint velocities the end effector came within 5 cm of the
# target in none of 10 episodes, so the dream would know nothing of reaching; the scripted expert with action noise
# 0.5 ends within 5 cm in about 2/3 of its episodes and still wanders the arm's space.
ZOO_POLICY_KukaReach := expert --action-noise 0.5
ZOO_LABEL_KukaReach := expert
# The tabletop suite: the scripted expert with action noise 0.4 (it still solves most episodes) and some episodes
# under a uniform random policy (a fifth for reach, a tenth for push and pick_place), so the dream knows both solving
# and aimless motion; smaller ensembles (5 members) keep the 54-dim checkpoints under 4 MB. Push and pick_place get
# twice the data and a patience of 10 epochs (their contacts are harder to learn).
ZOO_TASKS += TabletopReach TabletopPush TabletopPickPlace
ZOO_STEPS_TabletopReach := 30000
ZOO_STEPS_TabletopPush := 60000
ZOO_STEPS_TabletopPickPlace := 60000
ZOO_POLICY_TabletopReach := expert --action-noise 0.4 --random-fraction 0.2
ZOO_POLICY_TabletopPush := expert --action-noise 0.4 --random-fraction 0.1
ZOO_POLICY_TabletopPickPlace := expert --action-noise 0.4 --random-fraction 0.1
ZOO_LABEL_TabletopReach := expert
ZOO_LABEL_TabletopPush := expert
ZOO_LABEL_TabletopPickPlace := expert
ZOO_TRAIN_TabletopReach := --members 5 --elites 4 --max-epochs 100 --quiet
ZOO_TRAIN_TabletopPush := --members 5 --elites 4 --max-epochs 100 --patience 10 --quiet
ZOO_TRAIN_TabletopPickPlace := --members 5 --elites 4 --max-epochs 100 --patience 10 --quiet

.PHONY: demo test test-fast test-metaworld lint bench bench-manipulation bench-peers bench-dream-rl bench-latent bench-video zoo zoo-calibrate zoo-latent zoo-video zoo-pixel-tabletop vla-zoo clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed-%: pyproject.toml | $(BIN)/python
	$(PIP) install -q --upgrade pip
	$(PIP) install -q "$(TORCH_SPEC)"
	$(PIP) install -q -e ".[$*]"
	touch $@

demo: $(VENV)/.installed-test
	$(BIN)/neural-gym demo

# CI installs the optional PyBullet extra so the PyBullet task is tested too, and runs every test (slow ones included).
test: $(VENV)/.installed-test,bullet
	$(BIN)/python -m pytest -q

# The quick loop while editing: skips the tests marked slow (model-quality and kill tests, a few seconds each).
test-fast: $(VENV)/.installed-test,bullet
	$(BIN)/python -m pytest -q -m "not slow"

# Meta-World (the `metaworld` extra) pins mujoco==3.3.0, so it gets a venv of its own, built on first use with torch
# from $(TORCH_SPEC); the Meta-World tests run there (in .venv they skip with the install hint).
METAWORLD_VENV ?= .venv-metaworld

$(METAWORLD_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(METAWORLD_VENV)
	$(METAWORLD_VENV)/bin/python -m pip install -q --upgrade pip
	$(METAWORLD_VENV)/bin/python -m pip install -q "$(TORCH_SPEC)"
	$(METAWORLD_VENV)/bin/python -m pip install -q -e ".[metaworld,test]"
	touch $@

test-metaworld: $(METAWORLD_VENV)/.installed
	OMP_NUM_THREADS=1 $(METAWORLD_VENV)/bin/python -m pytest -q tests/envs/test_metaworld.py

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .

bench: $(VENV)/.installed-test
	$(BIN)/python benchmarks/throughput.py
	$(BIN)/python benchmarks/drift.py

# DreamVectorEnv against mbrl-lib's ModelEnv and torchrl's ModelBasedEnvBase; mbrl (which pins old gymnasium and hydra
# releases) gets its own venv, built on first use with torch from $(TORCH_SPEC).
MBRL_VENV ?= benchmarks/.venv-mbrl

$(MBRL_VENV)/.installed: | $(VENV)/.installed-test
	$(BIN)/python benchmarks/peers.py --setup-only --mbrl-venv $(MBRL_VENV) --torch-spec "$(TORCH_SPEC)"

bench-peers: $(VENV)/.installed-test $(MBRL_VENV)/.installed
	$(BIN)/python benchmarks/peers.py --mbrl-venv $(MBRL_VENV)

# The tabletop suite (speed, scripted experts) and the shipped VLA ladder's ground-truth success, 100 episodes per
# policy on seen and held-out instructions: about 25 minutes on 2 CPU cores.
bench-manipulation: $(VENV)/.installed-test
	OMP_NUM_THREADS=1 $(BIN)/python benchmarks/manipulation.py --ladder

bench-latent: $(VENV)/.installed-test
	$(BIN)/python benchmarks/latent.py

bench-video: $(VENV)/.installed-test
	$(BIN)/python benchmarks/video.py

# Not part of `bench`: the default budgets (3 tasks x 3 seeds, dyna vs real-env SAC) take about 18 h on 2 CPU cores;
# benchmarks/results/dream_rl/README.md gives the smaller budgets behind the committed results.
bench-dream-rl: $(VENV)/.installed-test
	$(BIN)/python benchmarks/dream_rl.py

# One task at a time: `make zoo ZOO_TASKS=Hopper`.
define ZOO_ONE
	$(BIN)/neural-gym collect --task $(1) --steps $(ZOO_STEPS_$(1)) --policy $(or $(ZOO_POLICY_$(1)),random) --seed 0 \
	  --overwrite --dataset-id neural_gym/$(1)/$(or $(ZOO_LABEL_$(1)),random)-v0
	$(BIN)/neural-gym train --task $(1) --dataset-id neural_gym/$(1)/$(or $(ZOO_LABEL_$(1)),random)-v0 --seed 0 \
	  $(ZOO_TRAIN_$(1)) --out world_models/zoo/$(1).safetensors

endef

# Rollout calibration of the six MuJoCo ensembles (their Dream envs' default cut-off, and uncertainty_risk=alpha): a
# fresh held-out collection with each training policy and seed 2000 (never the training seed 0, nor the seed 1000 the
# benchmarks score on), then `neural-gym calibrate` in place: signal and split-conformal threshold chosen on 64 of 128
# open-loop rollouts of 100 steps, figures on the other 64 (stored in the checkpoint beside what they were scored on).
# Actions as benchmarks/drift.py's `auto`: a uniform random policy on the tasks that never terminate and were trained
# on random data (rollouts run the whole 100 steps, past Reacher's 50-step episodes), else the recorded ones.
ZOO_CALIBRATE_TASKS := InvertedPendulum Reacher HalfCheetah Hopper Pusher Walker2d
ZOO_CALIBRATE_ACTIONS_Reacher := random
ZOO_CALIBRATE_ACTIONS_HalfCheetah := random
ZOO_CALIBRATE_ACTIONS_Pusher := random
define ZOO_CALIBRATE_ONE
	$(BIN)/neural-gym collect --task $(1) --steps 10000 --policy $(or $(ZOO_POLICY_$(1)),random) --seed 2000 \
	  --overwrite --quiet --dataset-id neural_gym/$(1)/calibration-s2000-v0
	OMP_NUM_THREADS=1 $(BIN)/neural-gym calibrate --task $(1) --checkpoint world_models/zoo/$(1).safetensors \
	  --dataset-id neural_gym/$(1)/calibration-s2000-v0 --episodes 128 --horizon 100 --alpha 0.1 --seed 0 \
	  --actions $(or $(ZOO_CALIBRATE_ACTIONS_$(1)),recorded) --device cpu --quiet --overwrite \
	  --out world_models/zoo/$(1).safetensors

endef

zoo: $(VENV)/.installed-test,bullet
	$(foreach t,$(ZOO_TASKS),$(call ZOO_ONE,$(t)))
	$(foreach t,$(filter $(ZOO_CALIBRATE_TASKS),$(ZOO_TASKS)),$(call ZOO_CALIBRATE_ONE,$(t)))
	$(BIN)/python -m neural_gym.world_models.zoo

# Only the calibration of the shipped ensembles (`make zoo-calibrate ZOO_CALIBRATE_TASKS=Hopper` for one): minutes.
zoo-calibrate: $(VENV)/.installed-test
	$(foreach t,$(ZOO_CALIBRATE_TASKS),$(call ZOO_CALIBRATE_ONE,$(t)))
	$(BIN)/python -m neural_gym.world_models.zoo

# The shipped latent (RSSM) checkpoints: from state on Reacher and InvertedPendulum, from 64x64 frames on Reacher.
# Reuses the ensembles' datasets when `make zoo` wrote them (collect --overwrite makes the same data again otherwise).
zoo-latent: $(VENV)/.installed-test
	$(BIN)/neural-gym collect --task Reacher --steps 30000 --policy random --seed 0 --overwrite \
	  --dataset-id neural_gym/Reacher/random-v0
	$(BIN)/neural-gym collect --task InvertedPendulum --steps 20000 --policy expert --action-noise 0.6 --seed 0 \
	  --overwrite --dataset-id neural_gym/InvertedPendulum/expert-v0
	$(BIN)/neural-gym collect --task Reacher --steps 20000 --policy random --seed 0 --obs-mode pixels \
	  --image-size 64 --overwrite --dataset-id neural_gym/Reacher/random-pixels64-v0
	$(BIN)/neural-gym train --task Reacher --dataset-id neural_gym/Reacher/random-v0 --family latent --obs state \
	  --preset small --steps 3000 --seed 0 --quiet --out world_models/zoo/Reacher-latent.safetensors
	$(BIN)/neural-gym train --task InvertedPendulum --dataset-id neural_gym/InvertedPendulum/expert-v0 \
	  --family latent --obs state --preset small --steps 3000 --seed 0 --quiet \
	  --out world_models/zoo/InvertedPendulum-latent.safetensors
	$(BIN)/neural-gym train --task Reacher --dataset-id neural_gym/Reacher/random-pixels64-v0 --family latent \
	  --obs pixels --preset small --conv-depth 8 --steps 2500 --seq-len 32 --seed 0 \
	  --out world_models/zoo/Reacher-latent-pixels.safetensors
	$(BIN)/python -m neural_gym.world_models.zoo

# The shipped video checkpoint (DIAMOND-style generator on 64x64 Reacher frames; the states train its probe).
zoo-video: $(VENV)/.installed-test
	$(BIN)/neural-gym collect --task Reacher --steps 20000 --policy random --seed 0 --obs-mode pixels \
	  --image-size 64 --overwrite --dataset-id neural_gym/Reacher/random-pixels64-v0
	$(BIN)/neural-gym train --task Reacher --dataset-id neural_gym/Reacher/random-pixels64-v0 --family video \
	  --preset small --set trunk_channels=8 --steps 2000 --seed 0 --quiet \
	  --out world_models/zoo/Reacher-video.safetensors
	$(BIN)/python -m neural_gym.world_models.zoo

# The pixel dreams of the tabletop reach task and their success judge (policy evaluation in pixel dreams): one 64x64
# pixel dataset (noisy expert + 20% random episodes, as the state ensemble's), the latent and video models, the judge.
zoo-pixel-tabletop: $(VENV)/.installed-test
	$(BIN)/neural-gym collect --task TabletopReach --steps 30000 --policy expert --action-noise 0.4 \
	  --random-fraction 0.2 --seed 0 --obs-mode pixels --image-size 64 --overwrite \
	  --dataset-id neural_gym/TabletopReach/expert-pixels64-v0
	$(BIN)/neural-gym train --task TabletopReach --dataset-id neural_gym/TabletopReach/expert-pixels64-v0 \
	  --family latent --obs pixels --preset small --conv-depth 8 --steps 2500 --seq-len 32 --seed 0 \
	  --out world_models/zoo/TabletopReach-latent-pixels.safetensors
	$(BIN)/neural-gym train --task TabletopReach --dataset-id neural_gym/TabletopReach/expert-pixels64-v0 \
	  --family video --preset small --set trunk_channels=8 --set context_noise=0.1 --steps 2500 --seed 0 \
	  --out world_models/zoo/TabletopReach-video.safetensors
	$(BIN)/python -m neural_gym.evaluate.train_judge --task TabletopReach \
	  --dataset-id neural_gym/TabletopReach/expert-pixels64-v0 --steps 5000 \
	  --out neural_gym/evaluate/zoo/TabletopReach.safetensors
	$(BIN)/python -m neural_gym.world_models.zoo

# The shipped world action model of the tabletop reach task: the state ensemble's data (noisy expert + 20% random
# episodes, collected as `make zoo ZOO_TASKS=TabletopReach` does), 3000 steps of the `small` preset on one thread
# (about 15 minutes on 2 shared CPU cores). The VLA ladder's clean demos are not added: the trainer reads one
# labelled dataset (benchmarks/wam.py trains WAMs on those demos for the comparison with the VLAs).
.PHONY: zoo-wam
zoo-wam: $(VENV)/.installed-test
	$(BIN)/neural-gym collect --task TabletopReach --steps $(ZOO_STEPS_TabletopReach) \
	  --policy $(ZOO_POLICY_TabletopReach) --seed 0 --overwrite --dataset-id neural_gym/TabletopReach/expert-v0
	OMP_NUM_THREADS=1 $(BIN)/neural-gym train --task TabletopReach --dataset-id neural_gym/TabletopReach/expert-v0 \
	  --family wam --preset small --steps 3000 --seed 0 --device cpu --quiet \
	  --out world_models/zoo/TabletopReach-wam.safetensors
	$(BIN)/python -m neural_gym.world_models.zoo

# The VLA ladder (neural_gym/policies/vla/zoo): expert reach demos, 5 training runs (10 checkpoints), ground-truth
# evaluation of each and of the expert / noisy expert / random references; writes the checkpoints, ladder.json and
# README.md there. About 12 minutes on 2 shared CPU cores with one torch thread (ladder.json records total_s).
vla-zoo: $(VENV)/.installed-test
	OMP_NUM_THREADS=1 $(BIN)/python -m neural_gym.policies.vla ladder

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
