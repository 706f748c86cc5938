"""Learning curves of ``RecurrentPPO + LatentFlowPolicy(cpu)`` on velocity-hidden control tasks.

    python bench/bench_learning.py --env CartPoleNoVel-v1 --seeds 0 1 2 [--steps 100000]

Hyperparameters follow rl-zoo's RecurrentPPO settings for these envs (its figures: CartPoleNoVel 500,
PendulumNoVel -217.9 after 1e5 steps), including its linear decay of learning rate and clip range on
CartPoleNoVel (``--schedule constant`` turns the decay off); only the policy differs. Every ``--eval-every`` steps the
deterministic policy plays ``--eval-episodes`` episodes on a separate env that shares the observation
normalization. Curves go to ``docs/learning/<env>_seed<k>.csv``; a summary row per seed is appended to
``docs/bench_learning.md``.
"""

from __future__ import annotations

import argparse
import csv
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch
from sb3_contrib import RecurrentPPO
from stable_baselines3.common.callbacks import EvalCallback
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import VecNormalize

import envs  # noqa: F401 - registers the env ids
from policies import LatentFlowPolicy, baseline_policy

HYPERPARAMS = {
    "CartPoleNoVel-v1": {
        "n_envs": 8,
        "algo": {"n_steps": 32, "batch_size": 256, "gae_lambda": 0.8, "gamma": 0.98, "n_epochs": 20,
                 "ent_coef": 0.0, "learning_rate": 1e-3, "clip_range": 0.2},
        "decay": ("learning_rate", "clip_range"),
        "target": 475.0,
    },
    "PendulumNoVel-v1": {
        "n_envs": 4,
        "algo": {"n_steps": 1024, "batch_size": 256, "gae_lambda": 0.95, "gamma": 0.99, "n_epochs": 10,
                 "ent_coef": 0.0, "learning_rate": 1e-3, "clip_range": 0.2, "max_grad_norm": 0.5,
                 "use_sde": True, "sde_sample_freq": 4},
        "decay": (),
        "target": -220.0,
    },
}


def linear(start: float) -> Callable[[float], float]:
    """SB3 schedule that decays ``start`` linearly to 0 over training (rl-zoo's ``lin_<start>``)."""
    return lambda progress_remaining: progress_remaining * start


