"""One Brax env as a Gymnasium env: ``gymnasium.make("BraxPickPlace-v0")``, ``gymnasium.make("brax/ant")``.

Training uses the batched ``BraxVecEnv``; this single-env view serves what needs the Gymnasium API:
``evaluate.py`` (episodes, videos, plan-token traces), the plain Gymnasium loop of a loaded policy,
and Gymnasium's own checker. Reset and step are jitted once per env object (about 30 s on 2 CPU
cores); a step then costs a few milliseconds, so use ``BraxVecEnv`` for throughput.

Rendering (``render_mode="rgb_array"``) copies the MJX positions into a MuJoCo C ``MjData`` of the
same model and draws it with MuJoCo's renderer; ``BraxPickPlace-v0`` uses ``PickPlace-v0``'s camera.
"""

from __future__ import annotations

from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from envs.brax_backend import BRAX_INSTALL_HINT
from envs.brax_backend.vec_env import enable_compilation_cache, make_brax_env, metric_info, without_weak_types

try:
    import jax
    import mujoco
    from jax import numpy as jnp
except ImportError as err:  # pragma: no cover - exercised only without the extra
    raise ImportError(BRAX_INSTALL_HINT) from err


class BraxGymEnv(gym.Env):
    """``make_brax_env(name, **kwargs)`` behind ``gymnasium.Env`` (float32 Box spaces, actions in [-1, 1]).

    The step limit is Gymnasium's ``TimeLimit`` from the registration (200 steps for
    ``BraxPickPlace-v0``, 1000 for ``brax/<name>``). ``info`` carries ``stage`` and ``is_success``
    when the env reports them, and every ``reward_*`` term of ``State.metrics``.

    Args:
        name: ``"BraxPickPlace-v0"`` or ``"brax/<name>"``.
        render_mode: ``None`` or ``"rgb_array"``.
        width: rendered image width (pixels).
        height: rendered image height (pixels).
        kwargs: the Brax env's constructor arguments (``make_brax_env``).
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["rgb_array"], "render_fps": 25}

    def __init__(self, name: str, render_mode: str | None = None, width: int = 320, height: int = 240,
                 **kwargs: Any) -> None:
        """Build the Brax env and jit its reset and step (compiled on first use)."""
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode must be None or 'rgb_array', got {render_mode!r}")
        kwargs.pop("max_episode_steps", None)  # the TimeLimit wrapper applies it
        enable_compilation_cache()
        self.brax_env, _ = make_brax_env(name, **kwargs)
        self.name, self.render_mode, self._size = name, render_mode, (int(height), int(width))
        if hasattr(self.brax_env, "sys"):  # physics envs; Brax's "fast" test env has no system and no dt
            self.dt = float(self.brax_env.dt)
            self.metadata = {**self.metadata, "render_fps": max(round(1.0 / self.dt), 1)}
        obs_shape = jax.eval_shape(self.brax_env.reset, jax.ShapeDtypeStruct((2,), jnp.uint32)).obs.shape
        self.observation_space = spaces.Box(-np.inf, np.inf, shape=obs_shape, dtype=np.float32)
        self.action_space = spaces.Box(-1.0, 1.0, shape=(self.brax_env.action_size,), dtype=np.float32)
        # strong types on both outputs, so that states from reset and from step share one compiled step
        self._reset_fn = jax.jit(lambda key: without_weak_types(self.brax_env.reset(key)))
        self._step_fn = jax.jit(lambda state, action: without_weak_types(self.brax_env.step(state, action)))
        self._state: Any = None
        self._renderer: _Renderer | None = None

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        """Sample a new episode; the Brax PRNG key is drawn from ``self.np_random`` (so ``seed`` fixes it)."""
        super().reset(seed=seed)
        key = jax.random.PRNGKey(int(self.np_random.integers(0, 2**31 - 1)))
        self._state = self._reset_fn(key)
        return np.array(self._state.obs, dtype=np.float32), self._info()

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]:
        """Advance one control step; ``terminated`` is the env's ``done`` (success for ``BraxPickPlace-v0``)."""
        if self._state is None:
            raise RuntimeError("call reset() before step()")
        action = np.asarray(action, dtype=np.float32)
        if action.shape != self.action_space.shape:
            raise ValueError(f"action must have shape {self.action_space.shape}, got {action.shape}")
        self._state = self._step_fn(self._state, jnp.asarray(action))
        obs = np.array(self._state.obs, dtype=np.float32)
        return obs, float(self._state.reward), bool(self._state.done > 0.0), False, self._info()

    def render(self) -> np.ndarray | None:
        """``(height, width, 3)`` uint8 image of the current state (``render_mode="rgb_array"``), else None."""
        if self.render_mode != "rgb_array" or self._state is None:
            return None
        if self._renderer is None:
            if not hasattr(self.brax_env, "sys"):
                raise ValueError(f"{self.name} has no MuJoCo model to render")
            self._renderer = _Renderer(self.brax_env, self.name, *self._size)
        target = self._state.info.get("target")
        return self._renderer.draw(np.asarray(self._state.pipeline_state.qpos),
                                   None if target is None else np.asarray(target))

    def close(self) -> None:
        """Release the renderer."""
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None

    def _info(self) -> dict[str, Any]:
        """``stage`` (int), ``is_success`` (bool) and the ``reward_*`` terms of the current state."""
        metrics = jax.device_get(self._state.metrics)
        return {**{k: float(v) for k, v in metrics.items() if k.startswith("reward_")}, **metric_info(metrics)}


