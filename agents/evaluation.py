"""Evaluate a saved policy in a plain Gymnasium loop: ``report.json``, mp4 videos and PNG plots.

``evaluate`` is what ``evaluate.py`` calls. The policy comes from the safe checkpoint format (never
unpickled); the env is rebuilt from the settings the checkpoint recorded (id, kwargs, IrregularTimestep),
optionally changed by the evaluation config. The report holds mean/std return, success rate, episode
length, per-stage reach rates (envs with ``info["stage"]``), the Sudoku solve rate, the GraphSearch
path-optimality ratio, the policy's mean latency per step and the exact env and wrapper settings.
"""

from __future__ import annotations

import csv
import json
import math
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from agents.checkpoint import CheckpointError, space_to_json
from agents.checkpointing import SAFE_DIR, resolve_checkpoint
from agents.config import EvaluateConfig


@dataclass(frozen=True)
class EpisodeSettings:
    """The env an evaluation runs: id, ``gymnasium.make`` kwargs and IrregularTimestep settings."""

    env_id: str
    """Gymnasium id."""
    env_kwargs: dict = field(default_factory=dict)
    """Keyword arguments of ``gymnasium.make``."""
    irregular: bool = False
    """Wrap with ``envs.wrappers.IrregularTimestep``."""
    irregular_kwargs: dict = field(default_factory=dict)
    """IrregularTimestep settings."""

    @classmethod
    def from_train(cls, cfg: Any) -> EpisodeSettings:
        """The settings of a ``TrainConfig``."""
        return cls(cfg.env.id, dict(cfg.env.kwargs), cfg.env.irregular, dict(cfg.env.irregular_kwargs))

    @classmethod
    def from_metadata(cls, meta: dict[str, Any], cfg: EvaluateConfig | None = None) -> EpisodeSettings:
        """The settings a checkpoint recorded, changed by an evaluation config's non-null fields."""
        if "env_id" not in meta:
            raise CheckpointError("the checkpoint does not record its env (metadata.env_id); "
                                  "was it written by train_rl.py?")
        settings = cls(meta["env_id"], dict(meta.get("env_kwargs", {})), bool(meta.get("irregular", False)),
                       dict(meta.get("irregular_kwargs", {})))
        if cfg is None:
            return settings
        return cls(settings.env_id, {**settings.env_kwargs, **cfg.env_kwargs},
                   settings.irregular if cfg.irregular is None else cfg.irregular,
                   settings.irregular_kwargs if cfg.irregular_kwargs is None else dict(cfg.irregular_kwargs))

    def make(self, render: bool = False) -> gym.Env:
        """Build the env (``render_mode="rgb_array"`` when ``render``)."""
        import envs  # noqa: F401  (registers the ids)
        from agents.training import wrap_irregular

        kwargs = {**self.env_kwargs, **({"render_mode": "rgb_array"} if render else {})}
        return wrap_irregular(gym.make(self.env_id, **kwargs), self.irregular, self.irregular_kwargs)


@dataclass
class Episode:
    """What one episode produced."""

    ret: float = 0.0
    length: int = 0
    success: bool | None = None
    max_stage: int | None = None
    path_ratio: float | None = None
    latency_s: list[float] = field(default_factory=list)
    frames: list[np.ndarray] = field(default_factory=list)
    trace: list[dict[str, Any]] = field(default_factory=list)


def run_episode(agent: Any, env: gym.Env, seed: int, deterministic: bool, film: bool, trace: bool) -> Episode:
    """One episode of ``agent`` in ``env``; films frames and traces stage/plan per step when asked."""
    episode = Episode()
    obs, info = env.reset(seed=seed)
    state, start, done = None, True, False
    if film:
        episode.frames.append(env.render())
    while not done:
        t0 = time.perf_counter()
        action, state = agent.predict(obs, state, episode_start=start, deterministic=deterministic)
        episode.latency_s.append(time.perf_counter() - t0)
        if trace:
            episode.trace.append({"stage": info.get("stage"), "planner": agent.planner_info(state)})
        obs, reward, terminated, truncated, info = env.step(action)
        _check_obs(obs, episode.length)
        episode.ret += float(reward)
        episode.length += 1
        start, done = False, terminated or truncated
        if "stage" in info:
            episode.max_stage = max(episode.max_stage or 0, int(info["stage"]))
        if film:
            episode.frames.append(env.render())
    _finish(episode, info)
    return episode


