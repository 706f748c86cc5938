"""SB3 ``VecEnv`` over a batch of Brax envs, stepped in one jitted, vmapped call.

``BraxVecEnv`` holds the whole batch as one Brax ``State`` pytree with a leading env axis ``e``
and advances it with a single jitted function per ``step`` (physics, rewards, time limit and
auto-reset of finished envs all inside it). Observations come back as numpy arrays, which is what
SB3's rollout buffers store (on CPU the transfer is a copy of ``(e, obs_dim)`` floats; on a GPU it
is one device-to-host copy per step).

SB3 conventions followed (``DummyVecEnv``): ``seed(s)`` makes the next ``reset()`` give env ``i``
the seed ``s + i``; ``reset()`` returns observations only and fills ``reset_infos``; a finished env
is reset inside ``step`` and its last observation is in ``infos[i]["terminal_observation"]``;
``infos[i]["TimeLimit.truncated"]`` is ``True`` when the step limit (not the task) ended it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3.common.vec_env.base_vec_env import VecEnv, VecEnvIndices, VecEnvObs, VecEnvStepReturn

from envs.brax_backend import BRAX_EPISODE_STEPS, BRAX_INSTALL_HINT, without_warp_notice

try:
    with without_warp_notice():
        import jax
        from brax import envs as brax_envs
        from brax.envs.base import Env, State
        from jax import numpy as jnp
except ImportError as err:  # pragma: no cover - exercised only without the extra
    raise ImportError(BRAX_INSTALL_HINT) from err

INFO_METRICS = ("stage", "is_success")
"""Entries of ``State.metrics`` copied into ``infos`` when the env reports them."""

MEMORY_OVERHEAD = 16
"""Working memory of one jitted step as a multiple of the batch state (state in and out, the
auto-reset states and MJX's solver temporaries); a deliberately generous estimate."""

MEMORY_FRACTION = 0.8
"""Part of the free device (or host) memory the batch may plan to use."""

CPU_CHUNK = 128
"""Largest number of envs one vmapped physics call handles on the CPU back end; bigger batches are stepped
chunk by chunk (``jax.lax.map`` inside the same jitted call). At 512 and 1024 envs the whole-batch call
deadlocked on this machine: jaxlib's batched CPU Cholesky (``ParallelBatchMap``, used by MJX) waited
forever for work it had handed to XLA's thread pool, every thread idle. Chunks of 128 never did, and 64 envs already
saturate 2 cores. Accelerators step the whole batch at once."""


class Carry(NamedTuple):
    """Batch state carried from step to step.

    Attributes:
        state: Brax ``State`` with leading axis ``e`` on every leaf.
        steps: ``(e,)`` int32 steps taken in the current episode.
        rng: ``(e, 2)`` uint32 keys for the auto-resets.
    """

    state: State
    steps: jax.Array
    rng: jax.Array


class StepOut(NamedTuple):
    """What one batched step hands back to the host, every field with leading axis ``e``."""

    obs: jax.Array
    terminal_obs: jax.Array
    reward: jax.Array
    terminated: jax.Array
    truncated: jax.Array
    metrics: dict[str, jax.Array]


class TorchStep(NamedTuple):
    """``BraxVecEnv.step_torch``'s result: torch tensors sharing the JAX buffers (leading axis ``e``).

    Attributes:
        obs: ``(e, obs_dim)`` observations after the step (after the auto-reset of finished envs).
        reward: ``(e,)`` rewards.
        terminated: ``(e,)`` bool, the task ended the episode.
        truncated: ``(e,)`` bool, the step limit ended it.
        terminal_obs: ``(e, obs_dim)`` observations before the auto-reset (the last ones of finished envs).
        metrics: ``stage`` / ``is_success`` ``(e,)`` when the env reports them.
    """

    obs: Any
    reward: Any
    terminated: Any
    truncated: Any
    terminal_obs: Any
    metrics: dict[str, Any]


class BraxVecEnv(VecEnv):
    """``n_envs`` copies of a Brax ``Env`` as one SB3 ``VecEnv``.

    Args:
        env: a Brax env (``reset(rng) -> State``, ``step(state, action) -> State``).
        n_envs: batch size, >= 1; checked against the free memory up front (``ValueError``).
        max_episode_steps: step limit; reaching it truncates the episode (``TimeLimit.truncated``).
        seed: seed of the first ``reset()``, as if ``seed(seed)`` had been called; ``None`` = random.

    All envs share the one ``env`` object: ``get_attr``/``env_method`` answer from it (the same value
    for every index) and ``set_attr`` changes it for all envs and recompiles the step. Compiled steps are
    cached on disk (``enable_compilation_cache``).
    """

    def __init__(self, env: Env, n_envs: int, max_episode_steps: int = 1000, seed: int | None = None) -> None:
        """Check the settings, build the spaces and jit the batched reset and step (compiled lazily)."""
        if not isinstance(n_envs, (int, np.integer)) or n_envs < 1:
            raise ValueError(f"n_envs must be an int >= 1, got {n_envs!r}")
        if not isinstance(max_episode_steps, (int, np.integer)) or max_episode_steps < 1:
            raise ValueError(f"max_episode_steps must be an int >= 1, got {max_episode_steps!r}")
        self.env = env
        self.max_episode_steps = int(max_episode_steps)
        self.auto_reset = True
        """Reset finished envs inside ``step`` (SB3's contract); ``False`` lets them run on (tests, eval)."""
        self.render_mode = None
        enable_compilation_cache()
        shapes = jax.eval_shape(env.reset, jax.ShapeDtypeStruct((2,), jnp.uint32))  # no compile, no physics
        check_memory(shapes, int(n_envs))
        observation_space = spaces.Box(-np.inf, np.inf, shape=shapes.obs.shape, dtype=np.float32)
        action_space = spaces.Box(-1.0, 1.0, shape=(env.action_size,), dtype=np.float32)
        super().__init__(int(n_envs), observation_space, action_space)
        self._np_random = np.random.default_rng(seed)
        self._device = jax.devices()[0]
        """Where the batch lives; actions are committed to it, so both step paths share one compiled step."""
        self.chunk = CPU_CHUNK if jax.default_backend() == "cpu" and n_envs > CPU_CHUNK else None
        """Envs per vmapped physics call (``None`` = the whole batch); see ``CPU_CHUNK``."""
        self._carry: Carry | None = None
        self._actions: jax.Array | None = None
        self._compile()
        self.seed(seed)

    def _compile(self) -> None:
        """(Re)build the jitted functions; they compile on their first call."""
        env, chunk = self.env, self.chunk
        self._reset_fn = jax.jit(lambda keys: _reset_batch(env, chunk, keys))
        self._step_fn = jax.jit(
            lambda carry, actions, limit, auto: _step_batch(env, chunk, limit, auto, carry, actions)
        )

    # ------------------------------------------------------------------ VecEnv API
    def seed(self, seed: int | None = None) -> Sequence[int | None]:
        """Env ``i`` gets ``seed + i`` at the next ``reset()`` (random when ``seed`` is None)."""
        if seed is None:
            seed = int(self._np_random.integers(0, np.iinfo(np.uint32).max))
        self._seeds = [int(seed) + i for i in range(self.num_envs)]
        return self._seeds

    def reset(self) -> VecEnvObs:
        """Reset every env (with the seeds of ``seed()`` if set, then fresh ones); ``(e, obs_dim)``."""
        seeds = [s if s is not None else int(self._np_random.integers(0, 2**31 - 1)) for s in self._seeds]
        keys = jax.vmap(jax.random.PRNGKey)(jnp.asarray(np.asarray(seeds, dtype=np.uint32)))  # (e, 2)
        self._carry = self._reset_fn(jax.device_put(keys, self._device))
        self._reset_seeds()
        self._reset_options()
        metrics = jax.device_get(self._carry.state.metrics)
        self.reset_infos = [metric_info({k: v[i] for k, v in metrics.items()}) for i in range(self.num_envs)]
        return np.array(self._carry.state.obs, dtype=np.float32)

    @property
    def state(self) -> State:
        """The batch state (every leaf with leading axis ``e``), e.g. ``state.pipeline_state.xpos``."""
        if self._carry is None:
            raise RuntimeError("call reset() before reading the state")
        return self._carry.state

    def set_state(self, state: State) -> np.ndarray:
        """Continue from ``state`` (leading axis ``e``) with fresh step counters; returns its observations.

        For example ``jax.vmap(BraxPickPlace.reset_to)(...)`` to start from MuJoCo C states. The
        auto-reset keys are kept (drawn at the last ``reset()``).
        """
        if self._carry is None:
            raise RuntimeError("call reset() before set_state()")
        if state.obs.shape != (self.num_envs, *self.observation_space.shape):
            raise ValueError(f"state.obs must have shape {(self.num_envs, *self.observation_space.shape)}")
        carry = Carry(state, jnp.zeros(self.num_envs, dtype=jnp.int32), self._carry.rng)
        self._carry = without_weak_types(jax.device_put(carry, self._device))
        return np.array(state.obs, dtype=np.float32)

    def step_async(self, actions: np.ndarray) -> None:
        """Store ``actions`` ``(e, action_dim)`` for ``step_wait``; a wrong shape raises ``ValueError``."""
        actions = np.asarray(actions, dtype=np.float32)
        self._check_actions(actions.shape, "reset()")
        self._actions = jax.device_put(actions, self._device)

    def step_wait(self) -> VecEnvStepReturn:
        """Step every env once (auto-resetting finished ones); SB3's ``(obs, rewards, dones, infos)``."""
        out = jax.device_get(self._advance(self._actions))
        dones = out.terminated | out.truncated
        infos = [metric_info({k: v[i] for k, v in out.metrics.items()}) for i in range(self.num_envs)]
        for i in np.flatnonzero(dones):
            infos[i]["terminal_observation"] = np.array(out.terminal_obs[i])
            infos[i]["TimeLimit.truncated"] = bool(out.truncated[i])
        return np.array(out.obs), np.array(out.reward, dtype=np.float32), dones, infos

    # ------------------------------------------------------------------ torch path (no host copy)
    def reset_torch(self) -> torch.Tensor:
        """``reset()`` with the observations as a torch tensor on JAX's device, shared through DLPack."""
        self.reset()
        return to_torch(self._carry.state.obs)

    def step_torch(self, actions: torch.Tensor) -> TorchStep:
        """One batched step with torch in and out, for loops that keep the batch on the device.

        ``actions`` ``(e, action_dim)`` reach JAX through DLPack (no copy when JAX and torch share the
        device; otherwise one copy); the results share JAX's buffers (no copy, no host transfer): treat
        them as read-only, clone before changing them. No ``infos`` dicts are built; ``metrics`` holds
        ``stage`` and ``is_success`` as tensors. SB3 itself needs numpy, so its rollouts use ``step``.
        """
        self._check_actions(tuple(actions.shape), "reset_torch()")
        out = self._advance(jax.device_put(from_torch(actions.float()), self._device))
        return TorchStep(obs=to_torch(out.obs), reward=to_torch(out.reward), terminated=to_torch(out.terminated),
                         truncated=to_torch(out.truncated), terminal_obs=to_torch(out.terminal_obs),
                         metrics={k: to_torch(v) for k, v in out.metrics.items()})

    def _check_actions(self, shape: tuple[int, ...], reset_name: str) -> None:
        """``ValueError`` unless ``shape == (n_envs, action_dim)``; ``RuntimeError`` before the first reset."""
        expected = (self.num_envs, *self.action_space.shape)
        if shape != expected:
            raise ValueError(f"actions must have shape {expected} (n_envs, action_dim), got {shape}")
        if self._carry is None:
            raise RuntimeError(f"call {reset_name} before stepping")

    def _advance(self, actions: jax.Array) -> StepOut:
        """Run the jitted batch step on device ``actions``; keeps the new carry, returns the step's outputs."""
        # arguments rather than constants, so that changing them does not recompile
        limit, auto = jnp.int32(self.max_episode_steps), jnp.bool_(self.auto_reset)
        self._carry, out = self._step_fn(self._carry, actions, limit, auto)
        return out

    def close(self) -> None:
        """Drop the batch state (nothing else to release)."""
        self._carry = None

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        """``attr_name`` of the shared env (or of this ``VecEnv`` for ``render_mode``), once per index."""
        owner = self if attr_name == "render_mode" else self.env
        return [getattr(owner, attr_name) for _ in self._get_indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        """Set ``attr_name`` on the shared env for all envs (only ``indices=None``) and recompile."""
        if indices is not None and len(list(self._get_indices(indices))) != self.num_envs:
            raise ValueError("BraxVecEnv envs share one env object: call set_attr with indices=None")
        setattr(self.env, attr_name, value)
        self._compile()

    def env_method(
        self, method_name: str, *method_args: Any, indices: VecEnvIndices = None, **method_kwargs: Any
    ) -> list[Any]:
        """Call ``method_name`` of the shared env once; its result is repeated for every index."""
        result = getattr(self.env, method_name)(*method_args, **method_kwargs)
        return [result for _ in self._get_indices(indices)]

    def env_is_wrapped(self, wrapper_class: type, indices: VecEnvIndices = None) -> list[bool]:
        """Brax envs are never wrapped in Gymnasium wrappers."""
        return [False for _ in self._get_indices(indices)]


# ---------------------------------------------------------------------- jitted batch functions
def _batched(fn: Any, chunk: int | None) -> Any:
    """``fn`` over a leading env axis: ``jax.vmap``, or a ``jax.lax.map`` over vmapped chunks of ``chunk`` envs
    (the ``e % chunk`` remaining envs in one more vmap). Shapes are written out, so empty leaves work too."""
    if chunk is None:
        return jax.vmap(fn)

    def run(*xs: Any) -> Any:
        e = jax.tree.leaves(xs)[0].shape[0]
        full = e - e % chunk

        def split(x: jax.Array) -> jax.Array:  # (full, ...) -> (full / chunk, chunk, ...)
            return x[:full].reshape(full // chunk, chunk, *x.shape[1:])

        out = jax.lax.map(lambda ys: jax.vmap(fn)(*ys), jax.tree.map(split, xs))
        out = jax.tree.map(lambda y: y.reshape(full, *y.shape[2:]), out)
        if full == e:
            return out
        rest = jax.vmap(fn)(*jax.tree.map(lambda x: x[full:], xs))
        return jax.tree.map(lambda a, b: jnp.concatenate([a, b]), out, rest)

    return run


def without_weak_types(tree: Any) -> Any:
    """``tree`` with every weakly typed leaf made strong, so that the states that reset and step return have
    the same types and feed one compiled step (a weak ``reward`` from reset would compile a second one)."""
    return jax.tree.map(lambda x: jax.lax.convert_element_type(x, x.dtype), tree)


def _reset_batch(env: Env, chunk: int | None, keys: jax.Array) -> Carry:
    """Fresh batch from ``keys`` ``(e, 2)``; each env keeps a derived key for its auto-resets."""
    state = _batched(env.reset, chunk)(keys)
    rng = jax.vmap(lambda key: jax.random.fold_in(key, 1))(keys)
    return without_weak_types(Carry(state, jnp.zeros(keys.shape[0], dtype=jnp.int32), rng))


def _step_batch(
    env: Env, chunk: int | None, limit: jax.Array, auto_reset: jax.Array, carry: Carry, actions: jax.Array
) -> tuple[Carry, StepOut]:
    """One step of every env, then (if ``auto_reset``) a reset of those that terminated or hit the limit."""
    state = _batched(env.step, chunk)(carry.state, actions)
    steps = carry.steps + 1
    terminated = state.done > 0.0  # (e,)
    truncated = (steps >= limit) & ~terminated
    done = terminated | truncated
    keys = jax.vmap(jax.random.split)(carry.rng)  # (e, 2, 2)
    fresh = _batched(env.reset, chunk)(keys[:, 0])

    def pick(new: jax.Array, old: jax.Array) -> jax.Array:
        mask = jnp.reshape(done & auto_reset, done.shape + (1,) * (old.ndim - 1))  # (e,) -> (e, 1, ...)
        return jnp.where(mask, new, old)

    next_state = jax.tree.map(pick, fresh, state)
    metrics = {k: state.metrics[k] for k in INFO_METRICS if k in state.metrics}
    out = StepOut(next_state.obs, state.obs, state.reward, terminated, truncated, metrics)
    return without_weak_types(Carry(next_state, jnp.where(done, 0, steps), keys[:, 1])), out


def metric_info(metrics: dict[str, Any]) -> dict[str, Any]:
    """Info dict of one env from its metrics: ``stage`` as int and ``is_success`` as bool when reported."""
    info: dict[str, Any] = {}
    if "stage" in metrics:
        info["stage"] = int(metrics["stage"])
    if "is_success" in metrics:
        info["is_success"] = bool(metrics["is_success"] > 0.5)
    return info


# ---------------------------------------------------------------------- DLPack bridge
def to_torch(x: jax.Array) -> torch.Tensor:
    """``x`` as a torch tensor on the same device, sharing its buffer (DLPack, no copy)."""
    return torch.from_dlpack(x)


def from_torch(t: torch.Tensor) -> jax.Array:
    """``t`` as a JAX array: shared through DLPack when JAX has ``t``'s device, else copied to JAX's device."""
    t = t.detach().contiguous()
    platform = jax.devices()[0].platform
    if (t.device.type == "cpu") == (platform == "cpu"):
        try:
            return jnp.from_dlpack(t)
        except (RuntimeError, TypeError, ValueError):  # e.g. a CUDA tensor on a GPU JAX was not built for
            pass
    return jnp.asarray(t.cpu().numpy())


# ---------------------------------------------------------------------- compilation cache
def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/latentflow/jax`` (``~/.cache/latentflow/jax`` without ``XDG_CACHE_HOME``)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "latentflow" / "jax"


def enable_compilation_cache() -> None:
    """Keep compiled batch steps on disk (``default_cache_dir``) unless the user chose a JAX cache setting.

    A batched MJX step takes 20-60 s to compile on 2 CPU cores, once per batch size and per process; with
    the cache a later process (the next run, the evaluation env, a test) loads it in seconds. Set
    ``JAX_COMPILATION_CACHE_DIR`` to use another folder, or to an empty string to turn the cache off.
    """
    if "JAX_COMPILATION_CACHE_DIR" in os.environ or jax.config.jax_compilation_cache_dir is not None:
        return
    jax.config.update("jax_compilation_cache_dir", str(default_cache_dir()))


# ---------------------------------------------------------------------- memory check and factory
def free_memory_bytes() -> int:
    """Free memory of the default JAX device: the accelerator's if it reports it, else the host's."""
    stats = jax.devices()[0].memory_stats() or {}
    if "bytes_limit" in stats:
        return int(stats["bytes_limit"] - stats.get("bytes_in_use", 0))
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def check_memory(shapes: State, n_envs: int) -> None:
    """Raise ``ValueError`` if ``n_envs`` envs of one-env state ``shapes`` are estimated not to fit."""
    per_env = sum(leaf.size * leaf.dtype.itemsize for leaf in jax.tree.leaves(shapes))
    needed = per_env * n_envs * MEMORY_OVERHEAD
    free = free_memory_bytes()
    if needed > MEMORY_FRACTION * free:
        fits = max(int(MEMORY_FRACTION * free // (per_env * MEMORY_OVERHEAD)), 0)
        raise ValueError(
            f"n_envs={n_envs} needs about {needed / 2**30:.1f} GiB ({per_env} bytes of state per env x "
            f"{MEMORY_OVERHEAD}) but {free / 2**30:.1f} GiB is free: use n_envs <= {fits}"
        )


def _get_brax_env(name: str, **kwargs: Any) -> Env:
    """``brax.envs.get_environment(name, **kwargs)`` with a ``ValueError`` listing the names."""
    try:
        return brax_envs.get_environment(name, **kwargs)
    except KeyError:
        raise ValueError(f"unknown Brax env {name!r}: use 'brax/<name>' with a name of brax.envs") from None


def make_brax_env(env_id: str, **kwargs: Any) -> tuple[Env, int]:
    """One Brax env and its step limit: ``"BraxPickPlace-v0"`` (200 steps) or ``"brax/<name>"`` (1000 steps).

    Args:
        env_id: ``"BraxPickPlace-v0"`` or ``"brax/<name>"`` with a name of ``brax.envs.get_environment``.
        kwargs: ``max_episode_steps`` (optional) and the env's constructor arguments (Brax's own envs
            get ``backend="mjx"`` unless given).
    """
    limit = kwargs.pop("max_episode_steps", BRAX_EPISODE_STEPS.get(env_id, 1000))
    if env_id == "BraxPickPlace-v0":
        from envs.brax_backend.pick_place import BraxPickPlace

        return BraxPickPlace(**kwargs), limit
    if env_id.startswith("brax/"):
        return _get_brax_env(env_id.removeprefix("brax/"), **{"backend": "mjx", **kwargs}), limit
    raise ValueError(f"unknown env_id {env_id!r}: use 'BraxPickPlace-v0' or 'brax/<name>' (e.g. 'brax/ant')")


def make_brax_vec_env(env_id: str, n_envs: int, seed: int, **kwargs: Any) -> BraxVecEnv:
    """``BraxVecEnv`` of ``n_envs`` copies of ``make_brax_env(env_id, **kwargs)``, first reset with ``seed``."""
    env, limit = make_brax_env(env_id, **kwargs)
    return BraxVecEnv(env, n_envs, max_episode_steps=limit, seed=seed)
