"""Typed, validated configuration of ``train_rl.py`` and ``evaluate.py``.

Hydra composes ``configs/``; the entry points turn the result into these dataclasses once, with
``train_config`` / ``evaluate_config``. Every invalid setting a user can reach raises ``ValueError`` naming the
setting and how to fix it. Numbers written like ``2e5`` for an integer setting are accepted when integral.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from typing import Any

VEC_ENVS = ("dummy", "subproc")
POLICY_KINDS = ("latentflow", "sb3_lstm")
PRESETS = ("cpu", "paper")


@dataclass(frozen=True)
class EnvConfig:
    """Which environment to train on and how it is wrapped."""

    id: str
    """Gymnasium id (``import envs`` registers LatentFlow's; ``module:Id`` imports ``module`` first)."""
    kwargs: dict = field(default_factory=dict)
    """Keyword arguments of ``gymnasium.make``."""
    normalize: bool = False
    """Normalize observations with ``VecNormalize`` (float Box or float Dict keys only)."""
    norm_reward: bool = False
    """Normalize returns with ``VecNormalize``."""
    norm_obs_keys: list | None = None
    """Dict observations: keys to normalize; ``None`` = every float key."""
    control_dt: float | None = None
    """Seconds per env step handed to the policy; ``None`` = ``env.unwrapped.dt`` when the env has one."""
    irregular: bool = False
    """Wrap each env with ``envs.wrappers.IrregularTimestep`` (adds a ``dt`` key to a Dict observation)."""
    irregular_kwargs: dict = field(default_factory=dict)
    """Distribution settings passed to ``IrregularTimestep``."""


@dataclass(frozen=True)
class AgentConfig:
    """RecurrentPPO hyperparameters; names and meaning as in ``sb3_contrib.RecurrentPPO``."""

    total_timesteps: int = 100_000
    """Env steps to train for (summed over the parallel envs)."""
    n_steps: int = 128
    """Steps per env per rollout."""
    batch_size: int = 128
    """Transitions per minibatch."""
    n_epochs: int = 4
    """Passes over each rollout."""
    learning_rate: float = 3e-4
    """Adam step size."""
    gamma: float = 0.99
    """Discount factor."""
    gae_lambda: float = 0.95
    """GAE bias/variance trade-off."""
    clip_range: float = 0.2
    """PPO clipping of the probability ratio."""
    ent_coef: float = 0.0
    """Entropy bonus weight."""
    vf_coef: float = 0.5
    """Value loss weight."""
    max_grad_norm: float = 0.5
    """Gradient clipping norm."""
    target_kl: float | None = None
    """Stop an update's epochs early beyond this KL; ``None`` = never."""


@dataclass(frozen=True)
class PresetConfig:
    """Size preset of the LatentFlow core and where it runs."""

    name: str = "cpu"
    """``cpu`` (small, trains on two cores) or ``paper`` (the concept's sizes)."""
    device: str = "cpu"
    """torch device: ``cpu``, ``cuda``, ``auto``."""
    torch_threads: int | None = 1
    """``torch.set_num_threads`` value; ``None`` leaves torch's default."""


@dataclass(frozen=True)
class PolicyConfig:
    """Which recurrent policy RecurrentPPO trains."""

    name: str = "latentflow"
    """Label of the variant (run names, reports)."""
    kind: str = "latentflow"
    """``latentflow`` (LatentFlowPolicy) or ``sb3_lstm`` (sb3-contrib's MlpLstmPolicy/MultiInputLstmPolicy)."""
    core: dict = field(default_factory=dict)
    """CoreConfig overrides, e.g. ``{planner: none, worker: gru}``."""
    tokenizer: dict = field(default_factory=dict)
    """``tokenizer_kwargs`` of LatentFlowPolicy."""
    critic_grad: bool = True
    """Let the value loss train the shared core; ``false`` detaches the critic (sb3-contrib's ``shared_lstm``)."""
    lstm_hidden_size: int = 64
    """LSTM width of the ``sb3_lstm`` baseline."""


@dataclass(frozen=True)
class LoggerConfig:
    """Where training metrics go (metrics.csv is always written)."""

    tensorboard: bool = True
    """Write tensorboard events into the run dir."""
    wandb: bool = False
    """Also log to Weights & Biases; offline unless ``WANDB_MODE`` is set in the environment."""
    wandb_project: str = "latentflow"
    """wandb project."""
    wandb_entity: str | None = None
    """wandb entity (team or user); ``None`` = wandb's default."""
    video: bool = True
    """With wandb: log a rollout video of the final policy."""
    log_interval: int = 1
    """Rollouts between SB3 logger dumps."""


@dataclass(frozen=True)
class CheckpointConfig:
    """How often checkpoints are written and how many are kept."""

    every: int = 25_000
    """Env steps between checkpoints; one is always written at the end and on SIGINT/SIGTERM."""
    keep: int = 3
    """Newest periodic checkpoints kept on disk (older ones are deleted)."""


@dataclass(frozen=True)
class EvalConfig:
    """Periodic deterministic evaluation during training."""

    every: int = 25_000
    """Env steps between evaluations; 0 = none during training."""
    episodes: int = 5
    """Episodes per evaluation."""


@dataclass(frozen=True)
class TrainConfig:
    """Everything ``train_rl.py`` needs, validated."""

    env: EnvConfig
    """The environment."""
    agent: AgentConfig
    """RecurrentPPO hyperparameters."""
    preset: PresetConfig
    """Core size preset and device."""
    policy: PolicyConfig
    """Policy variant."""
    logger: LoggerConfig
    """Logging backends."""
    checkpoint: CheckpointConfig
    """Checkpoint schedule."""
    eval: EvalConfig
    """Evaluation schedule."""
    seed: int = 0
    """Master seed: training envs get ``seed + i``, evaluation envs ``seed + 10_000 + i``."""
    n_envs: int = 4
    """Parallel training envs."""
    vec_env: str = "dummy"
    """``dummy`` (one process) or ``subproc`` (one process per env)."""
    resume: str | None = None
    """Run dir or checkpoint dir to continue from."""
    progress: bool = True
    """Show a progress bar."""

    @property
    def rollout_size(self) -> int:
        """Transitions per rollout: ``n_steps * n_envs``."""
        return self.agent.n_steps * self.n_envs


@dataclass(frozen=True)
class EvaluateConfig:
    """Everything ``evaluate.py`` needs, validated."""

    checkpoint: str
    """Checkpoint dir, its ``safe/`` dir, or a run dir (its newest checkpoint)."""
    episodes: int = 20
    """Episodes to run."""
    video: bool = False
    """Write mp4 rollout videos."""
    video_episodes: int = 2
    """How many of the episodes are filmed."""
    deterministic: bool = True
    """Greedy actions."""
    seed: int = 0
    """Episode ``i`` resets with ``seed + i``."""
    irregular: bool | None = None
    """Wrap with IrregularTimestep; ``None`` = as in training."""
    irregular_kwargs: dict | None = None
    """IrregularTimestep settings; ``None`` = as in training."""
    env_kwargs: dict = field(default_factory=dict)
    """Extra ``gymnasium.make`` kwargs on top of the training ones."""
    out_dir: str | None = None
    """Report dir; ``None`` = ``<checkpoint>/eval-<time>``."""
    plots: bool = True
    """Write PNG plots (training curves, plan tokens against stage)."""


def train_config(raw: dict[str, Any]) -> TrainConfig:
    """Validate a composed Hydra config (as a plain dict) into a ``TrainConfig``."""
    sections = {"env": EnvConfig, "agent": AgentConfig, "preset": PresetConfig, "policy": PolicyConfig,
                "logger": LoggerConfig, "checkpoint": CheckpointConfig, "eval": EvalConfig}
    raw = dict(raw)
    built = {name: _build(cls, raw.pop(name, {}) or {}, name) for name, cls in sections.items()}
    cfg = _build(TrainConfig, {**raw, **built}, "")
    _check_train(cfg)
    return cfg


def evaluate_config(raw: dict[str, Any]) -> EvaluateConfig:
    """Validate the composed ``evaluate.py`` config into an ``EvaluateConfig``."""
    cfg = _build(EvaluateConfig, dict(raw), "")
    _positive("episodes", cfg.episodes)
    if cfg.video_episodes < 0:
        raise ValueError(f"video_episodes must be >= 0, got {cfg.video_episodes}")
    return cfg


def _check_train(cfg: TrainConfig) -> None:
    """Cross-field checks of a built ``TrainConfig``."""
    _choice("vec_env", cfg.vec_env, VEC_ENVS)
    _choice("policy.kind", cfg.policy.kind, POLICY_KINDS)
    _choice("preset.name", cfg.preset.name, PRESETS)
    for name in ("n_envs", "agent.total_timesteps", "agent.n_steps", "agent.batch_size", "agent.n_epochs",
                 "logger.log_interval", "policy.lstm_hidden_size", "eval.episodes", "checkpoint.keep"):
        _positive(name, _get(cfg, name))
    for name in ("checkpoint.every", "eval.every"):
        if _get(cfg, name) < 0:
            raise ValueError(f"{name} must be >= 0 env steps, got {_get(cfg, name)}")
    if cfg.agent.batch_size > cfg.rollout_size:
        raise ValueError(
            f"agent.batch_size ({cfg.agent.batch_size}) exceeds one rollout, n_envs * agent.n_steps = "
            f"{cfg.n_envs} * {cfg.agent.n_steps} = {cfg.rollout_size}; lower agent.batch_size or raise n_steps"
        )
    if not 0 < cfg.agent.gamma <= 1 or not 0 <= cfg.agent.gae_lambda <= 1:
        raise ValueError(f"agent.gamma must be in (0, 1] and agent.gae_lambda in [0, 1], got "
                         f"{cfg.agent.gamma} and {cfg.agent.gae_lambda}")
    if not cfg.agent.learning_rate > 0:
        raise ValueError(f"agent.learning_rate must be > 0, got {cfg.agent.learning_rate}")
    if cfg.env.control_dt is not None and not cfg.env.control_dt > 0:
        raise ValueError(f"env.control_dt must be > 0 seconds or null, got {cfg.env.control_dt}")


def _build(cls: type, values: dict[str, Any], section: str) -> Any:
    """``cls(**values)`` after rejecting unknown keys and coercing each value to its field's type."""
    prefix = f"{section}." if section else ""
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(values) - set(names))
    if unknown:
        raise ValueError(f"unknown setting(s) {[prefix + u for u in unknown]}; known: {[prefix + n for n in names]}")
    missing = [n for n in names if n not in values and _required(cls, n)]
    if missing:
        raise ValueError(f"missing setting(s) {[prefix + m for m in missing]}")
    return cls(**{k: _coerce(prefix + k, v, hints[k]) for k, v in values.items()})


