"""Gymnasium environments of LatentFlow.

Importing this package registers the ids below with string entry points and does nothing else: no
module of an env is imported until ``gymnasium.make`` asks for it.

| id                  | what                                                               |
|---------------------|--------------------------------------------------------------------|
| ``PickPlace-v0``    | MuJoCo gripper: reach -> grasp -> lift -> carry -> place one cube  |
| ``Stack-v0``        | MuJoCo gripper: put one cube on top of the other                   |
| ``Sudoku-v0``       | 9x9 Sudoku, action = (cell, digit), masked                         |
| ``GraphSearch-v0``  | walk a random connected graph from start to goal node, masked      |
| ``CartPoleNoVel-v1``| CartPole with the velocities removed (partially observable)        |
| ``PendulumNoVel-v1``| Pendulum with the angular velocity removed                         |

With the ``[brax]`` extra, ``BRAX_ENV_IDS`` are registered too: ``BraxPickPlace-v0`` (``PickPlace-v0``'s task on
MuJoCo MJX) and ``brax/<name>`` for Brax's own envs (``brax/ant``, ...). ``gymnasium.make`` gives one env
(``envs.brax_backend.gym_env.BraxGymEnv``: evaluation, videos, plain loops); ``train_rl.py`` trains on a
batched ``envs.brax_backend.vec_env.BraxVecEnv`` instead. Without the extra, making them raises an
``ImportError`` that names ``pip install -e .[brax]``.
"""

from gymnasium.envs.registration import register, registry

from envs.brax_backend import BRAX_ENV_IDS, BRAX_EPISODE_STEPS

_ENVS: dict[str, dict] = {
    "PickPlace-v0": {"entry_point": "envs.manipulation.pick_place:PickPlaceEnv", "max_episode_steps": 200},
    "Stack-v0": {"entry_point": "envs.manipulation.stack:StackEnv", "max_episode_steps": 300},
    "Sudoku-v0": {"entry_point": "envs.sudoku:SudokuEnv"},
    "GraphSearch-v0": {"entry_point": "envs.graph_search:GraphSearchEnv"},
    "CartPoleNoVel-v1": {"entry_point": "envs.classic:CartPoleNoVelEnv", "max_episode_steps": 500},
    "PendulumNoVel-v1": {"entry_point": "envs.classic:PendulumNoVelEnv", "max_episode_steps": 200},
}

for _env_id, _kwargs in _ENVS.items():
    if _env_id not in registry:
        register(id=_env_id, **_kwargs)

LATENTFLOW_ENV_IDS: tuple[str, ...] = tuple(_ENVS)
"""Every id this package registers, in a stable order."""

for _env_id in BRAX_ENV_IDS:
    if _env_id not in registry:
        register(id=_env_id, entry_point="envs.brax_backend.gym_env:BraxGymEnv", kwargs={"name": _env_id},
                 max_episode_steps=BRAX_EPISODE_STEPS[_env_id])
