"""Tests of the MuJoCo manipulation envs ``PickPlace-v0`` and ``Stack-v0`` and their scripted experts."""

from __future__ import annotations

import itertools
import os
import pickle
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import envs  # noqa: F401  (registers the ids)
from envs.manipulation.experts import PickPlaceExpert, StackExpert

ENV_IDS = ("PickPlace-v0", "Stack-v0")
EXPERTS = {"PickPlace-v0": PickPlaceExpert, "Stack-v0": StackExpert}


def _rollout(env: gym.Env, seed: int, n_steps: int) -> list[tuple]:
    """(obs, reward, terminated, truncated, info) of ``n_steps`` seeded random steps."""
    obs, info = env.reset(seed=seed)
    env.action_space.seed(seed)
    out = [(obs, 0.0, False, False, info)]
    for _ in range(n_steps):
        out.append(env.step(env.action_space.sample()))
        if out[-1][2] or out[-1][3]:
            break
    return out


def _assert_same(a: list[tuple], b: list[tuple]) -> None:
    """Two rollouts are identical, observation for observation."""
    assert len(a) == len(b)
    for (obs_a, rew_a, *flags_a, info_a), (obs_b, rew_b, *flags_b, info_b) in zip(a, b, strict=True):
        np.testing.assert_array_equal(obs_a, obs_b)
        assert rew_a == rew_b and flags_a == flags_b and info_a == info_b


def _run_expert(env_id: str, seed: int) -> tuple[bool, list[int]]:
    """Success and the per-step stages of one expert episode."""
    env = gym.make(env_id)
    expert = EXPERTS[env_id]()
    obs, info = env.reset(seed=seed)
    stages = [info["stage"]]
    terminated = truncated = False
    while not (terminated or truncated):
        obs, _, terminated, truncated, info = env.step(expert(obs))
        stages.append(info["stage"])
    env.close()
    return bool(info["is_success"]), stages


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_check_env(env_id: str) -> None:
    """Gymnasium's env checker passes (rendering is tested separately)."""
    env = gym.make(env_id)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*infinity.*")  # unbounded Box, as in Gymnasium's MuJoCo envs
        check_env(env.unwrapped, skip_render_check=True)
    env.close()


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_spaces_and_attributes(env_id: str) -> None:
    """Documented spaces, stage labels and the stage/success/reward keys of ``info``."""
    env = gym.make(env_id)
    base = env.unwrapped
    assert env.action_space == gym.spaces.Box(-1.0, 1.0, (4,), np.float32)
    assert env.observation_space.shape == ({"PickPlace-v0": 32, "Stack-v0": 48}[env_id],)
    assert base.n_stages == len(base.stage_names) == 5
    _, info = env.reset(seed=0)
    assert info["stage"] == 0 and info["is_success"] is False
    _, reward, _, _, info = env.step(env.action_space.sample())
    assert 0 <= info["stage"] < base.n_stages and isinstance(info["is_success"], bool)
    terms = [f"reward_{name}" for name in base.stage_names] + ["reward_success", "reward_ctrl"]
    assert reward == pytest.approx(sum(info[k] for k in terms))
    assert reward <= 0.0
    env.close()


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_determinism(env_id: str) -> None:
    """Two envs with the same seed and actions give identical rollouts; another seed differs."""
    env_a, env_b = gym.make(env_id), gym.make(env_id)
    _assert_same(_rollout(env_a, 3, 40), _rollout(env_b, 3, 40))
    other = _rollout(env_b, 4, 0)
    assert not np.array_equal(other[0][0], _rollout(env_a, 3, 0)[0][0])
    env_a.close()
    env_b.close()


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_pickle_round_trip(env_id: str) -> None:
    """A pickled and restored env behaves like the original."""
    env = gym.make(env_id)
    env.reset(seed=0)
    restored = pickle.loads(pickle.dumps(env))
    _assert_same(_rollout(env, 7, 20), _rollout(restored, 7, 20))
    restored.close()
    env.close()


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_close_twice(env_id: str) -> None:
    """``close`` is safe before any render and when called twice."""
    env = gym.make(env_id)
    env.reset(seed=0)
    env.close()
    env.close()


