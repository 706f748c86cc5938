"""Tests of envs.wrappers.IrregularTimestep."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import envs  # noqa: F401  (registers the ids)
from envs.wrappers import IrregularTimestep, TickDistribution


def _cheetah(**kwargs) -> IrregularTimestep:
    return IrregularTimestep(gym.make("HalfCheetah-v5"), **kwargs)


def _rollout(env: gym.Env, seed: int, n_steps: int) -> list[tuple]:
    """``(dt, obs, info)`` for ``n_steps`` seeded random steps, after the reset's ``(dt, obs, info)``."""
    env.action_space.seed(seed)
    obs, info = env.reset(seed=seed)
    out = [(float(obs["dt"][0]), obs, info)]
    for _ in range(n_steps):
        obs, _, _, _, info = env.step(env.action_space.sample())
        out.append((float(obs["dt"][0]), obs, info))
    return out


def test_dt_varies_and_equals_substeps_times_timestep():
    env = _cheetah(low=1, high=8)
    timestep = env.unwrapped.model.opt.timestep
    env.reset(seed=0)
    ticks = []
    for _ in range(25):
        sim_time = env.unwrapped.data.time
        obs, _, _, _, info = env.step(env.action_space.sample())
        assert obs in env.observation_space
        assert obs["dt"][0] == pytest.approx(info["ticks"] * timestep, rel=1e-5)
        assert env.unwrapped.data.time - sim_time == pytest.approx(info["ticks"] * timestep)
        assert env.unwrapped.frame_skip == 5, "the nominal frame_skip is restored after each step"
        ticks.append(info["ticks"])
    assert set(ticks) <= set(range(1, 9)) and len(set(ticks)) > 3


@pytest.mark.parametrize("env_id", ["PickPlace-v0", "Stack-v0"])
def test_works_on_manipulation_envs(env_id: str):
    env = IrregularTimestep(gym.make(env_id), low=1, high=6)
    timestep = env.unwrapped.model.opt.timestep
    env.action_space.seed(0)
    obs, _ = env.reset(seed=0)
    assert obs in env.observation_space
    for _ in range(5):
        sim_time = env.unwrapped.data.time
        obs, _, _, _, info = env.step(env.action_space.sample())
        assert obs["dt"][0] == pytest.approx(info["ticks"] * timestep, rel=1e-5)
        assert env.unwrapped.data.time - sim_time == pytest.approx(info["ticks"] * timestep)


def test_same_seed_same_dt_sequence():
    first, second, other = (_rollout(_cheetah(drop_prob=0.3), seed, 20) for seed in (4, 4, 5))
    assert [r[0] for r in first] == [r[0] for r in second]
    assert all(np.array_equal(a[1]["obs"], b[1]["obs"]) for a, b in zip(first, second, strict=True))
    assert [r[2].get("obs_dropped") for r in first] == [r[2].get("obs_dropped") for r in second]
    assert [r[0] for r in first] != [r[0] for r in other]


def test_drop_prob_one_keeps_the_reset_observation():
    env = _cheetah(low=2, high=6, drop_prob=1.0)
    timestep = env.unwrapped.model.opt.timestep
    rollout = _rollout(env, seed=1, n_steps=10)
    reset_obs = rollout[0][1]["obs"]
    elapsed = 0
    for dt, obs, info in rollout[1:]:
        elapsed += info["ticks"]
        assert np.array_equal(obs["obs"], reset_obs) and obs["obs"] is not reset_obs
        assert info["obs_dropped"]
        assert dt == pytest.approx(elapsed * timestep, rel=1e-5), "dt = age of the held observation"
        assert info["obs_age"] == pytest.approx(elapsed * timestep)


