"""Brax (MJX) back end: the VecEnv contract, parity with ``PickPlace-v0``, bad inputs, RecurrentPPO.

Skipped without the ``[brax]`` extra. One module-scoped ``BraxVecEnv`` of 2 envs serves every
``BraxPickPlace-v0`` test, so the batched reset and step compile once (about a minute on 2 CPU cores).
"""

from __future__ import annotations

import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest

jax = pytest.importorskip("jax")
pytest.importorskip("brax")
pytest.importorskip("mujoco.mjx")

import envs  # noqa: E402  (registers PickPlace-v0)
from envs.brax_backend import make_brax_vec_env  # noqa: E402
from envs.brax_backend.vec_env import BraxVecEnv  # noqa: E402
from envs.manipulation.experts import PickPlaceExpert  # noqa: E402

N_ENVS = 2
PARITY_STEPS = 50
PARITY_TOLERANCE = 0.02
"""Largest difference (m) of any body position between MuJoCo C and MJX over ``PARITY_STEPS`` steps
of the same actions from the same state; see ``docs/brax.md`` for where the difference comes from."""

assert envs.LATENTFLOW_ENV_IDS


@pytest.fixture(scope="module")
def venv() -> BraxVecEnv:
    """Two ``BraxPickPlace-v0`` envs (compiled on first use, shared by the module)."""
    venv = make_brax_vec_env("BraxPickPlace-v0", N_ENVS, seed=0)
    yield venv
    venv.close()


def c_envs_at_reset(seeds: list[int]) -> tuple[list, np.ndarray]:
    """MuJoCo C ``PickPlace-v0`` envs reset with ``seeds`` and their observations ``(e, 32)``."""
    c_envs = [gym.make("PickPlace-v0").unwrapped for _ in seeds]
    obs = np.stack([env.reset(seed=s)[0] for env, s in zip(c_envs, seeds, strict=True)])
    return c_envs, obs


def start_from_c(venv: BraxVecEnv, c_envs: list) -> np.ndarray:
    """Put the Brax batch in the states of ``c_envs`` (after their reset); returns the observations."""
    jnp = jax.numpy
    qpos = jnp.asarray(np.stack([env.data.qpos for env in c_envs]), jnp.float32)
    home = jnp.asarray(np.stack([env.data.ctrl[:3] for env in c_envs]), jnp.float32)
    target = jnp.asarray(np.stack([env._target_pos() for env in c_envs]), jnp.float32)
    venv.reset()
    return venv.set_state(jax.jit(jax.vmap(venv.env.reset_to))(qpos, home, target))


