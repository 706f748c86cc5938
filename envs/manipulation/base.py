"""Shared scene logic of the gantry-gripper manipulation envs (``PickPlace-v0``, ``Stack-v0``).

The scene (``envs/assets/gantry_scene.xml``) is a table top and a gripper on a 3-axis gantry: three
position-controlled slide joints move the grip point, and two force-limited position-controlled
finger joints close on a cube, which is held by contact friction only.

Every env of this family is one pick-and-place task: grasp ``cube_a`` and put it down on a *target*
(a marker on the table for ``PickPlace``, the top face of ``cube_b`` for ``Stack``). The task runs
through five stages, computed from the current state (not latched), checked from the last down:

| stage | holds when                                                                    |
|-------|-------------------------------------------------------------------------------|
| 4     | ``cube_a`` is within ``success_threshold`` (xy) of the target                 |
| 3     | ``cube_a`` is grasped and lifted ``lift_height`` above the table              |
| 2     | ``cube_a`` is grasped (both fingers touch it)                                 |
| 1     | the grip point is within ``reach_threshold`` of the centre of ``cube_a``      |
| 0     | otherwise                                                                     |

Success: stage 4, the centre of ``cube_a`` within ``PLACE_HEIGHT_TOLERANCE`` of the target height,
and no finger touches ``cube_a`` (released).
"""

from __future__ import annotations

from os import path
from typing import Any, ClassVar

import mujoco
import numpy as np
from gymnasium import spaces
from gymnasium.envs.mujoco import MujocoEnv

ASSET_DIR = path.join(path.dirname(path.dirname(__file__)), "assets")
"""Folder of the MJCF scenes shipped with the package."""

CUBE_HALF_SIZE = 0.02
"""Half edge length of every cube (m); must match the MJCF."""

PLACE_HEIGHT_TOLERANCE = 0.005
"""How far (m) the placed cube's centre may be above or below the target height for success."""

GRIPPER_OBS_SIZE = 10
"""Gripper block of the observation: position (3), velocity (3), gap (1), gap velocity (1), touch (2)."""

CUBE_OBS_SIZE = 16
"""Cube block: position (3), position minus grip (3), quaternion (4), velocity (3), angular velocity (3)."""

DEFAULT_CAMERA_CONFIG = {
    "distance": 1.0,
    "elevation": -35.0,
    "azimuth": 140.0,
    "lookat": np.array([0.0, 0.0, 0.05]),
}


def check_range(name: str, value: float, low: float, high: float) -> None:
    """Raise ``ValueError`` naming the allowed range unless ``low <= value <= high``."""
    if not low <= value <= high:
        raise ValueError(f"{name} must be in [{low}, {high}], got {value!r}")


