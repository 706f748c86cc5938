"""``load_agent``: a trained policy for a plain Gymnasium loop, from a safe checkpoint.

    import gymnasium as gym, envs
    from agents import load_agent

    agent = load_agent("runs/PickPlace-v0/.../checkpoints/final/safe")
    env = gym.make("PickPlace-v0")
    obs, info = env.reset(seed=0)
    state, start, done = None, True, False
    while not done:
        action, state = agent.predict(obs, state, episode_start=start)
        obs, reward, terminated, truncated, info = env.step(action)
        start, done = False, terminated or truncated
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch
from stable_baselines3.common.policies import BasePolicy

from agents.checkpoint import load_policy

State = tuple[np.ndarray, np.ndarray]


class Agent:
    """A loaded policy that acts on single, unbatched observations (one env, one step at a time)."""

    def __init__(self, policy: BasePolicy, description: dict[str, Any]) -> None:
        self.policy = policy
        self.description = description
        self.metadata: dict[str, Any] = description.get("metadata", {})
        self._norm = description.get("obs_normalization")

    @property
    def observation_space(self):
        """The observation space the policy was trained on."""
        return self.policy.observation_space

    @property
    def action_space(self):
        """The action space the policy acts in."""
        return self.policy.action_space

    def predict(
        self,
        obs: np.ndarray | dict[str, np.ndarray],
        state: State | None = None,
        episode_start: bool = True,
        deterministic: bool = True,
    ) -> tuple[np.ndarray | int, State | None]:
        """Action for one observation; pass the returned state back in on the next step."""
        batched = _add_batch_dim(self._normalize(obs))
        actions, state = self.policy.predict(batched, state, np.array([episode_start]), deterministic)
        action = actions[0]
        return (int(action) if np.ndim(action) == 0 else action), state

    def planner_info(self, state: State | None) -> dict | None:
        """``{"tick", "plan" (k, d_p)}`` of the planner in ``state``; ``None`` without a planner."""
        if state is None or not hasattr(self.policy, "planner_info"):
            return None
        return self.policy.planner_info(state)

    def _normalize(self, obs: np.ndarray | dict[str, np.ndarray]) -> np.ndarray | dict[str, np.ndarray]:
        if not self._norm:
            return obs
        stats, clip, eps = self._norm["stats"], self._norm["clip_obs"], self._norm["epsilon"]

        def scale(x: np.ndarray, s: dict) -> np.ndarray:
            z = (np.asarray(x, np.float32) - np.asarray(s["mean"])) / np.sqrt(np.asarray(s["var"]) + eps)
            return np.clip(z, -clip, clip).astype(np.float32)

        if isinstance(obs, dict):
            return {k: scale(v, stats[k]) if k in stats else v for k, v in obs.items()}
        return scale(obs, stats["obs"])


def load_agent(path: str | os.PathLike, device: str | torch.device = "cpu") -> Agent:
    """Load a safe checkpoint directory (``policy.json`` + ``weights.safetensors``) as an ``Agent``."""
    policy, description = load_policy(path, device)
    return Agent(policy, description)


def _add_batch_dim(obs: np.ndarray | dict[str, np.ndarray]) -> np.ndarray | dict[str, np.ndarray]:
    if isinstance(obs, dict):
        return {k: np.asarray(v)[None] for k, v in obs.items()}
    return np.asarray(obs)[None]
