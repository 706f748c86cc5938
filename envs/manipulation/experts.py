"""Scripted experts for the manipulation envs: stateless feedback policies ``obs -> action``.

Both experts read only the observation (no access to the simulator), so they work behind any
wrapper that keeps the observation intact, and one instance serves any number of episodes or
envs. They rely on the shared observation layout of ``envs.manipulation.base``: the gripper block
first, ``cube_a`` next, the target position in ``obs[-6:-3]``.

Policy, decided afresh every step from the observation:

1. cube held (both touch flags set and the fingers no longer closing): raise it to a carry height
   above the target, move it over the target, lower it and open the fingers once it is down;
2. otherwise: hover over the cube with the fingers open, descend around it and close.
"""

from __future__ import annotations

import numpy as np

from envs.manipulation.base import CUBE_HALF_SIZE

_GRIP = slice(0, 3)
_GAP, _GAP_VEL = 6, 7
_TOUCH = slice(8, 10)
_CUBE = slice(10, 13)
_TARGET = slice(-6, -3)


class ScriptedExpert:
    """Stateless pick-and-place feedback policy: ``action = expert(obs)``.

    Args:
        gain: proportional gain from position error (m) to the normalized velocity command; the
            default (25) moves at full speed when more than 4 cm away and stays stable for control
            periods up to about twice the default ``dt`` of 0.04 s (so under ``IrregularTimestep``).
        hover_height: height (m) above the cube at which the gripper lines up before descending.
        carry_clearance: height (m) of the cube above the target while carrying it over.
        align_tolerance: xy error (m) below which the gripper descends (or lowers the cube).
    """

    def __init__(
        self,
        gain: float = 25.0,
        hover_height: float = 0.05,
        carry_clearance: float = 0.05,
        align_tolerance: float = 0.006,
    ) -> None:
        """Store the controller settings; see the class docstring."""
        self.gain = gain
        self.hover_height = hover_height
        self.carry_clearance = carry_clearance
        self.align_tolerance = align_tolerance

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        """Action in ``Box(-1, 1, (4,))`` for one observation of shape ``(obs_dim,)``."""
        obs = np.asarray(obs, dtype=np.float64)
        touching = obs[_TOUCH].min() > 0.5
        if touching and abs(obs[_GAP_VEL]) > 0.02 and obs[_GAP] > 2.0 * CUBE_HALF_SIZE - 0.01:
            goal, fingers = obs[_GRIP].copy(), 1.0  # wait for the squeeze to settle
        elif touching:
            goal, fingers = self._carry(obs)
        else:
            goal, fingers = self._approach(obs)
        action = np.empty(4, dtype=np.float32)
        action[:3] = np.clip(self.gain * (goal - obs[_GRIP]), -1.0, 1.0)
        action[3] = fingers
        return action

    def _approach(self, obs: np.ndarray) -> tuple[np.ndarray, float]:
        """Grip-point goal and finger command while the cube is not held."""
        grip, cube = obs[_GRIP], obs[_CUBE]
        placed = np.linalg.norm(obs[_TARGET] - cube) < 0.01
        if placed:  # let go and back off upwards
            return np.array([grip[0], grip[1], cube[2] + self.hover_height]), -1.0
        misaligned = np.linalg.norm(cube[:2] - grip[:2]) > self.align_tolerance
        if misaligned:
            return np.array([cube[0], cube[1], cube[2] + self.hover_height]), -1.0
        if grip[2] - cube[2] > 0.004:
            return cube.copy(), -1.0
        return cube.copy(), 1.0

    def _carry(self, obs: np.ndarray) -> tuple[np.ndarray, float]:
        """Grip-point goal and finger command while the cube is held."""
        grip, cube, target = obs[_GRIP], obs[_CUBE], obs[_TARGET]
        grip_minus_cube = grip - cube
        carry_z = target[2] + self.carry_clearance
        xy_error = np.linalg.norm(target[:2] - cube[:2])
        if xy_error > self.align_tolerance:
            if cube[2] < carry_z - 0.015:  # go up first, then across
                goal = np.array([cube[0], cube[1], carry_z])
            else:
                goal = np.array([target[0], target[1], carry_z])
        elif cube[2] - target[2] > 0.003:
            goal = target.copy()
            goal[2] -= 0.01  # press gently onto the support so the cube comes to rest
        else:
            return grip.copy(), -1.0
        return goal + grip_minus_cube, 1.0


class PickPlaceExpert(ScriptedExpert):
    """Scripted expert of ``PickPlace-v0``: ``action = PickPlaceExpert()(obs)``."""


class StackExpert(ScriptedExpert):
    """Scripted expert of ``Stack-v0``: ``action = StackExpert()(obs)``; carries ``cube_a`` higher."""

    def __init__(self, gain: float = 25.0, hover_height: float = 0.05, carry_clearance: float = 0.06,
                 align_tolerance: float = 0.004) -> None:
        """As ``ScriptedExpert``, with more clearance over ``cube_b`` and a finer alignment."""
        super().__init__(gain, hover_height, carry_clearance, align_tolerance)


__all__ = ["CUBE_HALF_SIZE", "PickPlaceExpert", "ScriptedExpert", "StackExpert"]
