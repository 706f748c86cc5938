# Two entry points a newcomer needs: `make train` and `make test`. Both set up first.
PY ?= python3
PIP = $(PY) -m pip
# Optional extras to install with the package: `make test EXTRAS=dev,brax` also runs the Brax tests.
EXTRAS ?= dev
export MUJOCO_GL ?= egl
export PYOPENGL_PLATFORM ?= egl

.PHONY: setup train test lint bench sweep

# torch first, pinned to the CPU wheel this machine carries; elsewhere pip picks your own build.
setup:
	@$(PY) -c "import torch" 2>/dev/null || $(PIP) install -q torch==2.13.0
	$(PIP) install -q -e ".[$(EXTRAS)]"

train: setup
	$(PY) train_rl.py env=PickPlace-v0

test: setup
	$(PY) -m ruff check .
	$(PY) -m pytest -q

lint:
	$(PY) -m ruff check .

bench:
	$(PY) bench/bench_core.py

sweep: setup
	$(PY) train_rl.py -m policy=latentflow,no_hrm,gru_worker,no_planner,transformer_encoder seed=0,1,2
