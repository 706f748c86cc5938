"""Brax (MJX) back end: batched, jitted envs behind an SB3 ``VecEnv``.

``make_brax_vec_env("BraxPickPlace-v0", n_envs, seed)`` runs ``PickPlace-v0``'s task (same MJCF file,
stages, rewards and observation) on MuJoCo MJX inside a Brax ``PipelineEnv``, stepping every env in
one jitted, vmapped call; ``make_brax_vec_env("brax/ant", ...)`` wraps Brax's own envs the same way.

Modules: ``pick_place`` (the task in JAX), ``vec_env`` (the SB3 ``VecEnv`` and the factory).
Nothing is imported here, so ``import envs.brax_backend`` works without JAX; the modules raise an
``ImportError`` naming ``pip install -e .[brax]`` when JAX, Brax or MJX is missing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from stable_baselines3.common.vec_env import VecEnv

BRAX_INSTALL_HINT = (
    "the Brax back end needs JAX, Brax and MuJoCo MJX: run `pip install -e .[brax]` "
    "(CPU: brax==0.14.2, jax[cpu]==0.10.2, mujoco-mjx==3.17.0)"
)
"""Message of the ``ImportError`` raised when the optional dependencies are missing."""


def make_brax_vec_env(env_id: str, n_envs: int, seed: int, **kwargs: Any) -> VecEnv:
    """Build an SB3 ``VecEnv`` of ``n_envs`` Brax envs; see ``envs.brax_backend.vec_env.make_brax_vec_env``.

    Args:
        env_id: ``"BraxPickPlace-v0"`` or ``"brax/<name>"`` (a name of ``brax.envs.get_environment``).
        n_envs: number of parallel envs (the batch of the jitted step).
        seed: seed of the first ``reset()`` (env ``i`` gets ``seed + i``, as in SB3).
        kwargs: ``max_episode_steps`` and the env's own constructor arguments.
    """
    from envs.brax_backend.vec_env import make_brax_vec_env as make

    return make(env_id, n_envs, seed, **kwargs)


__all__ = ["BRAX_INSTALL_HINT", "make_brax_vec_env"]
