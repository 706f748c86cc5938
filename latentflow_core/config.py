"""Typed configuration of the hybrid core, its ablation switches and its two presets.

``CoreConfig`` is validated once, on construction: a wrong value raises ``ValueError`` that names the
setting and what it accepts.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

ENCODERS = ("perceiver", "transformer", "mlp")
PLANNERS = ("hrm", "none")
PLANNER_CELLS = ("transformer", "gru")
WORKERS = ("ltc", "cfc", "gru", "none")


@dataclass(frozen=True)
class CoreConfig:
    """Every knob of ``LatentFlowCore``.

    Widths are chosen so that the ``cpu`` preset trains on two CPU cores; ``paper`` holds the concept's
    starter hyperparameters.
    """

    d_in: int
    """Width of one input token (what the tokenizer emits)."""
    n_latents: int = 8
    """Perceiver latents ``n`` in the latent array ``L (b, n, d)``."""
    d_latent: int = 32
    """Latent width ``d``; plan tokens and decoder queries share it."""
    depth: int = 1
    """Latent self-attention blocks after the input cross-attention."""
    heads: int = 2
    """Attention heads everywhere (``d_latent`` must divide by it)."""
    n_plan_tokens: int = 2
    """Plan tokens ``k`` the planner emits."""
    d_planner: int = 32
    """Planner state width."""
    planner_layers: int = 1
    """Transformer blocks in one planner iteration."""
    plan_interval: int = 4
    """``K``: the planner updates on every K-th env step of an episode, starting with the first."""
    plan_iterations: int = 1
    """``M``: planning iterations per planner update (HRM's cycles)."""
    d_worker: int = 32
    """Units of the low-level worker cell."""
    n_micro_steps: int = 2
    """Worker integration steps per env step; each covers ``dt / n_micro_steps`` seconds."""
    ode_unfolds: int = 1
    """Fused semi-implicit Euler unfolds inside one LTC micro-step (the solver is stable at any step size;
    more unfolds follow the ODE more closely at a proportional cost)."""
    read_every: int = 2
    """The worker reads ``L`` and the plan by cross-attention at micro-steps ``i % read_every == 0``."""
    default_dt: float = 0.05
    """Elapsed time per env step (seconds) when the caller gives none."""
    n_output_queries: int = 1
    """Perceiver IO output queries of the decoder; features are their concatenation plus the worker state."""
    encoder: str = "perceiver"
    """Input encoder: ``perceiver`` | ``transformer`` (self-attention over the tokens) | ``mlp`` (pooled)."""
    planner: str = "hrm"
    """``hrm`` (slow recurrent planner) or ``none`` (the worker gets no plan)."""
    planner_cell: str = "transformer"
    """Recurrence of the planner: ``transformer`` (a small recurrent transformer) or ``gru``."""
    worker: str = "ltc"
    """Low-level worker cell: ``ltc`` | ``cfc`` | ``gru`` | ``none`` (no worker: a feed-forward decoder)."""
    writeback: bool = False
    """Write worker state and plan back into ``L`` by cross-attention before decoding."""

    def __post_init__(self) -> None:
        _check_choice("encoder", self.encoder, ENCODERS)
        _check_choice("planner", self.planner, PLANNERS)
        _check_choice("planner_cell", self.planner_cell, PLANNER_CELLS)
        _check_choice("worker", self.worker, WORKERS)
        for name in ("d_in", "n_latents", "d_latent", "depth", "heads", "n_plan_tokens", "d_planner",
                     "planner_layers", "plan_interval", "plan_iterations", "d_worker", "n_micro_steps",
                     "ode_unfolds", "read_every", "n_output_queries"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.d_latent % self.heads or self.d_planner % self.heads:
            raise ValueError(
                f"d_latent ({self.d_latent}) and d_planner ({self.d_planner}) must be divisible by "
                f"heads ({self.heads})"
            )
        if not self.default_dt > 0:
            raise ValueError(f"default_dt must be > 0 seconds, got {self.default_dt!r}")

    @property
    def has_planner(self) -> bool:
        """Whether a planner runs (``planner != 'none'``)."""
        return self.planner != "none"

    @property
    def has_worker(self) -> bool:
        """Whether a worker cell runs (``worker != 'none'``)."""
        return self.worker != "none"

    @property
    def features_dim(self) -> int:
        """Width of the core's features per step: the decoder's output queries, then the worker state."""
        return self.n_output_queries * self.d_latent + (self.d_worker if self.has_worker else 0)

    def replace(self, **changes: Any) -> CoreConfig:
        """A validated copy with ``changes`` applied."""
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_preset(cls, preset: str, d_in: int, **overrides: Any) -> CoreConfig:
        """Build the ``cpu`` or ``paper`` preset for tokens of width ``d_in``, then apply ``overrides``."""
        _check_choice("preset", preset, tuple(PRESETS))
        unknown = set(overrides) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"unknown CoreConfig settings {sorted(unknown)}; see CoreConfig's fields")
        return cls(d_in=d_in, **{**PRESETS[preset], **overrides})


PRESETS: dict[str, dict[str, Any]] = {
    # Sized for two CPU cores: one step of the whole core is a few hundred microseconds.
    "cpu": {},
    # The concept's starter hyperparameters (section 7). dt 0.05 s per micro-step x 16 micro-steps.
    "paper": {
        "n_latents": 512,
        "d_latent": 1024,
        "depth": 6,
        "heads": 16,
        "n_plan_tokens": 8,
        "d_planner": 1024,
        "planner_layers": 2,
        "plan_interval": 4,
        "d_worker": 512,
        "n_micro_steps": 16,
        "ode_unfolds": 6,
        "read_every": 4,
        "default_dt": 0.8,
        "n_output_queries": 4,
    },
}


def _check_choice(name: str, value: object, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{name}={value!r} is not one of {', '.join(allowed)}")