def test_dt_after_drops_is_the_gap_between_delivered_observations():
    env = _cheetah(low=1, high=4, drop_prob=0.5)
    timestep = env.unwrapped.model.opt.timestep
    rollout = _rollout(env, seed=2, n_steps=40)
    clock = held = 0
    assert rollout[0][0] == 0.0
    for dt, _, info in rollout[1:]:
        clock += info["ticks"]
        assert dt == pytest.approx((clock - held) * timestep, rel=1e-5)
        if not info["obs_dropped"]:
            held = clock
    assert 5 < sum(r[2]["obs_dropped"] for r in rollout[1:]) < 35


def test_dict_observation_gets_a_dt_key_in_event_mode():
    env = IrregularTimestep(gym.make("Sudoku-v0"), mode="event", distribution="poisson", mean=3.0, tick=0.5)
    obs, _ = env.reset(seed=0)
    assert set(obs) == {"board", "action_mask", "dt"} and obs in env.observation_space
    dts = [float(env.step(0)[0]["dt"][0]) for _ in range(3)]
    assert all(dt > 0 and (dt / 0.5).is_integer() for dt in dts)


def test_fixed_dt_on_any_env():
    env = IrregularTimestep(gym.make("CartPoleNoVel-v1"), fixed_dt=0.02)
    obs, _ = env.reset(seed=0)
    assert set(obs) == {"obs", "dt"} and obs["dt"][0] == 0.0
    for _ in range(3):
        obs, *_ = env.step(env.action_space.sample())
        assert obs["dt"][0] == np.float32(0.02) and obs in env.observation_space
    cheetah = _cheetah(mode="fixed")
    cheetah.reset(seed=0)
    assert cheetah.step(cheetah.action_space.sample())[0]["dt"][0] == pytest.approx(0.05)


@pytest.mark.parametrize(
    ("kind", "kwargs", "support"),
    [
        ("uniform", {"low": 2, "high": 4}, {2, 3, 4}),
        ("poisson", {"mean": 1.0}, {1}),
        ("choice", {"values": (1, 5), "probs": (0.2, 0.8)}, {1, 5}),
    ],
)
def test_tick_distributions(kind: str, kwargs: dict, support: set[int]):
    dist = TickDistribution(kind=kind, **kwargs)
    rng = np.random.default_rng(0)
    draws = {dist.sample(rng) for _ in range(200)}
    assert draws == support


def test_poisson_mean():
    dist = TickDistribution(kind="poisson", mean=4.0)
    rng = np.random.default_rng(0)
    draws = np.array([dist.sample(rng) for _ in range(4000)])
    assert draws.min() >= 1 and abs(draws.mean() - 4.0) < 0.15 and dist.mean_ticks == 4.0


def test_frame_skip_less_env_raises_with_the_fix():
    with pytest.raises(ValueError, match="mode='event'"):
        IrregularTimestep(gym.make("Sudoku-v0"))
    with pytest.raises(ValueError, match="fixed_dt"):
        IrregularTimestep(gym.make("Sudoku-v0"), mode="fixed")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"drop_prob": 1.5},
        {"distribution": "gauss"},
        {"low": 5, "high": 2},
        {"low": 0},
        {"distribution": "poisson", "mean": 0.5},
        {"distribution": "choice", "values": ()},
        {"distribution": "choice", "values": (1, 2), "probs": (0.5,)},
        {"distribution": "choice", "values": (1, 2), "probs": (0.5, 0.6)},
        {"distribution": "choice", "values": (0, 2)},
        {"mode": "substeps", "fixed_dt": 0.1},
        {"mode": "bogus"},
        {"fixed_dt": -1.0},
        {"mode": "event", "tick": 0.0},
    ],
)
def test_bad_args_raise(kwargs: dict):
    with pytest.raises(ValueError):
        _cheetah(**kwargs)


def test_existing_dt_key_raises():
    env = IrregularTimestep(gym.make("Sudoku-v0"), mode="event")
    with pytest.raises(ValueError, match="already has a 'dt' key"):
        IrregularTimestep(env, mode="event")
