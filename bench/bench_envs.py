"""Benchmark of the LatentFlow envs: raw step throughput and scripted-expert success.

Usage: ``python3 bench/bench_envs.py [--seconds 2] [--episodes 100] [--out docs/bench_envs.md]``

1. Raw ``env.step`` throughput (the unwrapped env: no TimeLimit, no checker, no rendering) with
   pre-sampled random actions, for every id in ``envs.LATENTFLOW_ENV_IDS`` that can be made, beside
   Gymnasium's ``HalfCheetah-v5``. Ids whose module fails to import are listed with the reason.
2. Success rate of the scripted experts of ``PickPlace-v0`` and ``Stack-v0`` over seeded episodes
   (seeds 0..episodes-1, within the registered step limit), also with ``frame_skip`` redrawn
   uniformly in [4, 12] every step (an irregular control interval, 0.02-0.06 s).

Prints a markdown report and writes it to ``--out``.
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import gymnasium as gym
import numpy as np

import envs
from envs.manipulation.experts import PickPlaceExpert, StackExpert

EXPERTS = {"PickPlace-v0": PickPlaceExpert, "Stack-v0": StackExpert}
REFERENCE_IDS = ("HalfCheetah-v5",)


def steps_per_second(env_id: str, seconds: float, seed: int = 0) -> float:
    """Raw steps/s of the unwrapped env with random actions, resetting when an episode ends."""
    env = gym.make(env_id, disable_env_checker=True)
    base = env.unwrapped
    env.action_space.seed(seed)
    actions = [env.action_space.sample() for _ in range(1024)]
    base.reset(seed=seed)
    for action in actions[:100]:  # warm-up
        if any(base.step(action)[2:4]):
            base.reset()
    n_steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for action in actions:
            if any(base.step(action)[2:4]):
                base.reset()
        n_steps += len(actions)
    rate = n_steps / (time.perf_counter() - start)
    env.close()
    return rate


def expert_success(env_id: str, episodes: int, frame_skip_range: tuple[int, int] | None = None) -> dict:
    """Success rate and mean length of the scripted expert over seeds ``0 .. episodes - 1``."""
    env = gym.make(env_id)
    expert = EXPERTS[env_id]()
    rng = np.random.default_rng(0)
    successes, lengths = 0, []
    for seed in range(episodes):
        obs, _ = env.reset(seed=seed)
        terminated = truncated = False
        n_steps = 0
        while not (terminated or truncated):
            if frame_skip_range is not None:
                env.unwrapped.frame_skip = int(rng.integers(frame_skip_range[0], frame_skip_range[1] + 1))
            obs, _, terminated, truncated, info = env.step(expert(obs))
            n_steps += 1
        successes += bool(info["is_success"])
        lengths.append(n_steps)
    env.close()
    return {"success": successes / episodes, "length": float(np.mean(lengths))}


def throughput_table(seconds: float) -> list[str]:
    """Markdown rows of the throughput table; failures are reported in the note column."""
    rows = ["| env id | raw steps/s | dt (s) | note |", "|---|---:|---:|---|"]
    for env_id in (*envs.LATENTFLOW_ENV_IDS, *REFERENCE_IDS):
        try:
            env = gym.make(env_id, disable_env_checker=True)
            dt = getattr(env.unwrapped, "dt", None)
            env.close()
            rate = steps_per_second(env_id, seconds)
        except Exception as error:  # others' envs may not exist yet
            print(f"skipping {env_id}: {type(error).__name__}: {error}")
            rows.append(f"| {env_id} | - | - | not benchmarked: {type(error).__name__}: {error} |")
            continue
        note = "Gymnasium reference" if env_id in REFERENCE_IDS else ""
        dt_text = f"{dt:.3f}" if dt is not None else "-"
        rows.append(f"| {env_id} | {rate:,.0f} | {dt_text} | {note} |")
        print(f"{env_id}: {rate:,.0f} steps/s")
    return rows


def expert_table(episodes: int) -> list[str]:
    """Markdown rows of the scripted-expert table."""
    rows = ["| env id | control interval | episodes | success rate | mean length (steps) |",
            "|---|---|---:|---:|---:|"]
    for env_id in EXPERTS:
        for label, frame_skip_range in (("regular (frame_skip 8)", None), ("frame_skip 4..12", (4, 12))):
            result = expert_success(env_id, episodes, frame_skip_range)
            rows.append(f"| {env_id} | {label} | {episodes} | {result['success']:.0%} | {result['length']:.1f} |")
            print(f"{env_id} expert, {label}: {result['success']:.0%}")
    return rows


def main() -> None:
    """Run both benchmarks, print the report and write it to ``--out``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="timing budget per env id")
    parser.add_argument("--episodes", type=int, default=100, help="seeded expert episodes per task")
    parser.add_argument("--out", type=Path, default=Path("docs/bench_envs.md"), help="markdown output file")
    args = parser.parse_args()
    lines = [
        "# Env benchmark",
        "",
        f"`python3 bench/bench_envs.py` on {platform.processor() or platform.machine()}, "
        f"Python {platform.python_version()}, one process.",
        "",
        "## Raw step throughput (unwrapped env, random actions, no rendering)",
        "",
        *throughput_table(args.seconds),
        "",
        "## Scripted experts",
        "",
        *expert_table(args.episodes),
        "",
    ]
    report = "\n".join(lines)
    print(report)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report)


if __name__ == "__main__":
    main()