def test_sparse_reward() -> None:
    """``reward_type="sparse"`` gives -1 per step before success."""
    env = gym.make("PickPlace-v0", reward_type="sparse")
    env.reset(seed=0)
    _, reward, terminated, _, info = env.step(np.zeros(4, dtype=np.float32))
    assert reward == -1.0 and not terminated and not info["is_success"]
    env.close()


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_expert_succeeds_with_monotone_stages(env_id: str) -> None:
    """The scripted expert succeeds on >= 4 of 5 seeds and never goes back a stage."""
    results = [_run_expert(env_id, seed) for seed in range(5)]
    assert sum(success for success, _ in results) >= 4
    for success, stages in results:
        if success:
            assert stages[-1] == 4
            assert all(b >= a for a, b in itertools.pairwise(stages)), stages


def test_expert_stays_in_action_space() -> None:
    """The expert returns float32 actions inside ``Box(-1, 1, (4,))``."""
    env = gym.make("PickPlace-v0")
    obs, _ = env.reset(seed=1)
    action = PickPlaceExpert()(obs)
    assert action.dtype == np.float32 and env.action_space.contains(action)
    env.close()


def test_frame_skip_changes_dt() -> None:
    """Changing ``frame_skip`` between steps changes ``dt`` and how far simulated time advances."""
    env = gym.make("PickPlace-v0")
    base = env.unwrapped
    env.reset(seed=0)
    assert base.dt == pytest.approx(base.model.opt.timestep * 8)
    for frame_skip in (3, 13, 8):
        base.frame_skip = frame_skip
        assert base.dt == pytest.approx(base.model.opt.timestep * frame_skip)
        time_before = base.data.time
        env.step(np.zeros(4, dtype=np.float32))
        assert base.data.time - time_before == pytest.approx(base.dt)
    env.close()


@pytest.mark.filterwarnings("ignore:.*not in the possible render_modes")
@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"frame_skip": 0}, r"frame_skip must be an int in \[1, 100\]"),
        ({"frame_skip": 2.5}, r"frame_skip must be an int"),
        ({"reward_type": "shaped"}, "reward_type must be 'dense' or 'sparse'"),
        ({"max_speed": 5.0}, r"max_speed must be in \[0.05, 2.0\]"),
        ({"success_threshold": 0.0}, r"success_threshold must be in"),
        ({"lift_weight": 1.0}, None),
        ({"grasp_reward_weight": -1.0}, r"grasp_reward_weight must be in \[0.0"),
        ({"object_range": 0.5}, r"object_range must be in \[0.06, 0.2\]"),
        ({"reset_noise_scale": 1.0}, r"reset_noise_scale must be in"),
        ({"render_mode": "ascii"}, "render_mode must be None or one of"),
    ],
)
def test_invalid_arguments(kwargs: dict, match: str | None) -> None:
    """Out-of-range arguments raise ``ValueError`` naming the allowed range (unknown ones ``TypeError``)."""
    if match is None:
        with pytest.raises(TypeError):
            gym.make("PickPlace-v0", **kwargs)
        return
    for env_id in ENV_IDS:
        with pytest.raises(ValueError, match=match):
            gym.make(env_id, **kwargs)


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_render_rgb_array(env_id: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """``render_mode="rgb_array"`` returns an (H, W, 3) uint8 frame, headless through EGL."""
    monkeypatch.setenv("MUJOCO_GL", os.environ.get("MUJOCO_GL", "egl"))
    env = gym.make(env_id, render_mode="rgb_array", width=160, height=120)
    env.reset(seed=0)
    try:
        frame = env.render()
    except Exception as error:  # no usable OpenGL (e.g. no EGL driver) on this machine
        env.close()
        pytest.skip(f"offscreen rendering unavailable: {error!r}")
    assert frame.shape == (120, 160, 3) and frame.dtype == np.uint8
    assert frame.std() > 0.0
    env.close()
