"""Train a recurrent policy with sb3-contrib ``RecurrentPPO`` from a validated ``TrainConfig``.

``run`` is what ``train_rl.py`` calls. It builds the vec env (optionally ``IrregularTimestep`` and
``VecNormalize``), the model (``LatentFlowPolicy`` or the sb3-contrib LSTM baseline), restores a checkpoint
when resuming, and learns under four callbacks: a progress bar, the periodic work at the end of each rollout
(NaN guard on losses and weights, ``metrics.csv``, evaluation, checkpoints), a NaN guard on observations and
rewards, and a stop flag raised by SIGINT/SIGTERM. Errors a user can cause end with a one-line message and a
non-zero exit code (``EXIT_CODES``); the last good checkpoint is always left on disk.
"""

from __future__ import annotations

import copy
import csv
import math
import signal
import threading
import time
from collections import deque
from functools import partial
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from sb3_contrib import RecurrentPPO
from stable_baselines3.common.callbacks import BaseCallback, CallbackList
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.logger import configure
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env import (
    DummyVecEnv,
    SubprocVecEnv,
    VecEnv,
    VecMonitor,
    VecNormalize,
    sync_envs_normalization,
)

from agents.checkpoint import CheckpointError
from agents.checkpointing import (
    CheckpointManager,
    CheckpointWriteError,
    read_trainer_state,
    resolve_checkpoint,
    restore,
)
from agents.config import TrainConfig, train_config
from agents.run_info import log_wandb_video, start_wandb, write_run_info
from envs.brax_backend import is_brax_env_id
from policies.tokenizers import DT_KEY

EVAL_SEED_OFFSET = 10_000
METRICS = ("timesteps", "time_s", "fps", "ep_return", "ep_length", "success_rate", "max_stage", "eval_return",
           "eval_return_std", "eval_success_rate", "loss", "policy_loss", "value_loss", "entropy_loss", "approx_kl")
EXIT_CODES = {"config": 2, "diverged": 3, "disk": 4}


class TrainingDiverged(RuntimeError):
    """A NaN or inf appeared in observations, rewards, losses or weights."""


# ---- config ---------------------------------------------------------------------------------------------
def prepare_config(raw: dict[str, Any], overrides: list[str]) -> tuple[TrainConfig, Path | None, dict | None]:
    """Validate ``raw``; when resuming, start from the checkpoint's config and re-apply ``overrides`` on top.

    Returns ``(config, checkpoint dir or None, trainer state or None)``.
    """
    if not raw.get("resume"):
        return train_config(raw), None, None
    checkpoint = resolve_checkpoint(raw["resume"])
    state = read_trainer_state(checkpoint)
    merged = copy.deepcopy(state["config"])
    for key in _override_keys(overrides):
        _set_dotted(merged, key, _get_dotted(raw, key))
    merged["resume"] = str(raw["resume"])
    return train_config(merged), checkpoint, state


def _override_keys(overrides: list[str]) -> list[str]:
    """Dotted keys set on the command line (``env=Stack-v0`` -> ``env``, ``+a.b=1`` -> ``a.b``)."""
    keys = [o.split("=", 1)[0].lstrip("+~") for o in overrides if "=" in o]
    return [k for k in keys if not k.startswith("hydra")]


def _get_dotted(data: dict[str, Any], key: str) -> Any:
    """``data[a][b]`` for ``key = 'a.b'``."""
    for part in key.split("."):
        data = data[part]
    return data


def _set_dotted(data: dict[str, Any], key: str, value: Any) -> None:
    """Set ``data[a][b] = value`` for ``key = 'a.b'``."""
    *parents, last = key.split(".")
    for part in parents:
        data = data.setdefault(part, {})
    data[last] = copy.deepcopy(value)


def check_env_id(env_id: str) -> None:
    """Raise ``ValueError`` listing the registered ids unless ``env_id`` can be made."""
    import envs

    if ":" in env_id or env_id in gym.registry:
        return
    raise ValueError(f"unknown env id {env_id!r}; LatentFlow registers {list(envs.LATENTFLOW_ENV_IDS)} "
                     "(any other registered Gymnasium id works too, e.g. CartPole-v1)")