def _check_obs(obs: Any, step: int) -> None:
    """Raise ``ValueError`` on a non-finite float observation."""
    for value in obs.values() if isinstance(obs, dict) else [obs]:
        arr = np.asarray(value)
        if np.issubdtype(arr.dtype, np.floating) and not np.isfinite(arr).all():
            raise ValueError(f"the env returned a non-finite observation at step {step + 1}")


def _finish(episode: Episode, info: dict[str, Any]) -> None:
    """Fill success and path optimality from the last ``info``."""
    if "is_success" in info:
        episode.success = bool(info["is_success"])
    if episode.success and info.get("path_length"):
        episode.path_ratio = float(info["shortest_path_length"]) / float(info["path_length"])


# ---- report -----------------------------------------------------------------------------------------------
def summarize(episodes: list[Episode], env: gym.Env) -> dict[str, Any]:
    """Aggregate statistics of ``episodes`` (see the module docstring)."""
    returns = np.array([e.ret for e in episodes])
    latencies = [t for e in episodes for t in e.latency_s]
    report: dict[str, Any] = {
        "episodes": len(episodes), "mean_return": float(returns.mean()), "std_return": float(returns.std()),
        "mean_episode_length": float(np.mean([e.length for e in episodes])),
        "mean_latency_ms": 1000 * float(np.mean(latencies)) if latencies else None,
    }
    successes = [e.success for e in episodes if e.success is not None]
    report["success_rate"] = float(np.mean(successes)) if successes else None
    if env.spec is not None and env.spec.id.startswith("Sudoku"):
        report["solve_rate"] = report["success_rate"]
    ratios = [e.path_ratio for e in episodes if e.path_ratio is not None]
    if ratios:
        report["path_optimality"] = float(np.mean(ratios))
    names = getattr(env.unwrapped, "stage_names", None)
    if names is not None and any(e.max_stage is not None for e in episodes):
        reached = np.array([e.max_stage or 0 for e in episodes])
        report["stage_reach_rate"] = {name: float(np.mean(reached >= k)) for k, name in enumerate(names)}
    return report


def env_description(settings: EpisodeSettings, env: gym.Env) -> dict[str, Any]:
    """The exact env and wrapper settings of an evaluation."""
    return {**asdict(settings), "wrappers": str(env), "max_episode_steps": env.spec.max_episode_steps if env.spec
            else None, "observation_space": str(env.observation_space),
            "action_space": str(env.action_space)}


# ---- videos and plots ---------------------------------------------------------------------------------------
def write_video(frames: list[np.ndarray], path: Path, fps: int) -> Path:
    """Write RGB frames as an H.264 mp4 with imageio (ffmpeg)."""
    import imageio.v2 as imageio

    path.parent.mkdir(parents=True, exist_ok=True)
    imageio.mimwrite(path, [np.asarray(f, dtype=np.uint8) for f in frames], fps=fps, macro_block_size=1)
    return path


def record_video(safe_dir: Path, out_dir: Path, settings: EpisodeSettings, seed: int = 0) -> tuple[Path | None, int]:
    """Film one deterministic episode of the checkpoint in ``safe_dir``; ``(None, fps)`` if the env cannot render."""
    from agents.agent import load_agent

    agent = load_agent(safe_dir)
    env = settings.make(render=True)
    fps = int(env.metadata.get("render_fps", 20))
    try:
        episode = run_episode(agent, env, seed, True, film=True, trace=False)
    except gym.error.DependencyNotInstalled:
        return None, fps
    finally:
        env.close()
    return write_video(episode.frames, out_dir / "rollout.mp4", fps), fps