def _required(cls: type, name: str) -> bool:
    """Whether dataclass field ``name`` of ``cls`` has no default."""
    f = next(f for f in dataclasses.fields(cls) if f.name == name)
    return f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING


def _coerce(name: str, value: Any, hint: Any) -> Any:
    """``value`` as type ``hint`` (``X | None`` allowed); ``ValueError`` naming the setting otherwise."""
    if dataclasses.is_dataclass(value):
        return value
    args = typing.get_args(hint) if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union \
        else (hint,)
    if value is None:
        if type(None) in args:
            return None
        raise ValueError(f"{name} must not be null")
    target = next(a for a in args if a is not type(None))
    target = typing.get_origin(target) or target
    if target is bool:
        if isinstance(value, bool):
            return value
    elif target is int:
        if isinstance(value, (int, float)) and not isinstance(value, bool) and float(value).is_integer():
            return int(value)
    elif target is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif target is str:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
    elif isinstance(value, target):
        return value
    raise ValueError(f"{name} must be {getattr(target, '__name__', target)}, got {value!r}")


def _get(cfg: Any, dotted: str) -> Any:
    """Attribute at a dotted path."""
    for part in dotted.split("."):
        cfg = getattr(cfg, part)
    return cfg


def _positive(name: str, value: int) -> None:
    """Raise unless ``value >= 1``."""
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value}")


def _choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    """Raise unless ``value`` is one of ``choices``."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {list(choices)}, got {value!r}")
