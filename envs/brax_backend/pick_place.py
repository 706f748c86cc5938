"""``BraxPickPlace-v0``: the ``PickPlace-v0`` task on MuJoCo MJX inside a Brax ``PipelineEnv``.

One source of truth: the env loads the MJCF model, validates its arguments and reads every task
constant (action scaling, workspace, stage thresholds, reward weights, finger opening, indices)
from a ``PickPlaceEnv`` built with the same arguments (``PickPlaceTask.from_mujoco_env``). What is
re-written here is only the arithmetic of ``envs.manipulation.base.ManipulationEnv`` (observation,
touch flags, stages, staged reward, reset sampling) in JAX, function by function with the same
names, so that it can be jitted and vmapped.

Differences from ``PickPlace-v0`` (MuJoCo C), documented in ``docs/brax.md``:

- MJX in float32 (JAX's default) instead of float64;
- MJX's collision and solver (fixed contact slots, no warm start) instead of MuJoCo C's;
- ``frame_skip`` is fixed at construction (the C env allows changing it between steps);
- reset sampling uses JAX's PRNG, so a seed gives other (equally distributed) layouts;
- no rendering.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from envs.brax_backend import BRAX_INSTALL_HINT, without_warp_notice
from envs.manipulation.base import CUBE_HALF_SIZE, CUBE_OBS_SIZE, GRIPPER_OBS_SIZE, PLACE_HEIGHT_TOLERANCE
from envs.manipulation.pick_place import PickPlaceEnv

try:
    with without_warp_notice():
        import jax
        from brax.envs.base import PipelineEnv, State
        from brax.io import mjcf
        from jax import numpy as jnp
except ImportError as err:  # pragma: no cover - exercised only without the extra
    raise ImportError(BRAX_INSTALL_HINT) from err

HOME = (0.0, 0.0, 0.12)
"""Grip point at reset before the xy noise; ``ManipulationEnv.reset_model`` uses the same."""

MIN_OBJECT_DISTANCE = 0.1
"""Minimum xy distance (m) between cube and target at reset, as in ``PickPlaceEnv._place_objects``."""


@dataclass(frozen=True)
class PickPlaceTask:
    """Constants of the task, read from a MuJoCo ``PickPlaceEnv`` so that both back ends agree.

    Attributes:
        stage_weights: ``w_k`` of the five stage terms, shape ``(5,)``.
        success_reward: bonus on the success step.
        ctrl_cost_weight: weight of ``|action|^2``.
        dense: ``reward_type == "dense"``.
        max_speed: grip-point speed (m/s) at action 1.
        success_threshold: xy radius (m) of the target.
        reach_threshold: grip-to-cube distance (m) that ends "reach".
        lift_height: cube bottom height (m) that ends "lift".
        object_range: half side (m) of the square where cube and target are sampled.
        reset_noise_scale: gripper start noise (m).
        terminate_on_success: end the episode on success.
        frame_skip: physics steps per env step.
        ctrl_low: lower gantry position targets, shape ``(3,)``.
        ctrl_high: upper gantry position targets, shape ``(3,)``.
        finger_open: finger position target when fully open.
        cube_qpos: address of ``cube_a``'s free joint in ``qpos``.
        cube_qvel: address of ``cube_a``'s free joint in ``qvel``.
        touch_keys: ``min(g1, g2) * ngeom + max(g1, g2)`` of (left finger, cube), (right finger, cube).
        ngeom: number of geoms of the model.
        init_qpos: ``qpos`` of the model file, shape ``(nq,)``.
    """

    stage_weights: np.ndarray
    success_reward: float
    ctrl_cost_weight: float
    dense: bool
    max_speed: float
    success_threshold: float
    reach_threshold: float
    lift_height: float
    object_range: float
    reset_noise_scale: float
    terminate_on_success: bool
    frame_skip: int
    ctrl_low: np.ndarray
    ctrl_high: np.ndarray
    finger_open: float
    cube_qpos: int
    cube_qvel: int
    touch_keys: np.ndarray
    ngeom: int
    init_qpos: np.ndarray

    @classmethod
    def from_mujoco_env(cls, env: PickPlaceEnv) -> PickPlaceTask:
        """Read the constants of a built ``PickPlaceEnv`` (the only place that reads its internals)."""
        return cls(
            stage_weights=np.asarray(env._stage_weights, dtype=np.float32),
            success_reward=float(env._success_reward),
            ctrl_cost_weight=float(env._ctrl_cost_weight),
            dense=env._reward_type == "dense",
            max_speed=float(env._max_speed),
            success_threshold=float(env._success_threshold),
            reach_threshold=float(env._reach_threshold),
            lift_height=float(env._lift_height),
            object_range=float(env._object_range),
            reset_noise_scale=float(env._reset_noise_scale),
            terminate_on_success=bool(env._terminate_on_success),
            frame_skip=int(env.frame_skip),
            ctrl_low=np.asarray(env._ctrl_low, dtype=np.float32),
            ctrl_high=np.asarray(env._ctrl_high, dtype=np.float32),
            finger_open=float(env._finger_open),
            cube_qpos=int(env._cube_qpos[0]),
            cube_qvel=int(env._cube_qvel[0]),
            touch_keys=np.asarray(env._touch_keys, dtype=np.int32),
            ngeom=int(env.model.ngeom),
            init_qpos=np.asarray(env.init_qpos, dtype=np.float32),
        )


class BraxPickPlace(PipelineEnv):
    """``PickPlace-v0`` as a Brax ``PipelineEnv`` on the MJX back end (one env; vmap for a batch).

    Action ``(4,)`` in [-1, 1], observation ``(32,)``, stages, rewards, success and termination are
    those of ``envs.manipulation.pick_place.PickPlaceEnv`` (see its docstring). ``State.metrics``
    carries ``stage``, ``is_success`` and every ``reward_*`` term (as floats); ``State.info`` carries
    ``target`` ``(3,)``. The time limit is applied by ``envs.brax_backend.vec_env.BraxVecEnv``.

    Args:
        kwargs: the constructor arguments of ``PickPlaceEnv`` except the rendering ones; they are
            validated by ``PickPlaceEnv`` itself (``ValueError`` naming the allowed range).
    """

    def __init__(self, **kwargs: Any) -> None:
        """Build a ``PickPlaceEnv`` once to validate ``kwargs`` and read the model and constants."""
        for name in ("render_mode", "width", "height", "default_camera_config"):
            if name in kwargs:
                raise ValueError(f"BraxPickPlace does not render: remove the {name!r} argument")
        mj_env = PickPlaceEnv(**kwargs)
        self.task = PickPlaceTask.from_mujoco_env(mj_env)
        sys = mjcf.load_model(mj_env.model)
        mj_env.close()
        super().__init__(sys=sys, backend="mjx", n_frames=self.task.frame_skip)

    @property
    def observation_size(self) -> int:
        """32 floats, as ``PickPlaceEnv`` (static, so no trace of ``reset`` is needed)."""
        return GRIPPER_OBS_SIZE + CUBE_OBS_SIZE + 6

    @property
    def action_size(self) -> int:
        """Four normalized commands: grip-point velocity x/y/z and fingers."""
        return 4

    # ------------------------------------------------------------------ Brax API
    def reset(self, rng: jax.Array) -> State:
        """Sample cube, target and gripper start (``PickPlaceEnv.reset_model``) and settle nothing."""
        key_objects, key_noise = jax.random.split(rng)
        cube_xy, target_xy = sample_objects(key_objects, self.task.object_range)
        noise = self.task.reset_noise_scale
        home = jnp.asarray(HOME).at[:2].add(jax.random.uniform(key_noise, (2,), minval=-noise, maxval=noise))
        target = jnp.concatenate([target_xy, jnp.array([CUBE_HALF_SIZE])])
        return self.reset_to(initial_qpos(self.task, home, cube_xy), home, target)

    def reset_to(self, qpos: jax.Array, home: jax.Array, target: jax.Array) -> State:
        """State at rest with ``qpos`` ``(nq,)``, gantry targets ``home`` ``(3,)``, ``target`` ``(3,)``.

        The fingers are commanded open, as after ``PickPlaceEnv.reset``; used by ``reset`` and to
        start from the same state as a MuJoCo C env (parity tests).
        """
        finger = jnp.full((2,), self.task.finger_open)
        ctrl = jnp.concatenate([home, finger])
        pipeline_state = self.pipeline_init(qpos, jnp.zeros(self.sys.nv), ctrl=ctrl)
        touch = touch_flags(self.task, pipeline_state.contact)
        stage, is_success = get_stage(self.task, pipeline_state.qpos, touch, target)
        _, reward_info = get_rew(self.task, pipeline_state.qpos, touch, target, stage, is_success, jnp.zeros(4))
        obs = get_obs(self.task, pipeline_state.qpos, pipeline_state.qvel, touch, target)
        metrics = {"stage": stage.astype(jnp.float32), "is_success": is_success.astype(jnp.float32), **reward_info}
        zero = jnp.zeros(())
        return State(pipeline_state, obs, zero, zero, metrics, {"target": target})

    def step(self, state: State, action: jax.Array) -> State:
        """Apply ``action`` ``(4,)`` for ``frame_skip`` MJX steps (``ManipulationEnv.step``)."""
        task = self.task
        action = jnp.clip(action, -1.0, 1.0)
        arm = state.pipeline_state.ctrl[:3] + action[:3] * (task.max_speed * self.dt)
        arm = jnp.clip(arm, task.ctrl_low, task.ctrl_high)
        finger = 0.5 * (1.0 - action[3]) * task.finger_open
        ctrl = jnp.concatenate([arm, jnp.stack([finger, finger])])
        pipeline_state = self.pipeline_step(state.pipeline_state, ctrl)

        target = state.info["target"]
        qpos, qvel = pipeline_state.qpos, pipeline_state.qvel
        touch = touch_flags(task, pipeline_state.contact)
        stage, is_success = get_stage(task, qpos, touch, target)
        reward, reward_info = get_rew(task, qpos, touch, target, stage, is_success, action)
        obs = get_obs(task, qpos, qvel, touch, target)
        done = jnp.logical_and(is_success, task.terminate_on_success).astype(jnp.float32)
        metrics = {"stage": stage.astype(jnp.float32), "is_success": is_success.astype(jnp.float32), **reward_info}
        return state.replace(pipeline_state=pipeline_state, obs=obs, reward=reward, done=done, metrics=metrics)


# ---------------------------------------------------------------------- task arithmetic (one env)
def sample_objects(rng: jax.Array, object_range: float) -> tuple[jax.Array, jax.Array]:
    """Cube and target xy ``(2,)`` each, uniform in the square, at least ``MIN_OBJECT_DISTANCE`` apart.

    Rejection sampling of both points together, as ``ManipulationEnv._sample_xy``.
    """

    def draw(key: jax.Array) -> jax.Array:
        return jax.random.uniform(key, (2, 2), minval=-object_range, maxval=object_range)

    def too_close(carry: tuple[jax.Array, jax.Array]) -> jax.Array:
        points, _ = carry
        return jnp.sum((points[0] - points[1]) ** 2) < MIN_OBJECT_DISTANCE**2

    def redraw(carry: tuple[jax.Array, jax.Array]) -> tuple[jax.Array, jax.Array]:
        _, key = carry
        key, sub = jax.random.split(key)
        return draw(sub), key

    key, sub = jax.random.split(rng)
    points, _ = jax.lax.while_loop(too_close, redraw, (draw(sub), key))
    return points[0], points[1]


def initial_qpos(task: PickPlaceTask, home: jax.Array, cube_xy: jax.Array) -> jax.Array:
    """``qpos`` ``(nq,)``: gripper at ``home`` and open, ``cube_a`` upright on the table at ``cube_xy``."""
    qpos = jnp.asarray(task.init_qpos)
    qpos = qpos.at[:3].set(home).at[3:5].set(task.finger_open)
    cube = jnp.concatenate([cube_xy, jnp.array([CUBE_HALF_SIZE, 1.0, 0.0, 0.0, 0.0])])
    return qpos.at[task.cube_qpos : task.cube_qpos + 7].set(cube)


def touch_flags(task: PickPlaceTask, contact: Any) -> jax.Array:
    """``(2,)`` floats: 1 where the left / right finger is in contact with ``cube_a``.

    MJX keeps a fixed slot per candidate contact; a slot is a contact (as in MuJoCo C's
    ``data.contact``) when its distance is below its margin.
    """
    if contact is None:
        return jnp.zeros(2)
    g1, g2 = contact.geom1, contact.geom2
    keys = jnp.minimum(g1, g2) * task.ngeom + jnp.maximum(g1, g2)  # (c,)
    active = contact.dist < contact.includemargin  # (c,)
    hits = (keys[None, :] == jnp.asarray(task.touch_keys)[:, None]) & active[None, :]  # (2, c)
    return jnp.any(hits, axis=1).astype(jnp.float32)


def get_obs(task: PickPlaceTask, qpos: jax.Array, qvel: jax.Array, touch: jax.Array, target: jax.Array) -> jax.Array:
    """Flat ``(32,)`` observation, layout of ``PickPlaceEnv`` (``ManipulationEnv._get_obs``)."""
    adr, dof = task.cube_qpos, task.cube_qvel
    grip, cube = qpos[:3], qpos[adr : adr + 3]
    gap = jnp.stack([qpos[3] + qpos[4], qvel[3] + qvel[4]])
    parts = [grip, qvel[:3], gap, touch, cube, cube - grip, qpos[adr + 3 : adr + 7], qvel[dof : dof + 6],
             target, target - cube]
    return jnp.concatenate(parts).astype(jnp.float32)


def get_stage(task: PickPlaceTask, qpos: jax.Array, touch: jax.Array, target: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Stage (int32 scalar) and success (bool scalar), as ``ManipulationEnv._get_stage``."""
    cube = qpos[task.cube_qpos : task.cube_qpos + 3]
    offset = target - cube
    at_target = offset[0] ** 2 + offset[1] ** 2 < task.success_threshold**2
    grasped = (touch[0] > 0.0) & (touch[1] > 0.0)
    released = ~((touch[0] > 0.0) | (touch[1] > 0.0))
    lifted = cube[2] - CUBE_HALF_SIZE >= task.lift_height
    reach = cube - qpos[:3]
    reached = reach @ reach < task.reach_threshold**2
    stage = jnp.where(at_target, 4, jnp.where(grasped, jnp.where(lifted, 3, 2), jnp.where(reached, 1, 0)))
    is_success = at_target & released & (jnp.abs(offset[2]) < PLACE_HEIGHT_TOLERANCE)
    return stage.astype(jnp.int32), is_success