def run(env_id: str, seed: int, steps: int, eval_every: int, eval_episodes: int, out_dir: Path,
        schedule: str, policy: str, lr: float | None = None, detached_critic: bool = False,
        default_dt: float | None = None) -> dict:
    """Train one seed; returns the summary row and writes the curve CSV."""
    spec = HYPERPARAMS[env_id]
    algo = dict(spec["algo"])
    if lr is not None:
        algo["learning_rate"] = lr
    if schedule == "linear":
        algo.update({k: linear(algo[k]) for k in spec["decay"]})
    env = VecNormalize(make_vec_env(env_id, n_envs=spec["n_envs"], seed=seed), norm_reward=True)
    eval_env = VecNormalize(make_vec_env(env_id, n_envs=1, seed=seed + 1000), norm_reward=False, training=False)
    policy_kwargs = {"net_arch": {"pi": [64], "vf": [64]}, "ortho_init": False}
    policy_class: str | type = LatentFlowPolicy
    if detached_critic:  # the value loss trains the critic head only, not the shared core
        policy_kwargs["critic_grad"] = False
    if default_dt is not None:  # seconds the worker integrates per step (the preset's 0.05 otherwise)
        policy_kwargs["default_dt"] = default_dt
    if policy == "mlp_lstm":  # rl-zoo's own policy for these envs, as a check of the settings
        policy_class, lstm_kwargs = baseline_policy(env.observation_space)
        policy_kwargs.update(lstm_kwargs, enable_critic_lstm=True, activation_fn=torch.nn.ReLU)
    model = RecurrentPPO(policy_class, env, policy_kwargs=policy_kwargs, seed=seed, device="cpu", **algo)
    evaluator = EvalCallback(eval_env, n_eval_episodes=eval_episodes, eval_freq=max(1, eval_every // spec["n_envs"]),
                             log_path=tempfile.mkdtemp(prefix="latentflow-eval-"), deterministic=True, verbose=0)
    start = time.perf_counter()
    curve: list[tuple[int, float, float]] = []

    model.learn(steps, callback=evaluator, progress_bar=False)
    for t, rewards in zip(evaluator.evaluations_timesteps, evaluator.evaluations_results, strict=True):
        curve.append((int(t), float(sum(rewards) / len(rewards)), time.perf_counter() - start))
    elapsed = time.perf_counter() - start
    out_dir.mkdir(parents=True, exist_ok=True)
    suffix = ("" if policy == "latentflow" else f"_{policy}") + ("" if lr is None else f"_lr{lr:g}") + (
        "_detached" if detached_critic else "") + ("" if default_dt is None else f"_dt{default_dt:g}")
    with open(out_dir / f"{env_id}_seed{seed}{suffix}.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["timesteps", "mean_eval_return"])
        writer.writerows((t, r) for t, r, _ in curve)
    best = max(r for _, r, _ in curve) if curve else float("nan")
    first_hit = next((t for t, r, _ in curve if r >= spec["target"]), None)
    return {
        "env": env_id + ("" if policy == "latentflow" else f" ({policy})") + ("" if lr is None else f" lr {lr:g}")
        + (" detached critic" if detached_critic else "") + ("" if default_dt is None else f" dt {default_dt:g}"),
        "seed": seed,
        "schedule": schedule if spec["decay"] else "constant",
        "steps": model.num_timesteps, "final": curve[-1][1] if curve else float("nan"), "best": best,
        "first_hit": first_hit, "target": spec["target"], "minutes": elapsed / 60,
        "steps_per_s": model.num_timesteps / elapsed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", choices=sorted(HYPERPARAMS), required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--eval-every", type=int, default=10_000)
    parser.add_argument("--eval-episodes", type=int, default=10)
    parser.add_argument("--policy", choices=["latentflow", "mlp_lstm"], default="latentflow")
    parser.add_argument("--lr", type=float, default=None, help="learning rate instead of rl-zoo's")
    parser.add_argument("--schedule", choices=["linear", "constant"], default="linear")
    parser.add_argument("--detached-critic", action="store_true",
                        help="LatentFlowPolicy(critic_grad=False): the value loss does not train the core")
    parser.add_argument("--default-dt", type=float, default=None,
                        help="LatentFlowPolicy(default_dt=...): seconds the worker integrates per env step")
    parser.add_argument("--out", type=Path, default=Path("docs/bench_learning.md"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    if not args.out.exists():
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(
            "# Learning on velocity-hidden tasks\n\nMade by `python bench/bench_learning.py`; curves in "
            "`docs/learning/`. Mean return of 10 deterministic eval episodes.\n\n"
            "| env | seed | lr/clip | env-steps | final eval | best eval | target | first step at target | minutes "
            "| steps/s |\n|---|---:|---|---:|---:|---:|---:|---:|---:|---:|\n"
        )
    for seed in args.seeds:
        r = run(args.env, seed, args.steps, args.eval_every, args.eval_episodes, args.out.parent / "learning",
                args.schedule, args.policy, args.lr, args.detached_critic, args.default_dt)
        hit = r["first_hit"] if r["first_hit"] is not None else "not reached"
        row = (f"| {r['env']} | {r['seed']} | {r['schedule']} | {r['steps']:,} | {r['final']:.1f} | {r['best']:.1f} "
               f"| {r['target']:.0f} | {hit} | {r['minutes']:.1f} | {r['steps_per_s']:.0f} |\n")
        print(row, end="", flush=True)
        with open(args.out, "a") as f:
            f.write(row)


if __name__ == "__main__":
    main()
