"""The data-only checkpoint format: round trip, refusal of pickles, bad files, and the README's loop."""

from __future__ import annotations

import json
import os
import pickle
import re
from pathlib import Path

import numpy as np
import pytest
from sb3_contrib import RecurrentPPO
from stable_baselines3.common.env_util import make_vec_env

from agents import CheckpointError, load_agent, load_policy, save_safe
from envs.debug import CueMemoryEnv
from policies import LatentFlowPolicy, baseline_policy

README = Path(__file__).resolve().parents[1] / "README.md"


def trained(obs_kind: str = "dict_mask", action_kind: str = "discrete", policy=LatentFlowPolicy, **kwargs):
    env = make_vec_env(CueMemoryEnv, n_envs=2, seed=0, env_kwargs={"obs_kind": obs_kind, "action_kind": action_kind})
    model = RecurrentPPO(policy, env, n_steps=16, batch_size=16, n_epochs=1, seed=0, device="cpu", **kwargs)
    return model.learn(32)


@pytest.mark.parametrize(
    ("obs_kind", "action_kind"), [("dict_mask", "discrete"), ("box", "box"), ("graph", "discrete")]
)
def test_safe_round_trip_gives_the_same_actions(tmp_path: Path, obs_kind: str, action_kind: str) -> None:
    model = trained(obs_kind, action_kind, policy_kwargs={"core_kwargs": {"worker": "cfc"}})
    path = save_safe(model, tmp_path / "ckpt", metadata={"env_id": "CueMemory"})
    assert sorted(p.name for p in path.iterdir()) == ["policy.json", "weights.safetensors"]
    policy, description = load_policy(path)
    assert description["metadata"] == {"env_id": "CueMemory"}
    assert policy.core_config == model.policy.core_config
    obs = model.env.reset()
    state = None
    for _ in range(3):
        expected, state_a = model.predict(obs, state, np.zeros(2, bool), deterministic=True)
        got, state_b = policy.predict(obs, state, np.zeros(2, bool), deterministic=True)
        assert np.array_equal(expected, got)
        assert np.allclose(state_a[0], state_b[0]) and np.allclose(state_a[1], state_b[1])
        state = state_a


def test_baseline_policy_round_trip(tmp_path: Path) -> None:
    env = make_vec_env(CueMemoryEnv, n_envs=2, seed=0)
    name, kwargs = baseline_policy(env.observation_space)
    model = RecurrentPPO(name, env, policy_kwargs=kwargs, n_steps=16, batch_size=16, n_epochs=1, seed=0).learn(16)
    policy, _ = load_policy(save_safe(model, tmp_path / "lstm"))
    obs = env.reset()
    assert np.array_equal(model.predict(obs, deterministic=True)[0], policy.predict(obs, deterministic=True)[0])


class _Booby:
    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_booby_trapped_pickle_is_refused(tmp_path: Path) -> None:
    path = save_safe(trained(), tmp_path / "ckpt")
    (path / "weights.safetensors").unlink()
    marker = tmp_path / "pwned"
    booby = _Booby()
    booby.marker = marker
    (path / "weights.pt").write_bytes(pickle.dumps({"weights": booby}))
    with pytest.raises(CheckpointError, match="refusing or unable to load weights"):
        load_policy(path)
    assert not marker.exists(), "loading ran code from the checkpoint"


def test_sb3_zip_and_unknown_class_are_refused(tmp_path: Path) -> None:
    model = trained()
    model.save(tmp_path / "model.zip")
    with pytest.raises(CheckpointError, match="unpickle code"):
        load_policy(tmp_path / "model.zip")
    path = save_safe(model, tmp_path / "ckpt")
    description = json.loads((path / "policy.json").read_text())
    description["policy_class"] = "os.system"
    (path / "policy.json").write_text(json.dumps(description))
    with pytest.raises(CheckpointError, match="allow-list"):
        load_policy(path)


def test_missing_corrupted_and_mismatched_checkpoints(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match=r"policy\.json is missing"):
        load_policy(tmp_path / "nowhere")
    path = save_safe(trained(), tmp_path / "ckpt")
    weights = (path / "weights.safetensors").read_bytes()
    (path / "weights.safetensors").write_bytes(weights[: len(weights) // 2])
    with pytest.raises(CheckpointError, match="refusing or unable to load weights"):
        load_policy(path)
    (path / "policy.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="corrupted"):
        load_policy(path)
    other = save_safe(trained(policy_kwargs={"core_kwargs": {"d_worker": 16}}), tmp_path / "other")
    (path / "policy.json").write_text((other / "policy.json").read_text())
    (path / "weights.safetensors").write_bytes(weights)
    with pytest.raises(CheckpointError, match=r"do not fit|refusing or unable"):
        load_policy(path)


def test_save_replaces_an_old_checkpoint_whole(tmp_path: Path) -> None:
    model = trained()
    path = save_safe(model, tmp_path / "ckpt", metadata={"step": 1})
    save_safe(model, path, metadata={"step": 2})
    assert load_policy(path)[1]["metadata"] == {"step": 2}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt"]


def test_readme_loop_runs(tmp_path: Path) -> None:
    """The plain-Gymnasium loop in the README, run verbatim against a freshly saved checkpoint."""
    import gymnasium as gym

    import envs  # noqa: F401 - registers the ids the README uses

    match = re.search(r"<!-- readme-loop -->\s*```python\n(.*?)```", README.read_text(), re.S)
    assert match, "README.md lost its plain-Gymnasium loop"
    code = match.group(1)
    env_id = re.search(r'gym\.make\("([^"]+)"\)', code).group(1)
    ckpt = re.search(r'load_agent\("([^"]+)"\)', code).group(1)
    env = make_vec_env(env_id, n_envs=1, seed=0)
    model = RecurrentPPO(LatentFlowPolicy, env, n_steps=16, batch_size=16, n_epochs=1, seed=0)
    save_safe(model, tmp_path / ckpt)
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        scope: dict = {}
        exec(compile(code, "README.md", "exec"), scope)
    finally:
        os.chdir(cwd)
    assert scope["done"] and "is_success" in scope["info"]
    assert gym.make(env_id).action_space.contains(scope["action"])


def test_agent_plays_single_observations(tmp_path: Path) -> None:
    agent = load_agent(save_safe(trained("dict_dt", "box"), tmp_path / "ckpt"))
    env = CueMemoryEnv("dict_dt", "box")
    obs, _ = env.reset(seed=1)
    state, start = None, True
    for _ in range(4):
        action, state = agent.predict(obs, state, episode_start=start)
        assert env.action_space.contains(action)
        info = agent.planner_info(state)
        assert info["plan"].shape == (2, 32) and 0 <= info["tick"] < 4
        obs, *_ = env.step(action)
        start = False
