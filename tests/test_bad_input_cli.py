"""Bad input ends with a clear message and a non-zero exit code, and loses nothing already on disk.

Subprocess runs check what a user sees at the command line; the disk-full and NaN cases run in-process,
with a monkeypatched write (``OSError(ENOSPC)``) and a test-registered env that emits NaN.
"""

from __future__ import annotations

import errno
import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from agents import checkpointing, training
from tests.test_train_smoke import ROOT, TINY, assert_ok, run_script, train

NAN_ENV = "LatentFlowTestNanObs-v0"


@pytest.fixture(scope="module")
def graph_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One tiny GraphSearch-v0 run with the LSTM baseline (the fastest complete run dir)."""
    run_dir = tmp_path_factory.mktemp("graph") / "run"
    assert_ok(train(run_dir, "env=GraphSearch-v0", "policy=mlp_lstm"))
    return run_dir


def assert_fails(proc: subprocess.CompletedProcess, *needles: str) -> None:
    """The process exited non-zero and its output names every ``needle``."""
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out[-2000:]
    for needle in needles:
        assert needle in out, f"{needle!r} not in output:\n{out[-3000:]}"
    assert "Traceback" not in out, out[-3000:]


@pytest.mark.parametrize(
    ("override", "needles"),
    [
        ("env=Nope-v0", ("Could not find 'env/Nope-v0'", "PickPlace-v0", "Sudoku-v0")),
        ("env.id=Nope-v0", ("unknown env id 'Nope-v0'", "GraphSearch-v0")),
        ("policy=nope", ("Could not find 'policy/nope'", "gru_worker")),
        ("preset=nope", ("Could not find 'preset/nope'", "paper")),
        ("agnt.n_steps=8", ("agnt",)),
        ("vec_env=threads", ("vec_env must be one of",)),
        ("agent.batch_size=4096", ("agent.batch_size (4096) exceeds one rollout",)),
        ("agent.n_steps=abc", ("agent.n_steps must be int",)),
    ],
)
def test_bad_train_overrides(override: str, needles: tuple[str, ...]) -> None:
    """Unknown env/policy/preset, override typos and invalid values: message and non-zero exit."""
    assert_fails(run_script("train_rl.py", *TINY, override, "hydra.run.dir=/tmp/latentflow-bad-input"), *needles)


def test_missing_checkpoint(tmp_path: Path) -> None:
    """Resuming or evaluating a path that is not there."""
    missing = tmp_path / "nothing"
    assert_fails(run_script("train_rl.py", f"resume={missing}", f"hydra.run.dir={tmp_path / 'r'}"),
                 "no checkpoint at")
    assert_fails(run_script("evaluate.py", f"checkpoint={missing}"), "no checkpoint at")
    assert_fails(run_script("evaluate.py"), "checkpoint=<run dir")


def test_corrupted_checkpoint(graph_run: Path, tmp_path: Path) -> None:
    """Corrupted trainer state or weights: clear error, the files stay as they were."""
    copy = tmp_path / "copy"
    shutil.copytree(graph_run, copy)
    final = copy / "checkpoints" / "final"
    (final / "trainer_state.json").write_text("{not json")
    assert_fails(run_script("train_rl.py", f"resume={final}", f"hydra.run.dir={tmp_path / 'r'}"), "is corrupted")
    (final / "safe" / "weights.safetensors").write_bytes(b"\x00garbage")
    assert_fails(run_script("evaluate.py", f"checkpoint={final}", "episodes=1"), "weights")
    assert (final / "trainer_state.json").read_text() == "{not json"


def test_checkpoint_spaces_mismatch(graph_run: Path, tmp_path: Path) -> None:
    """A checkpoint whose spaces differ from the env's, at evaluation and at resume."""
    assert_fails(run_script("evaluate.py", f"checkpoint={graph_run}", "episodes=1", "+env_kwargs.max_nodes=20",
                            f"out_dir={tmp_path / 'e'}"), "observation space")
    assert_fails(run_script("train_rl.py", f"resume={graph_run}", "env=Sudoku-v0", f"hydra.run.dir={tmp_path / 'r'}"),
                 "different observation space")


