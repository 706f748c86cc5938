"""Partially observable classic-control envs: CartPole and Pendulum without their velocities.

Both keep Gymnasium's dynamics, rewards, starting states and rendering unchanged and only remove the
velocity entries from the observation, so a memoryless policy cannot act well and a recurrent one
has to estimate velocities from successive observations. They double as the trivial debug envs of the
test suite (the role sb3-contrib's ``CartPoleNoVelEnv`` plays there).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.envs.classic_control.cartpole import CartPoleEnv
from gymnasium.envs.classic_control.pendulum import PendulumEnv


def _sub_box(box: spaces.Box, keep: tuple[int, ...]) -> spaces.Box:
    """The Box made of the entries ``keep`` of a 1-D ``box``."""
    index = list(keep)
    return spaces.Box(box.low[index], box.high[index], dtype=box.dtype)


class CartPoleNoVelEnv(CartPoleEnv):
    """CartPole-v1 observed through cart position and pole angle only.

    ## Description
    Gymnasium's ``CartPole-v1`` (see :class:`gymnasium.envs.classic_control.cartpole.CartPoleEnv`) with
    the cart velocity and the pole angular velocity removed from the observation.

    ## Action Space
    ``Discrete(2)``: 0 pushes the cart left, 1 pushes it right.

    ## Observation Space
    ``Box((2,), float32)``: ``[cart position (m), pole angle (rad)]``, bounded by
    ``[-4.8, 4.8]`` and ``[-0.418, 0.418]`` as in CartPole-v1.

    ## Rewards
    +1 per step the pole stays up (CartPole-v1's reward, ``sutton_barto_reward`` supported).

    ## Starting State
    All four state entries uniform in ``[-0.05, 0.05]``.

    ## Episode End
    Terminates when ``|angle| > 12 deg`` or ``|position| > 2.4``; the registered id truncates at 500 steps.

    ## Arguments
    ``sutton_barto_reward`` and ``render_mode``, as CartPole-v1.

    ## Version History
    - v1: matches Gymnasium CartPole-v1.
    """

    OBSERVED: tuple[int, ...] = (0, 2)
    """Indices of the full state ``[x, x_dot, theta, theta_dot]`` that the agent sees."""

    def __init__(self, sutton_barto_reward: bool = False, render_mode: str | None = None):
        super().__init__(sutton_barto_reward=sutton_barto_reward, render_mode=render_mode)
        self.observation_space = _sub_box(self.observation_space, self.OBSERVED)

    def _get_obs(self) -> np.ndarray:
        return np.asarray(self.state, dtype=np.float32)[list(self.OBSERVED)]

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """Reset as CartPole-v1; returns ``(observation, info)`` with the velocities removed."""
        _, info = super().reset(seed=seed, options=options)
        return self._get_obs(), info

    def step(self, action: int):
        """Step as CartPole-v1; the observation has the velocities removed."""
        _, reward, terminated, truncated, info = super().step(action)
        return self._get_obs(), reward, terminated, truncated, info


class PendulumNoVelEnv(PendulumEnv):
    """Pendulum-v1 observed through ``cos(theta)`` and ``sin(theta)`` only.

    ## Description
    Gymnasium's ``Pendulum-v1`` (see :class:`gymnasium.envs.classic_control.pendulum.PendulumEnv`) with
    the angular velocity removed from the observation.

    ## Action Space
    ``Box(-2, 2, (1,), float32)``: torque on the free end.

    ## Observation Space
    ``Box(-1, 1, (2,), float32)``: ``[cos(theta), sin(theta)]``.

    ## Rewards
    ``-(theta^2 + 0.1 * theta_dot^2 + 0.001 * torque^2)`` as Pendulum-v1.

    ## Starting State
    ``theta`` uniform in ``[-pi, pi]``, ``theta_dot`` uniform in ``[-1, 1]``.

    ## Episode End
    Never terminates; the registered id truncates at 200 steps.

    ## Arguments
    ``g`` (gravity) and ``render_mode``, as Pendulum-v1.

    ## Version History
    - v1: matches Gymnasium Pendulum-v1.
    """

    OBSERVED: tuple[int, ...] = (0, 1)
    """Indices of Pendulum-v1's observation ``[cos, sin, theta_dot]`` that the agent sees."""

    def __init__(self, render_mode: str | None = None, g: float = 10.0):
        super().__init__(render_mode=render_mode, g=g)
        self.observation_space = _sub_box(self.observation_space, self.OBSERVED)

    def _get_obs(self) -> np.ndarray:
        return super()._get_obs()[list(self.OBSERVED)]
