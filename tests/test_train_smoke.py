"""Subprocess smoke runs of ``train_rl.py`` and ``evaluate.py`` with tiny budgets (rl-zoo's ``tests/test_train.py``).

Every registered env trains with the default policy and the ``cpu`` preset; one run is evaluated with video,
resumed (the timestep counter continues) and a two-job local sweep runs through the joblib launcher.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import envs

ROOT = Path(__file__).resolve().parents[1]
TINY = ["agent.total_timesteps=128", "n_envs=2", "agent.n_steps=32", "agent.batch_size=64", "agent.n_epochs=1",
        "eval.every=64", "eval.episodes=1", "checkpoint.every=64", "progress=false", "logger.tensorboard=false"]
# Envs whose episodes would make one smoke evaluation slow get a shorter time limit.
SHORT = {env_id: ["+env.kwargs.max_episode_steps=20"]
         for env_id in ("PickPlace-v0", "Stack-v0", "CartPoleNoVel-v1", "PendulumNoVel-v1")}


def run_script(script: str, *args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    """Run ``python <script> args`` from the repo root with one torch thread and offscreen rendering."""
    env = {**os.environ, "MUJOCO_GL": os.environ.get("MUJOCO_GL", "egl"), "OMP_NUM_THREADS": "1",
           "HYDRA_FULL_ERROR": "0"}
    return subprocess.run([sys.executable, script, *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout)


def train(run_dir: Path, *overrides: str, timeout: float = 240) -> subprocess.CompletedProcess:
    """``train_rl.py`` into ``run_dir`` with the tiny budget, then ``overrides``."""
    return run_script("train_rl.py", *TINY, f"hydra.run.dir={run_dir}", *overrides, timeout=timeout)


def assert_ok(proc: subprocess.CompletedProcess) -> None:
    """Fail with the process output unless it exited 0."""
    assert proc.returncode == 0, (
        f"exit {proc.returncode}\nstdout:\n{proc.stdout[-3000:]}\nstderr:\n{proc.stderr[-3000:]}"
    )


def final_steps(run_dir: Path) -> int:
    """Timestep counter of a run's final checkpoint."""
    return json.loads((run_dir / "checkpoints" / "final" / "trainer_state.json").read_text())["num_timesteps"]


@pytest.mark.parametrize("env_id", envs.LATENTFLOW_ENV_IDS)
def test_train_each_env(env_id: str, tmp_path: Path) -> None:
    """Every registered env trains with the cpu preset and leaves a complete run dir."""
    run_dir = tmp_path / "run"
    proc = train(run_dir, f"env={env_id}", "preset=cpu", *SHORT.get(env_id, []))
    assert_ok(proc)
    assert "done: 128 steps" in proc.stdout
    for name in ("command.txt", "seeds.json", "versions.json", "config.yaml", "metrics.csv", ".hydra/config.yaml"):
        assert (run_dir / name).is_file(), name
    final = run_dir / "checkpoints" / "final"
    for name in ("model.zip", "optimizer.pt", "trainer_state.json", "safe/policy.json", "safe/weights.safetensors"):
        assert (final / name).is_file(), name
    assert final_steps(run_dir) == 128
    assert not list((run_dir / "checkpoints").glob(".tmp-*"))


@pytest.fixture(scope="module")
def pickplace_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One tiny PickPlace-v0 run (tensorboard on) shared by the evaluate and resume tests."""
    run_dir = tmp_path_factory.mktemp("pickplace") / "run"
    assert_ok(train(run_dir, "env=PickPlace-v0", "logger.tensorboard=true", *SHORT["PickPlace-v0"]))
    return run_dir


def test_run_dir_records(pickplace_run: Path) -> None:
    """Tensorboard events, metrics rows and checkpoints every N steps land in the run dir."""
    assert list((pickplace_run / "tb").rglob("events.out.tfevents*"))
    rows = (pickplace_run / "metrics.csv").read_text().strip().splitlines()
    assert rows[0].startswith("timesteps,") and rows[-1].startswith("128,")
    assert (pickplace_run / "checkpoints" / "step_0000000128").is_dir()
    assert "train_rl.py" in (pickplace_run / "command.txt").read_text()


def test_evaluate_with_video(pickplace_run: Path, tmp_path: Path) -> None:
    """``evaluate.py`` writes report.json with the staged-task metrics, an mp4 and the plots."""
    out = tmp_path / "eval"
    proc = run_script("evaluate.py", f"checkpoint={pickplace_run}", "episodes=2", "video=true", "video_episodes=1",
                      f"out_dir={out}")
    assert_ok(proc)
    report = json.loads((out / "report.json").read_text())
    assert report["episodes"] == 2 and report["mean_episode_length"] == 20
    assert set(report["stage_reach_rate"]) == {"reach", "grasp", "lift", "carry", "place"}
    assert report["mean_latency_ms"] > 0 and report["env"]["env_id"] == "PickPlace-v0"
    assert (out / "episode_000.mp4").stat().st_size > 1000
    assert (out / "training_curves.png").is_file()


def test_resume_continues_counter(pickplace_run: Path, tmp_path: Path) -> None:
    """``resume=<run dir>`` keeps the checkpoint's config and continues its timestep counter."""
    run_dir = tmp_path / "resumed"
    proc = run_script("train_rl.py", f"resume={pickplace_run}", "agent.total_timesteps=256", "progress=false",
                      f"hydra.run.dir={run_dir}")
    assert_ok(proc)
    assert final_steps(run_dir) == 256
    seeds = json.loads((run_dir / "seeds.json").read_text())
    assert seeds["start_timesteps"] == 128
    rows = (run_dir / "metrics.csv").read_text().strip().splitlines()
    assert rows[-1].startswith("256,") and any(r.startswith("128,") for r in rows)


def test_local_sweep_two_jobs(tmp_path: Path) -> None:
    """``-m`` runs two jobs through the joblib launcher, each in its own sweep subdir."""
    sweep = tmp_path / "sweep"
    proc = run_script("train_rl.py", "-m", "policy=latentflow,no_hrm", *TINY, "env=GraphSearch-v0",
                      f"hydra.sweep.dir={sweep}", "hydra.launcher.n_jobs=2")
    assert_ok(proc)
    jobs = sorted(p.name for p in sweep.iterdir() if p.is_dir())
    assert jobs == ["job0_latentflow_seed0", "job1_no_hrm_seed0"], jobs
    for job in jobs:
        assert (sweep / job / "checkpoints" / "final" / "trainer_state.json").is_file()
