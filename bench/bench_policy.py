"""Training throughput of ``RecurrentPPO + LatentFlowPolicy`` against ``RecurrentPPO + MlpLstmPolicy(64)``.

    python bench/bench_policy.py [--steps 4096] [--envs PendulumNoVel-v1 CartPoleNoVel-v1]

Both policies train on the same env with the same ``n_envs``, ``n_steps``, batch size and epochs, on one
torch thread, in one run. Reports env-steps/s of ``learn`` and how the wall time splits between rollout
collection and gradient updates, then writes the table to ``docs/bench_policy.md``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
from sb3_contrib import RecurrentPPO
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.env_util import make_vec_env

import envs  # noqa: F401 - registers the env ids
from policies import LatentFlowPolicy, baseline_policy

SETTINGS = {"n_steps": 128, "batch_size": 128, "n_epochs": 4}
N_ENVS = 4


class RolloutTimer(BaseCallback):
    """Adds up the wall time spent collecting rollouts; the rest of ``learn`` is gradient updates."""

    def __init__(self) -> None:
        super().__init__()
        self.rollout_s, self._start = 0.0, 0.0

    def _on_rollout_start(self) -> None:
        self._start = time.perf_counter()

    def _on_rollout_end(self) -> None:
        self.rollout_s += time.perf_counter() - self._start

    def _on_step(self) -> bool:
        return True


def measure(env_id: str, policy: str | type, policy_kwargs: dict, steps: int) -> dict:
    """Env-steps/s of a short ``learn`` (after one warm-up update) and its rollout/update split."""
    env = make_vec_env(env_id, n_envs=N_ENVS, seed=0)
    model = RecurrentPPO(policy, env, policy_kwargs=policy_kwargs, seed=0, device="cpu", **SETTINGS)
    model.learn(N_ENVS * SETTINGS["n_steps"])  # warm-up: first allocations, lazy imports
    timer = RolloutTimer()
    start = time.perf_counter()
    model.learn(steps, callback=timer, reset_num_timesteps=False)
    total = time.perf_counter() - start
    done = model.num_timesteps - N_ENVS * SETTINGS["n_steps"]
    params = sum(p.numel() for p in model.policy.parameters())
    return {"steps_per_s": done / total, "rollout_s": timer.rollout_s, "update_s": total - timer.rollout_s,
            "params": params}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=4096)
    parser.add_argument("--envs", nargs="+", default=["PendulumNoVel-v1", "CartPoleNoVel-v1"])
    parser.add_argument("--out", type=Path, default=Path("docs/bench_policy.md"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    lines = [
        f"One torch thread; n_envs={N_ENVS}, " + ", ".join(f"{k}={v}" for k, v in SETTINGS.items())
        + f"; {args.steps} timed env-steps after one warm-up update.",
        "",
        "| env | policy | params | env-steps/s | rollout s | update s | ratio vs MlpLstm |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for env_id in args.envs:
        probe = make_vec_env(env_id, n_envs=1)
        name, kwargs = baseline_policy(probe.observation_space)
        rows = {
            f"{name}(64)": measure(env_id, name, kwargs, args.steps),
            "LatentFlowPolicy(cpu, ltc)": measure(env_id, LatentFlowPolicy, {}, args.steps),
            "LatentFlowPolicy(cpu, cfc)": measure(env_id, LatentFlowPolicy, {"core_kwargs": {"worker": "cfc"}},
                                                  args.steps),
        }
        base = rows[f"{name}(64)"]["steps_per_s"]
        for label, r in rows.items():
            lines.append(f"| {env_id} | {label} | {r['params']:,} | {r['steps_per_s']:.0f} | {r['rollout_s']:.1f} "
                         f"| {r['update_s']:.1f} | {r['steps_per_s'] / base:.2f} |")
            print(lines[-1], flush=True)
    table = "\n".join(lines)
    print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("# Training throughput\n\nMade by `python bench/bench_policy.py`.\n\n" + table + "\n")


if __name__ == "__main__":
    main()