# ---- envs -----------------------------------------------------------------------------------------------
def make_env(cfg: TrainConfig, render_mode: str | None = None) -> gym.Env:
    """One env as configured (``gymnasium.make`` + optional ``IrregularTimestep``), without Monitor."""
    import envs  # noqa: F401  (registers the ids)

    kwargs = dict(cfg.env.kwargs)
    if render_mode is not None:
        kwargs["render_mode"] = render_mode
    env = gym.make(cfg.env.id, **kwargs)
    return wrap_irregular(env, cfg.env.irregular, cfg.env.irregular_kwargs)


def wrap_irregular(env: gym.Env, irregular: bool, settings: dict[str, Any]) -> gym.Env:
    """``env`` under ``envs.wrappers.IrregularTimestep(**settings)`` when ``irregular``."""
    if not irregular:
        return env
    from envs.wrappers import IrregularTimestep

    try:
        return IrregularTimestep(env, **settings)
    except TypeError as err:
        raise ValueError(f"env.irregular_kwargs {settings} do not fit IrregularTimestep: {err}") from err


def _env_thunk(cfg: TrainConfig, seed: int) -> gym.Env:
    """Monitored env for a vec env worker, its spaces seeded with ``seed``."""
    env = Monitor(make_env(cfg))
    env.action_space.seed(seed)
    return env


def build_vec_env(cfg: TrainConfig, n_envs: int, seed: int, training: bool) -> VecEnv:
    """``n_envs`` seeded envs in a Dummy/SubprocVecEnv (Brax ids: one batched ``BraxVecEnv``), under
    ``VecNormalize`` when configured."""
    if is_brax_env_id(cfg.env.id):
        venv = build_brax_vec_env(cfg, n_envs, seed)
    else:
        thunks = [partial(_env_thunk, cfg, seed + i) for i in range(n_envs)]
        use_subproc = cfg.vec_env == "subproc" and training and n_envs > 1
        venv = SubprocVecEnv(thunks) if use_subproc else DummyVecEnv(thunks)
        venv.seed(seed)
    if not (cfg.env.normalize or cfg.env.norm_reward):
        return venv
    keys = cfg.env.norm_obs_keys
    if keys is None and isinstance(venv.observation_space, gym.spaces.Dict):
        # the elapsed time is routed to the worker as seconds: normalizing it would make it negative
        keys = [k for k, s in venv.observation_space.spaces.items()
                if np.issubdtype(s.dtype, np.floating) and k != DT_KEY]
    return VecNormalize(venv, training=training, norm_obs=cfg.env.normalize,
                        norm_reward=cfg.env.norm_reward and training, gamma=cfg.agent.gamma, norm_obs_keys=keys)


def build_brax_vec_env(cfg: TrainConfig, n_envs: int, seed: int) -> VecEnv:
    """``n_envs`` envs of a Brax id stepped as one jitted batch, with SB3's episode statistics (``VecMonitor``)."""
    if cfg.env.irregular:
        raise ValueError(f"env.irregular must be false for {cfg.env.id}: IrregularTimestep wraps single "
                         "Gymnasium envs, the Brax back end steps the whole batch at the env's fixed dt")
    from envs.brax_backend import make_brax_vec_env

    return VecMonitor(make_brax_vec_env(cfg.env.id, n_envs, seed, **cfg.env.kwargs))


def control_dt(cfg: TrainConfig) -> float | None:
    """Seconds per env step for the policy: ``env.control_dt`` or the env's own ``dt``."""
    if cfg.env.control_dt is not None:
        return cfg.env.control_dt
    env = make_env(cfg)
    try:
        dt = getattr(env.unwrapped, "dt", None)
        return float(dt) if isinstance(dt, (int, float)) and dt > 0 else None
    finally:
        env.close()


# ---- model ----------------------------------------------------------------------------------------------
def policy_spec(cfg: TrainConfig, observation_space: gym.Space, dt: float | None) -> tuple[Any, dict[str, Any]]:
    """``(policy, policy_kwargs)`` for ``RecurrentPPO``."""
    if cfg.policy.kind == "sb3_lstm":
        name = "MultiInputLstmPolicy" if isinstance(observation_space, gym.spaces.Dict) else "MlpLstmPolicy"
        return name, {"lstm_hidden_size": cfg.policy.lstm_hidden_size}
    from policies import LatentFlowPolicy

    kwargs = {"preset": cfg.preset.name, "core_kwargs": dict(cfg.policy.core),
              "tokenizer_kwargs": dict(cfg.policy.tokenizer), "default_dt": dt, "critic_grad": cfg.policy.critic_grad}
    return LatentFlowPolicy, kwargs