def plot_training(metrics_csv: Path, out_png: Path) -> Path | None:
    """Episode return and success rate against env steps, from a run's ``metrics.csv``."""
    if not metrics_csv.is_file():
        return None
    with open(metrics_csv, newline="") as f:
        rows = list(csv.DictReader(f))
    fig, axes = _subplots(2, "training")
    for ax, keys, label in ((axes[0], ("ep_return", "eval_return"), "return"),
                            (axes[1], ("success_rate", "eval_success_rate"), "success rate")):
        for key in keys:
            points = [(float(r["timesteps"]), float(r[key])) for r in rows if r.get(key)]
            if points:
                ax.plot(*zip(*points, strict=True), marker="." if key.startswith("eval") else None, label=key)
        ax.set_ylabel(label)
        ax.legend(loc="best", fontsize=8)
    axes[1].set_xlabel("env steps")
    return _save(fig, out_png)


def plot_plan_tokens(trace: list[dict[str, Any]], stage_names: tuple[str, ...] | None, out_png: Path) -> Path | None:
    """Plan tokens ``(k, d_p)`` over one episode (heatmap, planner updates marked) above the task stage."""
    plans = [t["planner"] for t in trace if t["planner"] is not None]
    if not plans or len(plans) != len(trace):
        return None
    k = np.asarray(plans[0]["plan"]).shape[0]
    # per step (k, d_p) -> (k * d_p,): one heatmap column per step, token after token
    image = np.stack([np.asarray(p["plan"], dtype=np.float32).reshape(-1) for p in plans], axis=1)
    updates = [i for i, p in enumerate(plans) if p.get("tick") == 1]
    fig, axes = _subplots(2, "plan tokens against task stage", sharex=True)
    axes[0].imshow(image, aspect="auto", interpolation="nearest", cmap="coolwarm")
    axes[0].set_ylabel(f"plan ({k} tokens x d_p)")
    for i in updates:
        axes[0].axvline(i, color="k", lw=0.5, alpha=0.5)
    stages = [t["stage"] if t["stage"] is not None else np.nan for t in trace]
    axes[1].step(range(len(stages)), stages, where="post")
    if stage_names:
        axes[1].set_yticks(range(len(stage_names)), stage_names)
    axes[1].set_ylabel("stage")
    axes[1].set_xlabel("env step (vertical lines: planner updates)")
    return _save(fig, out_png)


def _subplots(n: int, title: str, sharex: bool = False) -> tuple[Any, Any]:
    """A matplotlib figure with ``n`` stacked axes (Agg backend, no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(n, 1, figsize=(8, 2.6 * n), sharex=sharex)
    fig.suptitle(title)
    return fig, axes


def _save(fig: Any, path: Path) -> Path:
    """Save and close a figure."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


# ---- the evaluation ---------------------------------------------------------------------------------------
def safe_dir_of(path: str | Path) -> Path:
    """The safe-format dir meant by ``path``: itself (with policy.json), a checkpoint dir or a run dir."""
    path = Path(path).expanduser()
    if (path / "policy.json").is_file():
        return path
    return resolve_checkpoint(path) / SAFE_DIR