def stage_progress(task: PickPlaceTask, qpos: jax.Array, touch: jax.Array, target: jax.Array) -> jax.Array:
    """Progress in [0, 1] through each of the five stages ``(5,)`` (``ManipulationEnv._stage_progress``)."""
    cube = qpos[task.cube_qpos : task.cube_qpos + 3]
    offset = target - cube
    gap = qpos[3] + qpos[4]
    released = 1.0 - 0.5 * (touch[0] + touch[1])
    return jnp.stack([
        1.0 - jnp.tanh(10.0 * jnp.linalg.norm(cube - qpos[:3])),
        1.0 - jnp.tanh(50.0 * jnp.maximum(gap - 2.0 * CUBE_HALF_SIZE, 0.0)),
        jnp.clip((cube[2] - CUBE_HALF_SIZE) / task.lift_height, 0.0, 1.0),
        1.0 - jnp.tanh(10.0 * jnp.sqrt(offset[0] ** 2 + offset[1] ** 2)),
        0.5 * (1.0 - jnp.tanh(50.0 * jnp.abs(offset[2]))) + 0.5 * released,
    ])


def get_rew(
    task: PickPlaceTask,
    qpos: jax.Array,
    touch: jax.Array,
    target: jax.Array,
    stage: jax.Array,
    is_success: jax.Array,
    action: jax.Array,
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """Staged reward and its terms, as ``ManipulationEnv._get_rew``."""
    index = jnp.arange(5)
    progress = jnp.where(is_success, 1.0, stage_progress(task, qpos, touch, target)[stage])
    completion = jnp.where(index < stage, 1.0, jnp.where(index == stage, progress, 0.0))  # (5,)
    terms = -jnp.asarray(task.stage_weights) * (1.0 - completion)
    success = task.success_reward * is_success.astype(jnp.float32)
    ctrl_cost = task.ctrl_cost_weight * action @ action
    names = PickPlaceEnv.stage_names
    reward_info = {f"reward_{name}": terms[i] for i, name in enumerate(names)}
    reward_info["reward_success"] = success
    reward_info["reward_ctrl"] = -ctrl_cost
    if task.dense:
        reward = terms.sum() + success - ctrl_cost
    else:
        reward = is_success.astype(jnp.float32) - 1.0
    return reward.astype(jnp.float32), reward_info