class _Renderer:
    """Draws MJX positions with MuJoCo C: ``PickPlace-v0``'s own renderer, or a tracking camera for Brax's envs."""

    def __init__(self, brax_env: Any, name: str, height: int, width: int) -> None:
        """Build the C model and a renderer of ``height`` x ``width`` pixels."""
        self._pick_place = None
        if name == "BraxPickPlace-v0":
            from envs.manipulation.pick_place import PickPlaceEnv

            self._pick_place = PickPlaceEnv(render_mode="rgb_array", width=width, height=height)
            return
        self._model = brax_env.sys.mj_model
        self._data = mujoco.MjData(self._model)
        self._renderer = mujoco.Renderer(self._model, height, width)
        self._camera = _tracking_camera(self._model, self._data)

    def draw(self, qpos: np.ndarray, target: np.ndarray | None) -> np.ndarray:
        """Image of the model at ``qpos`` (with ``PickPlace-v0``'s target marker at ``target``)."""
        if self._pick_place is not None:
            model, data = self._pick_place.model, self._pick_place.data
            if target is not None:
                model.site_pos[model.site("target").id] = target
            data.qpos[:] = qpos
            mujoco.mj_forward(model, data)
            return self._pick_place.render()
        self._data.qpos[:] = qpos
        mujoco.mj_forward(self._model, self._data)
        self._renderer.update_scene(self._data, camera=self._camera)
        return self._renderer.render()

    def close(self) -> None:
        """Free the GL context."""
        if self._pick_place is not None:
            self._pick_place.close()
        else:
            self._renderer.close()


def _tracking_camera(model: Any, data: Any) -> Any:
    """Camera that follows the first body, far enough to see every body of the model at its initial pose."""
    mujoco.mj_forward(model, data)
    camera = mujoco.MjvCamera()
    camera.type = mujoco.mjtCamera.mjCAMERA_TRACKING
    camera.trackbodyid = 1 if model.nbody > 1 else 0
    spread = np.linalg.norm(data.xpos[1:] - data.xpos[camera.trackbodyid], axis=1).max(initial=0.0)
    camera.distance = max(4.0 * spread, 1.0)
    camera.elevation, camera.azimuth = -25.0, 90.0
    return camera
