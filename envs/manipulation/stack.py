"""``Stack-v0``: put one cube on top of another with a gantry gripper."""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import utils

from envs.manipulation.base import CUBE_HALF_SIZE, ManipulationEnv


class StackEnv(ManipulationEnv, utils.EzPickle):
    r"""
    ## Description
    The gantry gripper of ``PickPlace-v0`` over a table with two 4 cm cubes: red ``cube_a`` and blue
    ``cube_b`` (0.1 kg each). The task is to put ``cube_a`` on top of ``cube_b``. Grasps hold by
    friction only, and ``cube_b`` is free: knocking it over or pushing it away is possible.

    Stages (``info["stage"]``, labels in ``stage_names``), computed from the current state every step
    and checked from 4 down; the *target* is the centre ``cube_a`` has when it sits on ``cube_b``
    (``cube_b`` position + 0.04 m in z):

    | stage | name    | holds when                                                                 |
    |-------|---------|----------------------------------------------------------------------------|
    | 0     | reach   | none of the below                                                          |
    | 1     | grasp   | grip point within ``reach_threshold`` of the centre of ``cube_a``          |
    | 2     | lift    | both fingers touch ``cube_a``                                              |
    | 3     | carry   | ``cube_a`` grasped and its bottom ``lift_height`` above the table           |
    | 4     | stack   | ``cube_a`` within ``success_threshold`` of the target in xy (over ``cube_b``)|

    ## Action Space
    ``Box(-1, 1, (4,), float32)``, as in ``PickPlace-v0``: grip-point velocity command x/y/z in units
    of ``max_speed`` and the finger command (-1 open ... +1 closed).

    ## Observation Space
    ``Box(-inf, inf, (48,), float32)``; positions in metres, world frame, table top at z = 0.

    | Num   | Observation                                                   |
    |-------|---------------------------------------------------------------|
    | 0-2   | grip point position                                           |
    | 3-5   | grip point velocity                                           |
    | 6     | finger gap (distance between the finger inner faces)          |
    | 7     | finger gap velocity                                           |
    | 8-9   | touch: left / right finger in contact with ``cube_a`` (0 or 1)|
    | 10-12 | ``cube_a`` position                                           |
    | 13-15 | ``cube_a`` position minus grip point position                 |
    | 16-19 | ``cube_a`` orientation quaternion (w, x, y, z)                |
    | 20-22 | ``cube_a`` linear velocity                                    |
    | 23-25 | ``cube_a`` angular velocity (cube frame)                      |
    | 26-41 | ``cube_b``: the same 16 values                                |
    | 42-44 | target: ``cube_b`` position + (0, 0, 0.04)                    |
    | 45-47 | target minus ``cube_a`` position                              |

    ## Rewards
    The staged reward of ``PickPlace-v0`` with the target on top of ``cube_b``: terms
    ``reward_reach``, ``reward_grasp``, ``reward_lift``, ``reward_carry``, ``reward_stack`` (each
    ``-w_k * (1 - c_k)``, weights ``reach/grasp/lift/carry/place_reward_weight``),
    ``reward_success`` and ``reward_ctrl``; <= 0 until success. ``reward_type="sparse"``: 0 on
    success, else -1. ``info`` carries every term, ``stage`` and ``is_success``.

    ## Starting State
    The gripper is open at (0, 0, 0.12) plus uniform xy noise in ``[-reset_noise_scale,
    reset_noise_scale]``. Both cubes rest upright on the table at xy uniform in
    ``[-object_range, object_range]^2``, at least 0.1 m apart (so the open fingers clear ``cube_b``
    when they come down on ``cube_a``).

    ## Episode End
    - Termination: on success (``terminate_on_success=True``, default): ``cube_a`` within
      ``success_threshold`` (default 0.015 m) of the target in xy, within 5 mm of it in height (resting on
      ``cube_b``, which therefore still stands on the table) and released by both fingers.
    - Truncation: by the ``TimeLimit`` of the registration (300 steps = 12 s at the default ``dt``).

    ## Arguments
    The arguments of ``PickPlace-v0`` (see ``envs.manipulation.pick_place.PickPlaceEnv``), with
    ``place_reward_weight`` weighting the "stack" stage and ``success_threshold`` defaulting to
    0.015 m, tighter than for ``PickPlace-v0`` because a cube more than 2 cm off-centre falls off.
    Out-of-range values raise ``ValueError`` naming the allowed range.

    ## Version History
    * v0: initial version.
    """

    stage_names: tuple[str, ...] = ("reach", "grasp", "lift", "carry", "stack")
    cube_names: tuple[str, ...] = ("cube_a", "cube_b")

    def __init__(
        self,
        frame_skip: int = 8,
        reward_type: str = "dense",
        reach_reward_weight: float = 1.0,
        grasp_reward_weight: float = 1.0,
        lift_reward_weight: float = 1.0,
        carry_reward_weight: float = 1.0,
        place_reward_weight: float = 1.0,
        success_reward: float = 1.0,
        ctrl_cost_weight: float = 0.0,
        max_speed: float = 0.5,
        success_threshold: float = 0.015,
        reach_threshold: float = 0.02,
        lift_height: float = 0.03,
        object_range: float = 0.15,
        reset_noise_scale: float = 0.02,
        terminate_on_success: bool = True,
        render_mode: str | None = None,
        width: int = 320,
        height: int = 240,
        default_camera_config: dict[str, Any] | None = None,
    ) -> None:
        """Build the env; every argument is described in the class docstring."""
        kwargs = {k: v for k, v in locals().items() if k not in ("self", "__class__")}
        utils.EzPickle.__init__(self, **kwargs)
        ManipulationEnv.__init__(self, "stack.xml", **kwargs)
        self._target = np.zeros(3)

    def _place_objects(self) -> np.ndarray:
        """Both cubes upright on the table, xy uniform in the object square, at least 0.1 m apart."""
        positions = self._sample_xy(2, min_distance=0.1)
        qpos = self.init_qpos.copy()
        for adr, xy in zip(self._cube_qpos, positions, strict=True):
            qpos[adr : adr + 7] = [*xy, CUBE_HALF_SIZE, 1.0, 0.0, 0.0, 0.0]
        return qpos

    def _target_pos(self) -> np.ndarray:
        """Centre of ``cube_a`` when it sits on ``cube_b``: the top of ``cube_b`` plus a half cube."""
        adr = self._cube_qpos[1]
        self._target[:] = self.data.qpos[adr : adr + 3]
        self._target[2] += 2.0 * CUBE_HALF_SIZE
        return self._target
