"""Every id in ``envs.LATENTFLOW_ENV_IDS`` through Gymnasium's checker, determinism and pickling."""

from __future__ import annotations

import pickle

import gymnasium as gym
import pytest
from gymnasium.utils.env_checker import check_env, data_equivalence

import envs

RENDER_CHECKED = {"Sudoku-v0", "GraphSearch-v0"}
"""Ids whose render modes need no window or GL context, so ``check_env`` also checks rendering."""

N_STEPS = 30


def _make(env_id: str, **kwargs) -> gym.Env:
    return gym.make(env_id, **kwargs)


def _rollout(env: gym.Env, seed: int, n_steps: int = N_STEPS) -> list:
    """Reset with ``seed`` and take ``n_steps`` seeded random actions, resetting whenever an episode ends."""
    env.action_space.seed(seed)
    transitions = [env.reset(seed=seed)]
    for _ in range(n_steps):
        step = env.step(env.action_space.sample())
        transitions.append(step)
        if step[2] or step[3]:
            transitions.append(env.reset())
    return transitions


def test_ids_are_registered():
    assert set(envs.LATENTFLOW_ENV_IDS) <= set(gym.registry)


@pytest.mark.parametrize("env_id", envs.LATENTFLOW_ENV_IDS)
def test_check_env(env_id: str):
    env = _make(env_id)
    check_env(env.unwrapped, skip_render_check=env_id not in RENDER_CHECKED)
    env.close()


@pytest.mark.parametrize("env_id", envs.LATENTFLOW_ENV_IDS)
def test_same_seed_same_rollout(env_id: str):
    first, second = _make(env_id), _make(env_id)
    assert data_equivalence(_rollout(first, seed=11), _rollout(second, seed=11))
    first.close()
    second.close()


@pytest.mark.parametrize("env_id", envs.LATENTFLOW_ENV_IDS)
def test_pickle_round_trip(env_id: str):
    env = _make(env_id)
    _rollout(env, seed=3, n_steps=5)
    clone = pickle.loads(pickle.dumps(env))
    assert data_equivalence(_rollout(env, seed=5, n_steps=10), _rollout(clone, seed=5, n_steps=10))
    env.close()
    clone.close()


@pytest.mark.parametrize("env_id", envs.LATENTFLOW_ENV_IDS)
def test_close_twice(env_id: str):
    env = _make(env_id)
    env.reset(seed=0)
    env.close()
    env.close()