def test_import_without_jax_names_the_extra() -> None:
    code = (
        "import sys; sys.modules['jax'] = None\n"
        "import envs.brax_backend, envs, policies\n"
        "try:\n    import envs.brax_backend.vec_env\nexcept ImportError as err:\n"
        "    assert 'pip install -e .[brax]' in str(err), err\n    print('ok')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.stdout.strip() == "ok", result.stderr[-2000:]


def test_spaces_reset_and_infos(venv: BraxVecEnv) -> None:
    assert venv.observation_space.shape == gym.make("PickPlace-v0").observation_space.shape == (32,)
    assert venv.action_space.shape == (4,)
    venv.seed(0)
    obs = venv.reset()
    assert obs.shape == (N_ENVS, 32) and obs.dtype == np.float32
    assert venv.reset_infos[0] == {"stage": 0, "is_success": False}
    obs, rewards, dones, infos = venv.step(np.zeros((N_ENVS, 4), dtype=np.float32))
    assert rewards.shape == dones.shape == (N_ENVS,)
    assert set(infos[0]) == {"stage", "is_success"}
    assert venv.get_attr("render_mode") == [None, None]
    assert venv.env_is_wrapped(gym.Wrapper) == [False, False]


def test_seed_determinism(venv: BraxVecEnv) -> None:
    actions = np.random.default_rng(0).uniform(-1, 1, (5, N_ENVS, 4)).astype(np.float32)
    runs = []
    for _ in range(2):
        venv.seed(7)
        trace = [venv.reset()] + [venv.step(a)[0] for a in actions]
        runs.append(np.stack(trace))
    np.testing.assert_array_equal(runs[0], runs[1])
    assert not np.allclose(runs[0][0, 0], runs[0][0, 1])  # env i gets seed + i


def test_truncation_auto_reset_and_terminal_observation(venv: BraxVecEnv) -> None:
    venv.seed(1)
    venv.reset()
    venv.max_episode_steps = 3
    try:
        for _ in range(3):
            obs, _, dones, infos = venv.step(np.ones((N_ENVS, 4), dtype=np.float32))
    finally:
        venv.max_episode_steps = 200
    assert dones.all()
    for i in range(N_ENVS):
        assert infos[i]["TimeLimit.truncated"] is True
        assert infos[i]["terminal_observation"].shape == (32,)
        assert not np.allclose(infos[i]["terminal_observation"], obs[i])  # obs is of the new episode
        assert np.allclose(obs[i][:3], [0.0, 0.0, 0.12], atol=0.03)  # gripper back home


def test_parity_with_mujoco_c(venv: BraxVecEnv) -> None:
    """Same start, same actions (the expert's, from the C env): body positions agree for 50 steps."""
    c_envs, obs = c_envs_at_reset([0, 1])
    brax_obs = start_from_c(venv, c_envs)
    np.testing.assert_allclose(brax_obs, obs, atol=1e-6)
    expert, worst = PickPlaceExpert(), 0.0
    venv.auto_reset = False  # both sides run on after success (the C env is unwrapped)
    try:
        for _ in range(PARITY_STEPS):
            actions = np.stack([expert(o) for o in obs])
            obs = np.stack([env.step(a)[0] for env, a in zip(c_envs, actions, strict=True)])
            venv.step(actions)
            xpos = np.asarray(venv.state.pipeline_state.xpos)  # (e, nbody, 3)
            worst = max(worst, max(np.abs(xpos[i] - env.data.xpos).max() for i, env in enumerate(c_envs)))
    finally:
        venv.auto_reset = True
    assert worst < PARITY_TOLERANCE, f"body positions differ by {worst:.4f} m"


def test_expert_succeeds_in_both_back_ends(venv: BraxVecEnv) -> None:
    c_envs, obs = c_envs_at_reset([0, 1])
    expert = PickPlaceExpert()
    for env, o in zip(c_envs, obs, strict=True):
        for _ in range(200):
            o, _, terminated, _, info = env.step(expert(o))
            if terminated:
                break
        assert info["is_success"]
    obs, succeeded = start_from_c(venv, c_envs), np.zeros(N_ENVS, dtype=bool)
    for _ in range(200):
        obs, _, dones, infos = venv.step(np.stack([expert(o) for o in obs]))
        succeeded |= dones & np.array([info["is_success"] for info in infos])
        if succeeded.all():
            break
    assert succeeded.all()


def test_wrong_action_shape_raises(venv: BraxVecEnv) -> None:
    venv.reset()
    with pytest.raises(ValueError, match=r"shape \(2, 4\)"):
        venv.step(np.zeros((N_ENVS, 3), dtype=np.float32))


@pytest.mark.parametrize(
    ("env_id", "kwargs", "match"),
    [
        ("BraxPickPlace-v0", {"n_envs": 10**10}, "use n_envs <="),
        ("BraxPickPlace-v0", {"n_envs": 0}, "n_envs must be"),
        ("BraxPickPlace-v0", {"max_speed": 10.0}, "max_speed"),
        ("BraxPickPlace-v0", {"render_mode": "human"}, "does not render"),
        ("PickPlace-v0", {}, "BraxPickPlace-v0"),
        ("brax/no_such_env", {}, "unknown Brax env"),
    ],
)
def test_bad_settings_raise_value_error(env_id: str, kwargs: dict, match: str) -> None:
    n_envs = kwargs.pop("n_envs", 1)
    with pytest.raises(ValueError, match=match):
        make_brax_vec_env(env_id, n_envs, seed=0, **kwargs)


def test_brax_own_env() -> None:
    venv = make_brax_vec_env("brax/fast", 2, seed=0, max_episode_steps=4)
    obs = venv.reset()
    assert obs.shape == (2, *venv.observation_space.shape)
    for _ in range(4):
        obs, _, dones, infos = venv.step(np.zeros((2, *venv.action_space.shape), dtype=np.float32))
    assert dones.all() and infos[0]["TimeLimit.truncated"]


@pytest.mark.slow
def test_brax_ant() -> None:
    venv = make_brax_vec_env("brax/ant", 2, seed=0)
    assert venv.reset().shape == (2, 27) and venv.action_space.shape == (8,)
    obs, rewards, _, _ = venv.step(np.zeros((2, 8), dtype=np.float32))
    assert np.isfinite(obs).all() and np.isfinite(rewards).all()


def test_recurrent_ppo_learns_on_brax(venv: BraxVecEnv) -> None:
    from sb3_contrib import RecurrentPPO

    from policies import LatentFlowPolicy

    model = RecurrentPPO(LatentFlowPolicy, venv, n_steps=16, batch_size=16, n_epochs=1, seed=0, device="cpu")
    before = [p.detach().clone() for p in model.policy.parameters()]
    model.learn(32)
    assert any(not np.allclose(b, p.detach()) for b, p in zip(before, model.policy.parameters(), strict=True))