def build_model(cfg: TrainConfig, venv: VecEnv, seed: int, run_dir: Path) -> RecurrentPPO:
    """A fresh ``RecurrentPPO`` on ``venv`` logging to ``run_dir`` (tensorboard when enabled)."""
    policy, policy_kwargs = policy_spec(cfg, venv.observation_space, control_dt(cfg))
    a = cfg.agent
    model = RecurrentPPO(
        policy, venv, learning_rate=a.learning_rate, n_steps=a.n_steps, batch_size=a.batch_size,
        n_epochs=a.n_epochs, gamma=a.gamma, gae_lambda=a.gae_lambda, clip_range=a.clip_range, ent_coef=a.ent_coef,
        vf_coef=a.vf_coef, max_grad_norm=a.max_grad_norm, target_kl=a.target_kl, policy_kwargs=policy_kwargs,
        seed=seed, device=cfg.preset.device, verbose=0,
    )
    model.set_logger(configure(str(run_dir / "tb"), ["tensorboard"] if cfg.logger.tensorboard else []))
    return model


# ---- callbacks ------------------------------------------------------------------------------------------
class StopFlag:
    """Set by SIGINT/SIGTERM; training stops at the next env step and writes a final checkpoint."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self._previous: dict[int, Any] = {}

    def install(self) -> None:
        """Route SIGINT and SIGTERM to this flag (main thread only; elsewhere a no-op)."""
        if threading.current_thread() is not threading.main_thread():
            return
        for signum in (signal.SIGINT, signal.SIGTERM):
            self._previous[signum] = signal.signal(signum, self._handle)

    def uninstall(self) -> None:
        """Restore the previous handlers."""
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()

    def _handle(self, signum: int, _frame: Any) -> None:
        if self.signum is not None:  # a second signal: stop right away
            raise KeyboardInterrupt
        self.signum = signum


class StepGuard(BaseCallback):
    """Stops on a signal and raises ``TrainingDiverged`` on a non-finite observation or reward."""

    def __init__(self, stop: StopFlag) -> None:
        super().__init__()
        self.stop = stop

    def _on_step(self) -> bool:
        obs = self.locals["new_obs"]
        values = obs.values() if isinstance(obs, dict) else [obs]
        for name, arr in [("observation", v) for v in values] + [("reward", self.locals["rewards"])]:
            arr = np.asarray(arr)
            if np.issubdtype(arr.dtype, np.floating) and not np.isfinite(arr).all():
                raise TrainingDiverged(f"non-finite {name} at step {self.num_timesteps}")
        return self.stop.signum is None


class ProgressBar(BaseCallback):
    """tqdm bar: steps, steps/s, ETA, mean episode return and success rate of the last 100 episodes."""

    def __init__(self, total: int) -> None:
        super().__init__()
        self.total = total
        self.bar: Any = None

    def _on_training_start(self) -> None:
        from tqdm import tqdm

        self.bar = tqdm(total=self.total, initial=self.num_timesteps, unit="step", unit_scale=True,
                        dynamic_ncols=True, mininterval=1.0, smoothing=0.05)

    def _on_step(self) -> bool:
        self.bar.update(self.training_env.num_envs)
        return True

    def _on_rollout_end(self) -> None:
        ret, success = _episode_stats(self.model)
        postfix = {"return": f"{ret:.2f}" if math.isfinite(ret) else "-"}
        if math.isfinite(success):
            postfix["success"] = f"{success:.2f}"
        self.bar.set_postfix(postfix, refresh=False)

    def _on_training_end(self) -> None:
        self.bar.close()


def _episode_stats(model: RecurrentPPO) -> tuple[float, float]:
    """Mean return and success rate over SB3's last-100-episode buffers (nan when empty)."""
    returns = [ep["r"] for ep in model.ep_info_buffer]
    ret = float(np.mean(returns)) if returns else math.nan
    success = float(np.mean(model.ep_success_buffer)) if model.ep_success_buffer else math.nan
    return ret, success


