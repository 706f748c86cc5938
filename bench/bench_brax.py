"""Benchmark of the Brax (MJX) back end against MuJoCo C, env throughput and end-to-end training.

Usage: ``python3 bench/bench_brax.py [--n-envs 1 64 256 1024] [--train-steps 2048] [--out docs/bench_brax.md]``

1. ``BraxPickPlace-v0`` through ``BraxVecEnv.step`` (random actions, auto-reset, infos, host copy)
   at each batch size: compile time of reset + step (first calls) and env-steps/s after it; and through
   ``BraxVecEnv.step_torch`` (torch actions in, DLPack tensors out, no infos, no host copy).
2. ``PickPlace-v0`` (MuJoCo C) in SB3's ``SubprocVecEnv`` on 2 workers, same measure.
3. ``RecurrentPPO(LatentFlowPolicy, venv).learn(train_steps)`` steps/s on both back ends
   (the Brax one on the 64-env batch, already compiled).

Prints a markdown report and writes it to ``--out``. Needs the ``[brax]`` extra.
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import jax
import numpy as np
import torch
from sb3_contrib import RecurrentPPO
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import SubprocVecEnv, VecEnv

import envs
from envs.brax_backend import make_brax_vec_env
from envs.brax_backend.vec_env import BraxVecEnv
from policies import LatentFlowPolicy

C_WORKERS = 2


def time_steps(venv: VecEnv, seconds: float, min_steps: int = 3) -> float:
    """Env-steps/s of ``venv.step`` with random actions for about ``seconds`` (after one warm-up step)."""
    rng = np.random.default_rng(0)
    shape = (venv.num_envs, *venv.action_space.shape)
    venv.step(rng.uniform(-1, 1, shape).astype(np.float32))
    steps, start = 0, time.perf_counter()
    while steps < min_steps or time.perf_counter() - start < seconds:
        venv.step(rng.uniform(-1, 1, shape).astype(np.float32))
        steps += 1
    return steps * venv.num_envs / (time.perf_counter() - start)


def time_torch_steps(venv: BraxVecEnv, seconds: float, min_steps: int = 3) -> float:
    """Env-steps/s of ``venv.step_torch`` with random torch actions (the result is waited for each step)."""
    generator = torch.Generator().manual_seed(0)
    shape = (venv.num_envs, *venv.action_space.shape)
    venv.reset_torch()
    steps, start = 0, time.perf_counter()
    while steps < min_steps or time.perf_counter() - start < seconds:
        out = venv.step_torch(torch.rand(shape, generator=generator) * 2 - 1)
        float(out.reward[0])  # JAX dispatches asynchronously: wait for the step
        steps += 1
    return steps * venv.num_envs / (time.perf_counter() - start)


def bench_brax(n_envs: int, seconds: float) -> tuple[float, float, float, BraxVecEnv]:
    """Compile seconds (first reset + step), env-steps/s of ``step`` and of ``step_torch`` with ``n_envs``."""
    venv = make_brax_vec_env("BraxPickPlace-v0", n_envs, seed=0)
    start = time.perf_counter()
    venv.reset()
    venv.step(np.zeros((n_envs, 4), dtype=np.float32))
    compile_s = time.perf_counter() - start
    return compile_s, time_steps(venv, seconds), time_torch_steps(venv, seconds), venv


def bench_c(seconds: float) -> tuple[float, VecEnv]:
    """Env-steps/s of ``PickPlace-v0`` in ``SubprocVecEnv`` with ``C_WORKERS`` workers."""
    venv = make_vec_env("PickPlace-v0", n_envs=C_WORKERS, seed=0, vec_env_cls=SubprocVecEnv)
    venv.reset()
    return time_steps(venv, seconds), venv


def bench_training(venv: VecEnv, total_steps: int) -> float:
    """Steps/s of ``RecurrentPPO(LatentFlowPolicy, venv).learn(total_steps)`` (one rollout per update)."""
    n_steps = max(total_steps // (2 * venv.num_envs), 8)
    model = RecurrentPPO(LatentFlowPolicy, venv, n_steps=n_steps, batch_size=min(n_steps * venv.num_envs, 256),
                         n_epochs=1, seed=0, device="cpu")
    start = time.perf_counter()
    model.learn(total_steps)
    return model.num_timesteps / (time.perf_counter() - start)


def report(rows: list[tuple[str, str, str]], train: list[tuple[str, float]], total_steps: int) -> str:
    """Markdown report of the measured numbers."""
    lines = [
        "# Brax (MJX) back end vs MuJoCo C: throughput",
        "",
        f"Machine: {platform.processor() or platform.machine()}, CPU only ({jax.devices()[0].platform}), "
        f"jax {jax.__version__}; produced by `python3 bench/bench_brax.py`.",
        "**No GPU here**: the GPU goal (>= 100k env-steps/s at 1024+ envs on an H200) is not measured.",
        "",
        "| back end | envs | compile (s) | env-steps/s (`step`, numpy + infos) | env-steps/s (`step_torch`, DLPack) |",
        "|---|---|---|---|---|",
        *(f"| {name} | {envs_} | {rest} |" for name, envs_, rest in rows),
        "",
        f"End-to-end `RecurrentPPO(LatentFlowPolicy, venv).learn({total_steps})` (n_epochs=1, CPU torch):",
        "",
        "| back end | steps/s |",
        "|---|---|",
        *(f"| {name} | {sps:.0f} |" for name, sps in train),
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    """Run every measurement, print the report and write it to ``--out``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-envs", type=int, nargs="+", default=[1, 64, 256, 1024])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--train-steps", type=int, default=2048)
    parser.add_argument("--out", type=Path, default=Path("docs/bench_brax.md"))
    args = parser.parse_args()
    assert envs.LATENTFLOW_ENV_IDS
    rows, train, train_venv = [], [], None
    for n in args.n_envs:
        compile_s, sps, torch_sps, venv = bench_brax(n, args.seconds)
        print(f"BraxPickPlace-v0 x{n}: compile {compile_s:.1f} s, {sps:.0f} env-steps/s, {torch_sps:.0f} with "
              "step_torch", flush=True)
        rows.append(("BraxPickPlace-v0 (MJX, BraxVecEnv)", str(n), f"{compile_s:.1f} | {sps:.0f} | {torch_sps:.0f}"))
        if n == 64 or train_venv is None:
            train_venv = venv
    c_sps, c_venv = bench_c(args.seconds)
    rows.append((f"PickPlace-v0 (MuJoCo C, SubprocVecEnv x{C_WORKERS})", str(C_WORKERS), f"- | {c_sps:.0f} | -"))
    train.append((f"PickPlace-v0, SubprocVecEnv x{C_WORKERS}", bench_training(c_venv, args.train_steps)))
    c_venv.close()
    train.append((f"BraxPickPlace-v0, BraxVecEnv x{train_venv.num_envs}",
                  bench_training(train_venv, args.train_steps)))
    text = report(rows, train, args.train_steps)
    print(text)
    args.out.write_text(text)


if __name__ == "__main__":
    main()
