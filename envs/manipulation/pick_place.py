"""``PickPlace-v0``: pick a cube up with a gantry gripper and put it down on a target marker."""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import utils

from envs.manipulation.base import CUBE_HALF_SIZE, ManipulationEnv


class PickPlaceEnv(ManipulationEnv, utils.EzPickle):
    r"""
    ## Description
    A two-finger gripper hangs from a 3-axis gantry over a table with one 4 cm cube (``cube_a``,
    0.1 kg) and a green target marker on the table. The task is to pick the cube up and put it down
    on the target. The cube is held by friction between the force-limited fingers only (no weld, no
    equality constraint), so a weak or off-centre grasp lets it slip or drop.

    The task runs through five stages, computed from the current state every step (dropping the
    cube sends the stage back), and reported as ``info["stage"]`` (labels in ``stage_names``):

    | stage | name    | holds when                                                              |
    |-------|---------|-------------------------------------------------------------------------|
    | 0     | reach   | none of the below                                                       |
    | 1     | grasp   | grip point within ``reach_threshold`` of the cube centre                 |
    | 2     | lift    | both fingers touch the cube                                              |
    | 3     | carry   | both fingers touch the cube and its bottom is ``lift_height`` above table|
    | 4     | place   | cube centre within ``success_threshold`` of the target in xy             |

    Stages are checked from 4 down, so "grasp" means "positioned at the cube, now close the fingers".

    ## Action Space
    ``Box(-1, 1, (4,), float32)``.

    | Num | Action                                                     | Unit                    |
    |-----|------------------------------------------------------------|-------------------------|
    | 0   | grip-point velocity command along x                        | ``max_speed`` (m/s)     |
    | 1   | grip-point velocity command along y                        | ``max_speed`` (m/s)     |
    | 2   | grip-point velocity command along z                        | ``max_speed`` (m/s)     |
    | 3   | fingers: -1 fully open (8 cm gap) ... +1 fully closed      | position target          |

    Each step moves the gantry's position targets by ``action[:3] * max_speed * dt`` (clipped to the
    workspace x, y in [-0.25, 0.25] m, z in [0.012, 0.3] m); stiff position servos follow them. The
    finger command sets the finger position targets; the finger actuators are force-limited to 10 N
    each, which is the squeeze on a held cube.

    ## Observation Space
    ``Box(-inf, inf, (32,), float32)``; positions in metres in the world frame (table top at z = 0).

    | Num   | Observation                                                   |
    |-------|---------------------------------------------------------------|
    | 0-2   | grip point position                                           |
    | 3-5   | grip point velocity                                           |
    | 6     | finger gap (distance between the finger inner faces)          |
    | 7     | finger gap velocity                                           |
    | 8-9   | touch: left / right finger in contact with the cube (0 or 1)  |
    | 10-12 | cube position                                                 |
    | 13-15 | cube position minus grip point position                       |
    | 16-19 | cube orientation quaternion (w, x, y, z)                      |
    | 20-22 | cube linear velocity                                          |
    | 23-25 | cube angular velocity (cube frame)                            |
    | 26-28 | target position (cube centre when placed: z = 0.02)           |
    | 29-31 | target position minus cube position                           |

    ## Rewards
    ``reward_type="dense"`` (default): a staged reward that is <= 0 until success, so an agent gains
    by finishing early. With ``c_k`` = 1 for stages already passed, the progress through the current
    stage for ``k = stage`` and 0 for stages ahead, and ``w_k`` the ``*_reward_weight`` arguments:

    - ``reward_<stage name> = -w_k * (1 - c_k)`` for the five stages, where the progress is
      reach: ``1 - tanh(10 |cube - grip|)``; grasp: ``1 - tanh(50 max(gap - 0.04, 0))``;
      lift: cube bottom height / ``lift_height`` (clipped to [0, 1]); carry:
      ``1 - tanh(10 |cube_xy - target_xy|)``; place: half for the cube height at the target
      (``1 - tanh(50 |dz|)``), half for the fingers letting go;
    - ``reward_success = success_reward`` on the success step (all stage terms are then 0);
    - ``reward_ctrl = -ctrl_cost_weight * |action|^2``.

    ``reward = sum of the above``. ``reward_type="sparse"``: ``reward = 0`` on success, else -1.
    ``info`` carries every term above in either mode, with ``stage`` and ``is_success``.

    ## Starting State
    The gripper is open at (0, 0, 0.12) plus uniform xy noise in ``[-reset_noise_scale,
    reset_noise_scale]``. The cube rests on the table and the target lies on the table, both at
    xy uniform in ``[-object_range, object_range]^2`` and at least 0.1 m apart (``np_random``).

    ## Episode End
    - Termination: on success (``terminate_on_success=True``, default): the cube is within
      ``success_threshold`` of the target in xy, within 5 mm of it in height (resting on the table)
      and no finger touches it.
    - Truncation: by the ``TimeLimit`` of the registration (200 steps = 8 s at the default ``dt``).

    ## Arguments
    ``gymnasium.make("PickPlace-v0", **kwargs)`` with

    | Parameter              | Default  | Description                                                    |
    |------------------------|----------|----------------------------------------------------------------|
    | ``frame_skip``         | 8        | 5 ms physics steps per env step (``dt = 0.005 * frame_skip``)   |
    | ``reward_type``        | "dense"  | "dense" or "sparse"                                            |
    | ``reach_reward_weight``| 1.0      | ``w_0``                                                        |
    | ``grasp_reward_weight``| 1.0      | ``w_1``                                                        |
    | ``lift_reward_weight`` | 1.0      | ``w_2``                                                        |
    | ``carry_reward_weight``| 1.0      | ``w_3``                                                        |
    | ``place_reward_weight``| 1.0      | ``w_4``                                                        |
    | ``success_reward``     | 1.0      | bonus on the success step                                      |
    | ``ctrl_cost_weight``   | 0.0      | weight of the squared action                                   |
    | ``max_speed``          | 0.5      | grip-point speed (m/s) at action 1, in [0.05, 2]               |
    | ``success_threshold``  | 0.03     | xy radius (m) of the target, in [0.005, 0.1]                   |
    | ``reach_threshold``    | 0.02     | grip-to-cube distance (m) that ends "reach", in [0.005, 0.1]   |
    | ``lift_height``        | 0.03     | cube bottom height (m) that ends "lift", in [0.005, 0.2]       |
    | ``object_range``       | 0.15     | half side (m) of the cube / target square, in [0.06, 0.2]      |
    | ``reset_noise_scale``  | 0.02     | gripper start noise (m), in [0, 0.05]                          |
    | ``terminate_on_success``| True    | end the episode on success                                     |
    | ``render_mode``        | None     | None, "human", "rgb_array" or "depth_array"                    |
    | ``width``, ``height``  | 320, 240 | rendered frame size                                            |

    ``frame_skip`` is an int in [1, 100]; ``env.unwrapped.frame_skip`` may be changed between steps
    (``dt`` follows, and the velocity commands stay in m/s). Out-of-range values raise ``ValueError``
    naming the allowed range.

    ## Version History
    * v0: initial version.
    """

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
        success_threshold: float = 0.03,
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
        self._target = np.array([0.0, 0.0, CUBE_HALF_SIZE])
        ManipulationEnv.__init__(self, "pick_place.xml", **kwargs)
        self._target_site = self.model.site("target").id

    def _place_objects(self) -> np.ndarray:
        """Cube and target xy uniform in the object square, at least 0.1 m apart."""
        cube_xy, target_xy = self._sample_xy(2, min_distance=0.1)
        self._target = np.array([*target_xy, CUBE_HALF_SIZE])
        self.model.site_pos[self._target_site] = self._target
        qpos = self.init_qpos.copy()
        adr = self._cube_qpos[0]
        qpos[adr : adr + 7] = [*cube_xy, CUBE_HALF_SIZE, 1.0, 0.0, 0.0, 0.0]
        return qpos

    def _target_pos(self) -> np.ndarray:
        """The target marker's position (sampled at reset)."""
        return self._target