class RolloutTasks(BaseCallback):
    """At each rollout end: NaN guard on losses/weights, ``metrics.csv`` row, evaluation and checkpoint."""

    def __init__(self, cfg: TrainConfig, run_dir: Path, manager: CheckpointManager, eval_env: VecEnv | None,
                 state_extra: dict[str, Any]) -> None:
        super().__init__()
        self.cfg, self.manager, self.eval_env, self.state_extra = cfg, manager, eval_env, state_extra
        self.metrics_path = run_dir / "metrics.csv"
        self.start_time = time.time()
        self.start_steps = 0
        self.next_eval = self.next_ckpt = 0
        self.max_stage: deque[float] = deque(maxlen=100)
        self._stage_now: np.ndarray | None = None

    def _on_training_start(self) -> None:
        self.start_steps = self.num_timesteps
        self.next_eval = _next_multiple(self.num_timesteps, self.cfg.eval.every)
        self.next_ckpt = _next_multiple(self.num_timesteps, self.cfg.checkpoint.every)
        if not self.metrics_path.exists():
            with open(self.metrics_path, "w", newline="") as f:
                csv.writer(f).writerow(METRICS)

    def _on_step(self) -> bool:
        infos, dones = self.locals["infos"], self.locals["dones"]
        if self._stage_now is None:
            self._stage_now = np.zeros(len(infos))
        for i, info in enumerate(infos):
            if "stage" in info:
                self._stage_now[i] = max(self._stage_now[i], float(info["stage"]))
                if dones[i]:
                    self.max_stage.append(self._stage_now[i])
                    self._stage_now[i] = 0.0
        return True

    def _on_rollout_end(self) -> None:
        train = dict(self.model.logger.name_to_value)
        check_finite(self.model, train, self.num_timesteps)
        row = self._row(train)
        if self.eval_env is not None and self.next_eval and self.num_timesteps >= self.next_eval:
            row.update(self._evaluate())
            self.next_eval = _next_multiple(self.num_timesteps, self.cfg.eval.every)
        with open(self.metrics_path, "a", newline="") as f:
            csv.writer(f).writerow([_fmt(row.get(k)) for k in METRICS])
        if self.next_ckpt and self.num_timesteps >= self.next_ckpt:
            self.manager.save(self.model, self.training_env, self.state_extra)
            self.next_ckpt = _next_multiple(self.num_timesteps, self.cfg.checkpoint.every)

    def _row(self, train: dict[str, float]) -> dict[str, Any]:
        """Rollout statistics and the previous update's losses."""
        elapsed = time.time() - self.start_time
        ret, success = _episode_stats(self.model)
        lengths = [ep["l"] for ep in self.model.ep_info_buffer]
        return {"timesteps": self.num_timesteps, "time_s": elapsed,
                "fps": (self.num_timesteps - self.start_steps) / max(elapsed, 1e-9), "ep_return": ret,
                "ep_length": float(np.mean(lengths)) if lengths else None, "success_rate": success,
                "max_stage": float(np.mean(self.max_stage)) if self.max_stage else None,
                "loss": train.get("train/loss"), "policy_loss": train.get("train/policy_gradient_loss"),
                "value_loss": train.get("train/value_loss"), "entropy_loss": train.get("train/entropy_loss"),
                "approx_kl": train.get("train/approx_kl")}

    def _evaluate(self) -> dict[str, float]:
        """Deterministic episodes on the eval env; logged to tensorboard and returned for metrics.csv."""
        result = evaluate_in_training(self.model, self.training_env, self.eval_env, self.cfg.eval.episodes)
        for key, value in result.items():
            if math.isfinite(value):
                self.logger.record(f"eval/{key.removeprefix('eval_')}", value)
        return result


