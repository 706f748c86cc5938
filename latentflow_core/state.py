"""Typed recurrent state of the hybrid core and its flat form.

SB3 keeps recurrent state as plain tensors, so ``CoreState`` flattens to ``(b, state_size)`` and back. An
all-zero state is a fresh episode: the planner is due at once (``tick == 0``) and both recurrent
memories start from zero.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from einops import rearrange

from latentflow_core.config import CoreConfig


@dataclass(frozen=True)
class CoreState:
    """Recurrent state of ``LatentFlowCore`` for a batch of ``b`` episodes."""

    plan: torch.Tensor | None
    """Planner state ``z (b, k, d_p)``; ``None`` without a planner."""
    worker: torch.Tensor | None
    """Worker cell state ``h (b, d_w)``; ``None`` without a worker."""
    tick: torch.Tensor
    """Env steps since the last planner update, modulo ``K``, as floats ``(b,)``; 0 means due now."""

    @property
    def batch_size(self) -> int:
        """Number of episodes ``b``."""
        return self.tick.shape[0]

    @staticmethod
    def size(cfg: CoreConfig) -> int:
        """Length of the flat state vector for ``cfg``."""
        plan = cfg.n_plan_tokens * cfg.d_planner if cfg.has_planner else 0
        return plan + (cfg.d_worker if cfg.has_worker else 0) + 1

    @classmethod
    def zeros(
        cls, cfg: CoreConfig, batch_size: int, device: torch.device | str | None = None
    ) -> CoreState:
        """The fresh-episode state."""
        return cls.unflatten(torch.zeros(batch_size, cls.size(cfg), device=device), cfg)

    def flatten(self) -> torch.Tensor:
        """``(b, state_size)`` float tensor: plan, then worker, then tick."""
        parts = []
        if self.plan is not None:
            parts.append(rearrange(self.plan, "b k d -> b (k d)"))
        if self.worker is not None:
            parts.append(self.worker)
        parts.append(rearrange(self.tick, "b -> b 1"))
        return torch.cat([p.float() for p in parts], dim=-1)

    @classmethod
    def unflatten(cls, flat: torch.Tensor, cfg: CoreConfig) -> CoreState:
        """Inverse of ``flatten``: ``(b, state_size) -> CoreState``."""
        if flat.dim() != 2 or flat.shape[1] != cls.size(cfg):
            raise ValueError(
                f"flat state must have shape (batch, {cls.size(cfg)}) for this config, got {tuple(flat.shape)}"
            )
        offset, plan, worker = 0, None, None
        if cfg.has_planner:
            width = cfg.n_plan_tokens * cfg.d_planner
            plan = rearrange(flat[:, :width], "b (k d) -> b k d", k=cfg.n_plan_tokens)
            offset = width
        if cfg.has_worker:
            worker = flat[:, offset : offset + cfg.d_worker]
            offset += cfg.d_worker
        return cls(plan=plan, worker=worker, tick=flat[:, offset])

    def reset(self, episode_start: torch.Tensor) -> CoreState:
        """Zero the episodes where ``episode_start (b,)`` is true: the one place a reset happens."""
        start = episode_start.bool()  # (b,); where() rather than a product, so a NaN state resets too

        def clear(x: torch.Tensor | None) -> torch.Tensor | None:
            if x is None:
                return None
            mask = start.reshape(-1, *([1] * (x.dim() - 1)))  # (b,) -> (b, 1, ...)
            return torch.where(mask, torch.zeros((), dtype=x.dtype, device=x.device), x)

        return CoreState(plan=clear(self.plan), worker=clear(self.worker), tick=clear(self.tick))
