"""Brax (MJX) back end: batched, jitted envs behind an SB3 ``VecEnv``.

``make_brax_vec_env("BraxPickPlace-v0", n_envs, seed)`` runs ``PickPlace-v0``'s task (same MJCF file,
stages, rewards and observation) on MuJoCo MJX inside a Brax ``PipelineEnv``, stepping every env in
one jitted, vmapped call; ``make_brax_vec_env("brax/ant", ...)`` wraps Brax's own envs the same way.

Modules: ``pick_place`` (the task in JAX), ``vec_env`` (the SB3 ``VecEnv`` and the factory).
Nothing is imported here, so ``import envs.brax_backend`` works without JAX; the modules raise an
``ImportError`` naming ``pip install -e .[brax]`` when JAX, Brax or MJX is missing.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from stable_baselines3.common.vec_env import VecEnv

BRAX_INSTALL_HINT = (
    "the Brax back end needs JAX, Brax and MuJoCo MJX: run `pip install -e .[brax]` "
    "(CPU: brax==0.14.2, jax[cpu]==0.10.2, mujoco-mjx==3.17.0)"
)
"""Message of the ``ImportError`` raised when the optional dependencies are missing."""

BRAX_NAMES = ("ant", "fast", "halfcheetah", "hopper", "humanoid", "humanoidstandup", "inverted_double_pendulum",
              "inverted_pendulum", "pusher", "reacher", "swimmer", "walker2d")
"""Brax's own envs (``brax.envs.get_environment`` names of brax 0.14.2), served as ``brax/<name>``."""

BRAX_ENV_IDS: tuple[str, ...] = ("BraxPickPlace-v0", *(f"brax/{name}" for name in BRAX_NAMES))
"""Ids of the Brax back end (``make_brax_vec_env``, ``train_rl.py env=...``, ``gymnasium.make``)."""

BRAX_EPISODE_STEPS = {env_id: 200 if env_id == "BraxPickPlace-v0" else 1000 for env_id in BRAX_ENV_IDS}
"""Default step limit of each id: 200 as ``PickPlace-v0``, 1000 for Brax's envs (as Brax's training code)."""


WARP_NOTICES = ("Failed to import warp:", "Failed to import mujoco_warp:")
"""Lines MuJoCo MJX prints when its optional Warp (NVIDIA GPU) back end is not installed; this package
does not use Warp, so ``without_warp_notice`` drops them."""


@contextlib.contextmanager
def without_warp_notice() -> Iterator[None]:
    """Import Brax/MJX without MJX's printed Warp notices; every other printed line is passed on."""
    buffer = io.StringIO()
    try:
        with contextlib.redirect_stdout(buffer):
            yield
    finally:
        for line in buffer.getvalue().splitlines():
            if not line.startswith(WARP_NOTICES):
                print(line)


def is_brax_env_id(env_id: str) -> bool:
    """Whether ``env_id`` names a Brax back-end env (``BraxPickPlace-v0`` or ``brax/<name>``)."""
    return env_id == "BraxPickPlace-v0" or env_id.startswith("brax/")


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


__all__ = ["BRAX_ENV_IDS", "BRAX_EPISODE_STEPS", "BRAX_INSTALL_HINT", "BRAX_NAMES", "is_brax_env_id",
           "make_brax_vec_env"]