def evaluate_in_training(model: RecurrentPPO, train_env: VecEnv, eval_env: VecEnv, episodes: int) -> dict[str, float]:
    """Mean/std return and success rate of ``episodes`` deterministic episodes (eval env synced to training)."""
    if isinstance(train_env, VecNormalize):
        sync_envs_normalization(train_env, eval_env)
    successes: list[float] = []

    def collect(local_vars: dict[str, Any], _globals: dict[str, Any]) -> None:
        if local_vars["done"] and "is_success" in local_vars["info"]:
            successes.append(float(local_vars["info"]["is_success"]))

    returns, _ = evaluate_policy(model, eval_env, n_eval_episodes=episodes, deterministic=True,
                                 return_episode_rewards=True, callback=collect)
    return {"eval_return": float(np.mean(returns)), "eval_return_std": float(np.std(returns)),
            "eval_success_rate": float(np.mean(successes)) if successes else math.nan}


def check_finite(model: RecurrentPPO, train: dict[str, float], step: int) -> None:
    """Raise ``TrainingDiverged`` if the last update's losses or the policy weights are not finite."""
    for key in ("train/loss", "train/value_loss", "train/policy_gradient_loss"):
        if key in train and not math.isfinite(train[key]):
            raise TrainingDiverged(f"non-finite {key} ({train[key]}) in the update before step {step}")
    for name, param in model.policy.named_parameters():
        if not torch.isfinite(param).all():
            raise TrainingDiverged(f"non-finite weights in {name} at step {step}")


