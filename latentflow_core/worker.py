"""Low-level worker: a continuous-time cell that integrates ``n_micro_steps`` per env step.

At chosen micro-steps the worker reads the latent array ``L`` and the plan tokens by cross-attention,
with a query made from its own state; a learned gate sets how much of the plan reaches the cell.
"""

from __future__ import annotations

import torch
from einops import rearrange
from torch import nn

from latentflow_core.attention import CrossAttention
from latentflow_core.cells import make_cell
from latentflow_core.config import CoreConfig


class LowLevelWorker(nn.Module):
    """``L (b, n, d), P (b, k, d) | None, h (b, d_w), dt (b,) -> h' (b, d_w)`` (via precomputed keys/values)."""

    def __init__(self, cfg: CoreConfig) -> None:
        super().__init__()
        self.cfg = cfg
        d = cfg.d_latent
        self.query = nn.Linear(cfg.d_worker, d)
        self.read_latents = CrossAttention(d, d, cfg.heads)
        if cfg.has_planner:
            self.read_plan = CrossAttention(d, d, cfg.heads)
            self.plan_gate = nn.Linear(cfg.d_worker + d, d)
        self.to_input = nn.Linear(2 * d if cfg.has_planner else d, d)
        self.cell = make_cell(cfg.worker, d, cfg.d_worker, cfg.ode_unfolds)

    def prepare(self, latents: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Keys and values of ``L (b, n, d)`` for the worker's reads; state-free, so batched over time."""
        return self.read_latents.context_kv(latents)

    def plan_kv(self, plan: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Keys and values of the plan tokens ``(b, k, d)``; they change only when the planner updates."""
        return self.read_plan.context_kv(plan)

    def forward(
        self,
        latents_kv: tuple[torch.Tensor, torch.Tensor],
        plan_kv: tuple[torch.Tensor, torch.Tensor] | None,
        h: torch.Tensor,
        dt: torch.Tensor,
        latent_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``n_micro_steps`` of the cell over ``dt (b,)`` seconds; keys/values from ``prepare``/``plan_kv``."""
        micro_dt = dt / self.cfg.n_micro_steps
        drive = None
        for i in range(self.cfg.n_micro_steps):
            if i % self.cfg.read_every == 0:
                drive = self.cell.drive(self.read(latents_kv, plan_kv, h, latent_mask))
            h = self.cell.integrate(drive, h, micro_dt)
        return h

    def read(
        self,
        latents_kv: tuple[torch.Tensor, torch.Tensor],
        plan_kv: tuple[torch.Tensor, torch.Tensor] | None,
        h: torch.Tensor,
        latent_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """The cell's input ``(b, d)``: what the worker reads of ``L`` and of the gated plan."""
        query = rearrange(self.query(h), "b d -> b 1 d")
        parts = [self.read_latents.attend(query, latents_kv, latent_mask)[:, 0]]  # (b, 1, d) -> (b, d)
        if plan_kv is not None:
            plan_read = self.read_plan.attend(query, plan_kv)[:, 0]
            gate = torch.sigmoid(self.plan_gate(torch.cat([h.to(plan_read.dtype), plan_read], dim=-1)))
            parts.append(gate * plan_read)
        return self.to_input(torch.cat(parts, dim=-1))
