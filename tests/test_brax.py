"""Brax (MJX) back end: the VecEnv contract, parity with ``PickPlace-v0``, bad inputs, RecurrentPPO.

Skipped without the ``[brax]`` extra. One module-scoped ``BraxVecEnv`` of 2 envs serves every
``BraxPickPlace-v0`` test, so the batched reset and step compile once (about a minute on 2 CPU cores).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

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


def test_compilation_cache_defaults_and_respects_the_user(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from envs.brax_backend.vec_env import default_cache_dir, enable_compilation_cache

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_cache_dir() == tmp_path / "latentflow" / "jax"
    previous = jax.config.jax_compilation_cache_dir
    try:
        jax.config.update("jax_compilation_cache_dir", None)
        monkeypatch.setenv("JAX_COMPILATION_CACHE_DIR", "")  # the user turned it off
        enable_compilation_cache()
        assert jax.config.jax_compilation_cache_dir is None
        monkeypatch.delenv("JAX_COMPILATION_CACHE_DIR")
        enable_compilation_cache()
        assert jax.config.jax_compilation_cache_dir == str(tmp_path / "latentflow" / "jax")
    finally:
        jax.config.update("jax_compilation_cache_dir", previous)


def test_import_drops_only_mjx_warp_notices() -> None:
    code = "import envs.brax_backend.vec_env, envs.brax_backend.pick_place; print('imported')"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                            cwd=Path(__file__).resolve().parents[1])
    assert result.stdout.splitlines() == ["imported"], result.stdout + result.stderr[-2000:]


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


def test_chunked_batch_equals_one_vmap() -> None:
    """Stepping in vmapped chunks (with a remainder) gives what one vmap over the batch gives."""
    actions = np.random.default_rng(0).uniform(-1, 1, (4, 5, 1)).astype(np.float32)
    traces = []
    for chunk in (None, 2):
        venv = make_brax_vec_env("brax/fast", 5, seed=3, max_episode_steps=3)
        venv.chunk = chunk
        venv._compile()
        trace = [venv.reset()]
        for a in actions:
            obs, rewards, dones, _ = venv.step(a)
            trace += [obs, rewards[:, None], dones[:, None]]
        traces.append(np.concatenate([t.reshape(5, -1) for t in trace], axis=1))
    np.testing.assert_allclose(traces[0], traces[1], rtol=1e-6, atol=1e-6)


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


# ---------------------------------------------------------------------- torch (DLPack) path
def test_dlpack_bridge_shares_memory() -> None:
    import torch

    from envs.brax_backend.vec_env import from_torch, to_torch

    x = jax.numpy.arange(6.0, dtype=jax.numpy.float32)
    assert to_torch(x).data_ptr() == x.unsafe_buffer_pointer()
    t = torch.arange(8.0)
    y = from_torch(t)
    assert y.unsafe_buffer_pointer() == t.data_ptr()
    np.testing.assert_array_equal(np.asarray(y), t.numpy())


def test_step_torch_matches_step(venv: BraxVecEnv) -> None:
    import torch

    actions = np.random.default_rng(3).uniform(-1, 1, (4, N_ENVS, 4)).astype(np.float32)
    venv.seed(11)
    trace = [venv.reset()] + [venv.step(a)[0] for a in actions]
    venv.seed(11)
    torch_trace = [venv.reset_torch()]
    for a in actions:
        out = venv.step_torch(torch.from_numpy(a))
        assert isinstance(out.obs, torch.Tensor) and out.reward.shape == out.terminated.shape == (N_ENVS,)
        torch_trace.append(out.obs.clone())
    np.testing.assert_array_equal(torch.stack(torch_trace).numpy(), np.stack(trace))
    assert set(out.metrics) == {"stage", "is_success"}
    with pytest.raises(ValueError, match=r"shape \(2, 4\)"):
        venv.step_torch(torch.zeros(N_ENVS, 5))
    # reset, step, set_state (parity tests) and the torch path all ran on one compiled step (20+ s each)
    assert venv._step_fn._cache_size() == 1


# ---------------------------------------------------------------------- registration, Gymnasium view, XLA flag
def test_brax_ids_registered_and_names_match_brax() -> None:
    from brax import envs as brax_envs

    from envs.brax_backend import BRAX_ENV_IDS, BRAX_NAMES, is_brax_env_id

    assert set(BRAX_ENV_IDS) <= set(gym.registry)
    assert set(BRAX_NAMES) == set(brax_envs._envs), "brax's env list changed: update BRAX_NAMES"
    assert is_brax_env_id("brax/ant") and is_brax_env_id("BraxPickPlace-v0") and not is_brax_env_id("PickPlace-v0")


@pytest.fixture(scope="module")
def gym_env() -> gym.Env:
    """``gymnasium.make("BraxPickPlace-v0", render_mode="rgb_array")`` (one env, compiled on first use)."""
    env = gym.make("BraxPickPlace-v0", render_mode="rgb_array", width=64, height=48)
    yield env
    env.close()


def test_gymnasium_view_passes_the_checker(gym_env: gym.Env) -> None:
    from gymnasium.utils.env_checker import check_env

    check_env(gym_env.unwrapped, skip_render_check=True)
    assert gym_env.spec.max_episode_steps == 200 and gym_env.unwrapped.dt == pytest.approx(0.04)


def test_gymnasium_view_seeds_steps_and_renders(gym_env: gym.Env) -> None:
    obs, info = gym_env.reset(seed=4)
    again, _ = gym_env.reset(seed=4)
    np.testing.assert_array_equal(obs, again)
    assert info["stage"] == 0 and info["is_success"] is False and "reward_reach" in info
    obs, reward, terminated, truncated, info = gym_env.step(np.zeros(4, dtype=np.float32))
    assert obs.shape == (32,) and np.isfinite(reward) and not terminated and not truncated
    frame = gym_env.render()
    assert frame.shape == (48, 64, 3) and frame.dtype == np.uint8 and frame.std() > 0
    with pytest.raises(ValueError, match=r"shape \(4,\)"):
        gym_env.step(np.zeros(3, dtype=np.float32))
    assert gym_env.unwrapped._step_fn._cache_size() == 1  # states from reset and step share one compile


def test_many_envs_step_without_hanging() -> None:
    """1000 envs (chunked on CPU, with a remainder): one vmapped batch of 512+ deadlocked here (``CPU_CHUNK``)."""
    code = (
        "import numpy as np\n"
        "from envs.brax_backend import make_brax_vec_env\n"
        "venv = make_brax_vec_env('BraxPickPlace-v0', 1000, seed=0)\n"
        "assert venv.chunk == 128\n"
        "venv.reset()\n"
        "for _ in range(3):\n    obs, rewards, _, _ = venv.step(np.zeros((1000, 4), np.float32))\n"
        "assert obs.shape == (1000, 32) and np.isfinite(obs).all() and np.isfinite(rewards).all()\n"
        "print('ok')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=400,
                            cwd=Path(__file__).resolve().parents[1])
    assert result.stdout.strip().endswith("ok"), result.stderr[-2000:]


# ---------------------------------------------------------------------- train_rl.py / evaluate.py
def test_train_and_evaluate_on_brax(tmp_path: Path) -> None:
    from tests.test_train_smoke import assert_ok, final_steps, run_script

    run_dir = tmp_path / "run"
    proc = run_script("train_rl.py", "env=BraxPickPlace-v0", "n_envs=2", "agent.n_steps=16", "agent.batch_size=32",
                      "agent.n_epochs=1", "agent.total_timesteps=64", "eval.every=32", "eval.episodes=1",
                      "checkpoint.every=32", "+env.kwargs.max_episode_steps=20", "progress=false",
                      f"hydra.run.dir={run_dir}", timeout=400)
    assert_ok(proc)
    assert final_steps(run_dir) == 64
    assert "Using JAX default device" not in proc.stdout + proc.stderr  # library INFO lines stay quiet
    out_dir = tmp_path / "eval"
    proc = run_script("evaluate.py", f"checkpoint={run_dir}", "episodes=1", "video=true", "video_episodes=1",
                      f"out_dir={out_dir}", timeout=400)
    assert_ok(proc)
    report = json.loads((out_dir / "report.json").read_text())
    assert report["env"]["env_id"] == "BraxPickPlace-v0" and report["mean_episode_length"] == 20
    assert (out_dir / "episode_000.mp4").stat().st_size > 0


def test_irregular_timestep_is_refused_for_brax(tmp_path: Path) -> None:
    from tests.test_train_smoke import run_script

    proc = run_script("train_rl.py", "env=BraxPickPlace-v0", "env.irregular=true", f"hydra.run.dir={tmp_path}")
    assert proc.returncode == 2 and "env.irregular must be false" in proc.stdout