class ManipulationEnv(MujocoEnv):
    """Base class: the gantry gripper, one cube to move (``cube_a``) and a target for it.

    Subclasses name their MJCF file and stage labels, sample the objects in ``_place_objects`` and
    say where the target is in ``_target_pos``. Observation, reward, stages and success are computed
    here so that every task of the family reads them the same way; see the module docstring.

    The action is ``Box(-1, 1, (4,))``: ``action[:3]`` is the commanded grip-point velocity in units
    of ``max_speed`` (integrated into the position targets of the gantry, clipped to the workspace),
    ``action[3]`` the finger command, -1 fully open to +1 fully closed (force-limited squeeze).
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["human", "rgb_array", "depth_array"]}
    stage_names: tuple[str, ...] = ("reach", "grasp", "lift", "carry", "place")
    """Label of each stage, indexed by ``info["stage"]``."""
    n_stages: int = 5
    """Number of stages (``len(stage_names)``)."""
    cube_names: tuple[str, ...] = ("cube_a",)
    """Free cubes of the scene, in observation order; the first one is moved to the target."""

    def __init__(
        self,
        xml_file: str,
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
        """Load the scene and cache the ids; see the subclass docstring for every argument."""
        self._check_args(locals())
        self._reward_type = reward_type
        self._stage_weights = np.array(
            [reach_reward_weight, grasp_reward_weight, lift_reward_weight, carry_reward_weight,
             place_reward_weight]
        )
        self._success_reward = success_reward
        self._ctrl_cost_weight = ctrl_cost_weight
        self._max_speed = max_speed
        self._success_threshold = success_threshold
        self._reach_threshold = reach_threshold
        self._lift_height = lift_height
        self._object_range = object_range
        self._reset_noise_scale = reset_noise_scale
        self._terminate_on_success = terminate_on_success
        MujocoEnv.__init__(
            self,
            path.join(ASSET_DIR, xml_file),
            frame_skip,
            observation_space=None,
            render_mode=render_mode,
            width=width,
            height=height,
            default_camera_config=default_camera_config or DEFAULT_CAMERA_CONFIG,
        )
        self.metadata = {**self.metadata, "render_fps": int(np.round(1.0 / self.dt))}
        self._cache_ids()
        obs_size = GRIPPER_OBS_SIZE + CUBE_OBS_SIZE * len(self.cube_names) + 6
        self.observation_space = spaces.Box(-np.inf, np.inf, shape=(obs_size,), dtype=np.float32)
        self._touch = np.zeros(2)

    def _check_args(self, args: dict[str, Any]) -> None:
        """Raise ``ValueError`` with the allowed range for any constructor argument out of it."""
        if not isinstance(args["frame_skip"], (int, np.integer)) or not 1 <= args["frame_skip"] <= 100:
            raise ValueError(f"frame_skip must be an int in [1, 100], got {args['frame_skip']!r}")
        if args["reward_type"] not in ("dense", "sparse"):
            raise ValueError(f"reward_type must be 'dense' or 'sparse', got {args['reward_type']!r}")
        if args["render_mode"] is not None and args["render_mode"] not in self.metadata["render_modes"]:
            raise ValueError(
                f"render_mode must be None or one of {self.metadata['render_modes']}, "
                f"got {args['render_mode']!r}"
            )
        for name in ("reach_reward_weight", "grasp_reward_weight", "lift_reward_weight",
                     "carry_reward_weight", "place_reward_weight", "success_reward", "ctrl_cost_weight"):
            check_range(name, args[name], 0.0, 1e3)
        check_range("max_speed", args["max_speed"], 0.05, 2.0)
        check_range("success_threshold", args["success_threshold"], 0.005, 0.1)
        check_range("reach_threshold", args["reach_threshold"], 0.005, 0.1)
        check_range("lift_height", args["lift_height"], 0.005, 0.2)
        check_range("object_range", args["object_range"], 0.06, 0.2)
        check_range("reset_noise_scale", args["reset_noise_scale"], 0.0, 0.05)
        check_range("width", args["width"], 16, 4096)
        check_range("height", args["height"], 16, 4096)

    def _set_action_space(self) -> spaces.Box:
        """Four normalized commands (grip-point velocity x/y/z, fingers) instead of the 5 actuators."""
        self.action_space = spaces.Box(-1.0, 1.0, shape=(4,), dtype=np.float32)
        return self.action_space

    def _cache_ids(self) -> None:
        """Look every name up once, so that ``step`` indexes arrays only."""
        model = self.model
        geom = lambda name: mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_GEOM, name)  # noqa: E731
        self._cube_qpos = [model.jnt_qposadr[model.joint(name).id] for name in self.cube_names]
        self._cube_qvel = [model.jnt_dofadr[model.joint(name).id] for name in self.cube_names]
        cube = geom("cube_a")
        fingers = (geom("finger_left"), geom("finger_right"))
        # contact pair -> one integer, smaller geom id first: (ncon, 2) -> (ncon,)
        self._touch_keys = np.array([min(f, cube) * model.ngeom + max(f, cube) for f in fingers])
        self._ctrl_low = model.actuator_ctrlrange[:3, 0].copy()
        self._ctrl_high = model.actuator_ctrlrange[:3, 1].copy()
        self._finger_open = float(model.actuator_ctrlrange[3, 1])

    # ------------------------------------------------------------------ task hooks
    def _place_objects(self) -> np.ndarray:
        """Sample the cubes (and target) at reset; return the initial ``qpos``."""
        raise NotImplementedError

    def _target_pos(self) -> np.ndarray:
        """World position (3,) where the centre of ``cube_a`` must end up."""
        raise NotImplementedError

    def _sample_xy(self, n: int, min_distance: float) -> np.ndarray:
        """``n`` points uniform in the object square, pairwise at least ``min_distance`` apart."""
        low, high = -self._object_range, self._object_range
        for _ in range(1000):
            points = self.np_random.uniform(low, high, size=(n, 2))
            gaps = np.linalg.norm(points[:, None] - points[None], axis=-1) + np.eye(n) * min_distance
            if gaps.min() >= min_distance:
                return points
        raise RuntimeError("could not place the objects; raise object_range")

    # ------------------------------------------------------------------ gym API
    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Apply ``action`` for ``frame_skip`` physics steps (read at every call, so it may change)."""
        action = np.clip(np.asarray(action, dtype=np.float64), -1.0, 1.0)
        ctrl = self.data.ctrl
        step = action[:3] * (self._max_speed * self.dt)
        ctrl[:3] = np.clip(ctrl[:3] + step, self._ctrl_low, self._ctrl_high)
        ctrl[3] = ctrl[4] = 0.5 * (1.0 - action[3]) * self._finger_open
        mujoco.mj_step(self.model, self.data, nstep=self.frame_skip)
        self._update_touch()

        stage, is_success = self._get_stage()
        reward, reward_info = self._get_rew(stage, is_success, action)
        observation = self._get_obs()
        info = {"stage": stage, "is_success": is_success, **reward_info}
        terminated = is_success and self._terminate_on_success
        if self.render_mode == "human":
            self.render()
        return observation, reward, terminated, False, info

    def reset_model(self) -> np.ndarray:
        """Gripper above the table centre (open, a little xy noise), objects from ``_place_objects``."""
        qpos = self._place_objects()
        noise = self._reset_noise_scale
        home = np.array([0.0, 0.0, 0.12])
        home[:2] += self.np_random.uniform(-noise, noise, size=2)
        qpos[:3] = home
        qpos[3:5] = self._finger_open
        self.set_state(qpos, np.zeros(self.model.nv))
        self.data.ctrl[:3] = home
        self.data.ctrl[3:5] = self._finger_open
        self._update_touch()
        return self._get_obs()

    def _get_reset_info(self) -> dict[str, Any]:
        """Stage and success of the initial state."""
        stage, is_success = self._get_stage()
        return {"stage": stage, "is_success": is_success}

    # ------------------------------------------------------------------ state read-out
    def _update_touch(self) -> None:
        """``self._touch[i] = 1`` if finger ``i`` (left, right) is in contact with ``cube_a``."""
        ncon = self.data.ncon
        if ncon == 0:
            self._touch[:] = 0.0
            return
        pairs = self.data.contact.geom
        keys = pairs.min(axis=1) * self.model.ngeom + pairs.max(axis=1)
        self._touch[0] = float((keys == self._touch_keys[0]).any())
        self._touch[1] = float((keys == self._touch_keys[1]).any())

    def _get_obs(self) -> np.ndarray:
        """Flat float32 observation; layout in the subclass docstring."""
        qpos, qvel = self.data.qpos, self.data.qvel
        grip = qpos[:3]
        parts = [grip, qvel[:3], [qpos[3] + qpos[4], qvel[3] + qvel[4]], self._touch]
        for adr, dof in zip(self._cube_qpos, self._cube_qvel, strict=True):
            cube = qpos[adr : adr + 3]
            parts += [cube, cube - grip, qpos[adr + 3 : adr + 7], qvel[dof : dof + 6]]
        target = self._target_pos()
        parts += [target, target - qpos[self._cube_qpos[0] : self._cube_qpos[0] + 3]]
        return np.concatenate(parts, dtype=np.float32)

    def _get_stage(self) -> tuple[int, bool]:
        """Current stage (see the module docstring) and success."""
        qpos = self.data.qpos
        adr = self._cube_qpos[0]
        cube = qpos[adr : adr + 3]
        offset = self._target_pos() - cube
        grasped = self._touch[0] > 0.0 and self._touch[1] > 0.0
        if offset[0] ** 2 + offset[1] ** 2 < self._success_threshold**2:
            released = not (self._touch[0] > 0.0 or self._touch[1] > 0.0)
            return 4, bool(released and abs(offset[2]) < PLACE_HEIGHT_TOLERANCE)
        if grasped:
            lifted = cube[2] - CUBE_HALF_SIZE >= self._lift_height
            return (3 if lifted else 2), False
        reach = cube - qpos[:3]
        return (1 if reach @ reach < self._reach_threshold**2 else 0), False

    def _stage_progress(self, stage: int) -> float:
        """Progress in [0, 1] through the current stage (the shaping term of the dense reward)."""
        qpos = self.data.qpos
        adr = self._cube_qpos[0]
        cube = qpos[adr : adr + 3]
        if stage == 0:
            return 1.0 - np.tanh(10.0 * np.linalg.norm(cube - qpos[:3]))
        if stage == 1:
            gap = qpos[3] + qpos[4]
            return 1.0 - np.tanh(50.0 * max(gap - 2.0 * CUBE_HALF_SIZE, 0.0))
        if stage == 2:
            return min(max((cube[2] - CUBE_HALF_SIZE) / self._lift_height, 0.0), 1.0)
        offset = self._target_pos() - cube
        if stage == 3:
            return 1.0 - np.tanh(10.0 * np.hypot(offset[0], offset[1]))
        released = 1.0 - 0.5 * (self._touch[0] + self._touch[1])
        return 0.5 * (1.0 - np.tanh(50.0 * abs(offset[2]))) + 0.5 * released

    def _get_rew(self, stage: int, is_success: bool, action: np.ndarray) -> tuple[float, dict[str, float]]:
        """Staged reward, <= 0 until success so that finishing early pays; see the subclass docstring.

        Stage term ``k`` is ``-w_k * (1 - c_k)`` with ``c_k`` = 1 for finished stages, the progress
        through the current stage for ``k == stage`` and 0 for stages ahead.
        """
        completion = np.zeros(self.n_stages)
        completion[:stage] = 1.0
        completion[stage] = 1.0 if is_success else self._stage_progress(stage)
        terms = -self._stage_weights * (1.0 - completion)
        success = self._success_reward * float(is_success)
        ctrl_cost = self._ctrl_cost_weight * float(action @ action)
        reward_info = {f"reward_{name}": float(t) for name, t in zip(self.stage_names, terms, strict=True)}
        reward_info["reward_success"] = success
        reward_info["reward_ctrl"] = -ctrl_cost
        if self._reward_type == "sparse":
            reward = float(is_success) - 1.0
        else:
            reward = float(terms.sum()) + success - ctrl_cost
        return reward, reward_info