def evaluate(cfg: EvaluateConfig) -> dict[str, Any]:
    """Run ``cfg.episodes`` episodes, write report/videos/plots into the output dir; returns the report."""
    from agents.agent import load_agent

    safe_dir = safe_dir_of(cfg.checkpoint)
    agent = load_agent(safe_dir)
    settings = EpisodeSettings.from_metadata(agent.metadata, cfg)
    out_dir = Path(cfg.out_dir) if cfg.out_dir else safe_dir.parent / f"eval-{time.strftime('%Y-%m-%d_%H-%M-%S')}"
    out_dir.mkdir(parents=True, exist_ok=True)
    video, warnings = cfg.video, []
    env = settings.make(render=video)
    _check_fits(agent, env, safe_dir)
    episodes = []
    for i in range(cfg.episodes):
        film = video and i < cfg.video_episodes
        try:
            episodes.append(run_episode(agent, env, cfg.seed + i, cfg.deterministic, film, trace=i == 0))
        except gym.error.DependencyNotInstalled as err:  # e.g. classic-control rendering needs pygame
            warnings.append(f"no video: {err}")
            video = False
            env.close()
            env = settings.make(render=False)
            episodes.append(run_episode(agent, env, cfg.seed + i, cfg.deterministic, False, trace=i == 0))
    report = summarize(episodes, env)
    files = _write_outputs(cfg, episodes, env, safe_dir, out_dir, video)
    report.update(checkpoint=str(safe_dir), env=env_description(settings, env), seed=cfg.seed,
                  deterministic=cfg.deterministic, files=files, warnings=warnings, metadata=agent.metadata)
    env.close()
    (out_dir / "report.json").write_text(json.dumps(_plain(report), indent=1))
    return report | {"out_dir": str(out_dir)}


def _check_fits(agent: Any, env: gym.Env, safe_dir: Path) -> None:
    """Raise ``CheckpointError`` unless the policy's spaces equal the env's."""
    for what, mine, theirs in (("observation", agent.observation_space, env.observation_space),
                               ("action", agent.action_space, env.action_space)):
        if space_to_json(mine) != space_to_json(theirs):
            raise CheckpointError(f"the checkpoint {safe_dir} expects the {what} space {mine}, but the env has "
                                  f"{theirs}; evaluate with the env settings it was trained on")


def _write_outputs(cfg: EvaluateConfig, episodes: list[Episode], env: gym.Env, safe_dir: Path, out_dir: Path,
                   video: bool) -> list[str]:
    """Videos and plots of an evaluation; returns the file names written."""
    files = []
    fps = int(env.metadata.get("render_fps", 20))
    for i, episode in enumerate(episodes):
        if video and episode.frames:
            files.append(write_video(episode.frames, out_dir / f"episode_{i:03d}.mp4", fps).name)
    if cfg.plots:
        run_dir = _run_dir(safe_dir)
        for png in (plot_training(run_dir / "metrics.csv", out_dir / "training_curves.png"),
                    plot_plan_tokens(episodes[0].trace, getattr(env.unwrapped, "stage_names", None),
                                     out_dir / "plan_tokens.png")):
            if png is not None:
                files.append(png.name)
    return files


def _run_dir(safe_dir: Path) -> Path:
    """The run dir of a checkpoint's safe dir: ``<run>/checkpoints/<ckpt>/safe``."""
    return safe_dir.parent.parent.parent


def _plain(value: Any) -> Any:
    """JSON-safe copy: numpy scalars to Python, nan/inf to None."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def main(raw: dict[str, Any]) -> int:
    """``evaluate.py``'s body: validate, evaluate, print a summary line; returns the exit code."""
    import torch

    from agents.config import evaluate_config

    torch.set_num_threads(1)
    try:
        if not raw.get("checkpoint"):
            raise ValueError("checkpoint=<run dir | checkpoint dir | safe dir> is required")
        report = evaluate(evaluate_config(raw))
    except (ValueError, gym.error.Error) as err:  # CheckpointError is a ValueError
        print(f"error: {err}", file=sys.stderr, flush=True)
        return 2
    success = report["success_rate"]
    print(f"{report['episodes']} episodes | return {report['mean_return']:.3g} +- {report['std_return']:.3g} | "
          f"success {'-' if success is None else f'{success:.2f}'} | length {report['mean_episode_length']:.1f} | "
          f"latency {report['mean_latency_ms']:.2f} ms/step | report {report['out_dir']}/report.json", flush=True)
    return 0