def _next_multiple(step: int, every: int) -> int:
    """Smallest multiple of ``every`` above ``step`` (0 when ``every`` is 0: never)."""
    return (step // every + 1) * every if every else 0


def _fmt(value: Any) -> str:
    """A metrics.csv cell: empty for missing/nan, compact otherwise."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return f"{value:.6g}" if isinstance(value, float) else str(value)


# ---- the run --------------------------------------------------------------------------------------------
def run(raw: dict[str, Any], run_dir: Path, overrides: list[str], argv: list[str] | None = None) -> int:
    """Train as ``raw`` says, into ``run_dir``; returns the process exit code (0 on success)."""
    try:
        cfg, checkpoint, state = prepare_config(raw, overrides)
        check_env_id(cfg.env.id)
        session = TrainingSession(cfg, run_dir, checkpoint, state, argv)
    except (ValueError, gym.error.Error, ImportError) as err:
        print(f"error: {err}", flush=True)
        return EXIT_CODES["config"]
    return session.train()


class TrainingSession:
    """One training run: envs, model, callbacks, checkpoints and the final summary."""

    def __init__(self, cfg: TrainConfig, run_dir: Path, checkpoint: Path | None, state: dict | None,
                 argv: list[str] | None) -> None:
        self.cfg, self.run_dir, self.checkpoint, self.state = cfg, run_dir, checkpoint, state
        if cfg.preset.torch_threads:
            torch.set_num_threads(cfg.preset.torch_threads)
        start = int(state["num_timesteps"]) if state else 0
        seed = cfg.seed + start  # a resumed run does not replay the episodes of the first part
        resolved = _config_dict(cfg)
        write_run_info(run_dir, resolved, {"seed": cfg.seed, "env_seeds": [seed + i for i in range(cfg.n_envs)],
                                           "eval_seed": cfg.seed + EVAL_SEED_OFFSET, "resumed_from": str(checkpoint)
                                           if checkpoint else None, "start_timesteps": start}, argv)
        self.wandb = start_wandb(resolved, run_dir, cfg.logger.wandb_project, cfg.logger.wandb_entity,
                                 cfg.logger.tensorboard) if cfg.logger.wandb else None
        self.venv = build_vec_env(cfg, cfg.n_envs, seed, training=True)
        self.eval_env = build_vec_env(cfg, 1, cfg.seed + EVAL_SEED_OFFSET, training=False) if cfg.eval.every else None
        self.model = build_model(cfg, self.venv, seed, run_dir)
        if checkpoint is not None:
            restore(self.model, self.venv, checkpoint, state)
            _copy_metrics(checkpoint, run_dir)
        self.manager = CheckpointManager(run_dir, cfg.checkpoint.keep)
        self.state_extra = {"config": resolved, "metadata": _metadata(cfg, run_dir)}

    def train(self) -> int:
        """Learn until the budget, a signal or an error; always leaves a good checkpoint. Returns the exit code."""
        stop, t0, start = StopFlag(), time.time(), self.model.num_timesteps
        remaining = self.cfg.agent.total_timesteps - start
        callbacks = [StepGuard(stop), RolloutTasks(self.cfg, self.run_dir, self.manager, self.eval_env,
                                                    self.state_extra)]
        if self.cfg.progress:
            callbacks.append(ProgressBar(self.cfg.agent.total_timesteps))
        stop.install()
        try:
            if remaining > 0:
                self.model.learn(remaining, callback=CallbackList(callbacks), log_interval=self.cfg.logger.log_interval,
                                 reset_num_timesteps=False)
            final = self.manager.save(self.model, self.venv, self.state_extra, final=True)
        except TrainingDiverged as err:
            return self._fail(f"training diverged: {err}; stopped", EXIT_CODES["diverged"])
        except CheckpointWriteError as err:
            return self._fail(str(err), EXIT_CODES["disk"])
        finally:
            stop.uninstall()
            self._close()
        self._summary(final, time.time() - t0, start, stop.signum)
        return 128 + stop.signum if stop.signum else 0

    def _fail(self, message: str, code: int) -> int:
        """Print ``message`` and where the last good checkpoint is; returns ``code``."""
        latest = self.manager.latest()
        print(f"error: {message}. Last good checkpoint: {latest or '(none written yet)'}", flush=True)
        return code

    def _summary(self, final: Path, seconds: float, start: int, signum: int | None) -> None:
        """Print the final summary line (and log a video to wandb when asked)."""
        steps = self.model.num_timesteps
        ret, success = _episode_stats(self.model)
        why = f"stopped by {signal.Signals(signum).name}" if signum else "done"
        print(f"{why}: {steps} steps in {seconds / 60:.1f} min ({(steps - start) / max(seconds, 1e-9):.0f} steps/s) | "
              f"return {ret:.3g} | success {success:.2f} | run dir {self.run_dir} | final checkpoint {final} | "
              f"resume with: python train_rl.py resume={self.run_dir}", flush=True)
        if self.wandb is not None:
            if self.cfg.logger.video:
                self._wandb_video(final)
            self.wandb.finish()

    def _wandb_video(self, final: Path) -> None:
        """Film one episode of the final policy and attach it to the wandb run."""
        from agents.evaluation import EpisodeSettings, record_video

        try:
            path, fps = record_video(final / "safe", self.run_dir / "videos", EpisodeSettings.from_train(self.cfg))
        except Exception as err:  # rendering needs a GL backend; a missing one must not fail a finished run
            print(f"warning: no wandb video ({type(err).__name__}: {err}); set MUJOCO_GL=egl or osmesa", flush=True)
            return
        if path is not None:
            log_wandb_video(self.wandb, path, fps)

    def _close(self) -> None:
        """Close the envs, tolerating workers already killed by the signal."""
        for env in (self.venv, self.eval_env):
            try:
                if env is not None:
                    env.close()
            except (EOFError, BrokenPipeError, ConnectionResetError):
                pass


def _config_dict(cfg: TrainConfig) -> dict[str, Any]:
    """The validated config as plain data."""
    import dataclasses

    return dataclasses.asdict(cfg)


def _metadata(cfg: TrainConfig, run_dir: Path) -> dict[str, Any]:
    """What the safe checkpoint records so that ``evaluate.py`` rebuilds the same env."""
    return {"env_id": cfg.env.id, "env_kwargs": dict(cfg.env.kwargs), "irregular": cfg.env.irregular,
            "irregular_kwargs": dict(cfg.env.irregular_kwargs), "policy": cfg.policy.name, "preset": cfg.preset.name,
            "seed": cfg.seed, "run_dir": str(run_dir.resolve())}


def _copy_metrics(checkpoint: Path, run_dir: Path) -> None:
    """Start the resumed run's metrics.csv with the rows of the original run up to the checkpoint."""
    source = checkpoint.parent.parent / "metrics.csv"
    if not source.is_file():
        return
    state_step = read_trainer_state(checkpoint)["num_timesteps"]
    with open(source, newline="") as f:
        rows = list(csv.reader(f))
    kept = [rows[0]] + [r for r in rows[1:] if r and r[0].isdigit() and int(r[0]) <= state_step]
    with open(run_dir / "metrics.csv", "w", newline="") as f:
        csv.writer(f).writerows(kept)


__all__ = ["CheckpointError", "TrainingDiverged", "run"]