def test_sigterm_writes_final_checkpoint(tmp_path: Path) -> None:
    """SIGTERM mid-run: a final checkpoint is written, the exit code says why, the counter is where it stopped."""
    run_dir = tmp_path / "run"
    args = [sys.executable, "train_rl.py", *TINY, "env=CartPoleNoVel-v1", "policy=mlp_lstm",
            "agent.total_timesteps=1000000", f"hydra.run.dir={run_dir}"]
    proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 120
    while not (run_dir / "checkpoints" / "latest.json").exists() and time.time() < deadline:
        time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM, out[-2000:]
    assert "stopped by SIGTERM" in out
    state = json.loads((run_dir / "checkpoints" / "final" / "trainer_state.json").read_text())
    assert 0 < state["num_timesteps"] < 1_000_000


# ---- in-process: disk full and NaN ------------------------------------------------------------------------
def compose_train(*overrides: str) -> tuple[dict, list[str]]:
    """The composed ``train_rl.py`` config as a plain dict, and the overrides."""
    with initialize_config_dir(version_base="1.3", config_dir=str(ROOT / "configs")):
        cfg = compose("train", overrides=list(overrides))
    return OmegaConf.to_container(cfg, resolve=True), list(overrides)


def test_disk_full_keeps_previous_checkpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture) -> None:
    """ENOSPC while writing the second checkpoint: exit code 4, the first checkpoint and pointer intact."""
    calls = {"n": 0}
    real_save = checkpointing._save_optimizer

    def flaky_save(optimizer, path):
        calls["n"] += 1
        if calls["n"] >= 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_save(optimizer, path)

    monkeypatch.setattr(checkpointing, "_save_optimizer", flaky_save)
    raw, overrides = compose_train(*TINY, "env=CartPoleNoVel-v1", "policy=mlp_lstm", "eval.every=0")
    code = training.run(raw, tmp_path, overrides, argv=["train_rl.py"])
    out = capsys.readouterr().out
    assert code == training.EXIT_CODES["disk"], out
    assert "No space left on device" in out and "step_0000000064" in out
    root = tmp_path / "checkpoints"
    assert json.loads((root / "latest.json").read_text())["name"] == "step_0000000064"
    assert (root / "step_0000000064" / "optimizer.pt").is_file()
    assert checkpointing.resolve_checkpoint(tmp_path) == root / "step_0000000064"
    assert not list(root.glob(".tmp-*"))


class NanObsEnv(gym.Env):
    """A one-float env whose observation turns NaN at its 40th step."""

    observation_space = gym.spaces.Box(-1.0, 1.0, (1,), np.float32)
    action_space = gym.spaces.Discrete(2)

    def __init__(self) -> None:
        self.t = 0

    def reset(self, *, seed=None, options=None):
        """Start an episode."""
        super().reset(seed=seed)
        return np.zeros(1, np.float32), {}

    def step(self, action):
        """NaN from step 40 on."""
        self.t += 1
        obs = np.full(1, np.nan if self.t >= 40 else 0.0, np.float32)
        return obs, 0.0, False, self.t % 10 == 5, {}


def test_nan_observation_stops_with_step(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """A NaN observation stops training with the step number; the last good checkpoint stays."""
    if NAN_ENV not in gym.registry:
        gym.register(NAN_ENV, entry_point=NanObsEnv)
    raw, overrides = compose_train(*TINY, "env=CartPoleNoVel-v1", f"env.id={NAN_ENV}", "env.normalize=false",
                                   "env.norm_reward=false", "policy=mlp_lstm", "eval.every=0", "n_envs=1",
                                   "agent.batch_size=32", "checkpoint.every=32")
    code = training.run(raw, tmp_path, overrides, argv=["train_rl.py"])
    out = capsys.readouterr().out
    assert code == training.EXIT_CODES["diverged"], out
    assert "non-finite observation at step 40" in out and "step_0000000032" in out
    assert not (tmp_path / "checkpoints" / "final").exists()


def test_nan_loss_is_caught() -> None:
    """A NaN loss of the last update raises ``TrainingDiverged`` naming the step."""
    model = type("M", (), {"policy": type("P", (), {"named_parameters": lambda self: []})()})()
    with pytest.raises(training.TrainingDiverged, match=r"train/loss.*step 512"):
        training.check_finite(model, {"train/loss": float("nan")}, 512)
