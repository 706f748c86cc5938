"""High-level planner (HRM's slow module): reads a pooled view of ``L`` and the worker, emits plan tokens.

The planner state ``z (b, k, d_p)`` is updated only on planner ticks (every ``K``-th env step of an
episode); the plan tokens ``P (b, k, d)`` are a projection of ``z``, so they stay fixed between ticks.
"""

from __future__ import annotations

import torch
from einops import rearrange
from torch import nn

from latentflow_core.attention import AttentionPool, SelfAttentionBlock
from latentflow_core.config import CoreConfig


class HighLevelPlanner(nn.Module):
    """HRM-style planner with ``M`` iterations per update and a transformer or GRU recurrence."""

    def __init__(self, cfg: CoreConfig) -> None:
        super().__init__()
        self.cfg = cfg
        d_p = cfg.d_planner
        self.pool = AttentionPool(cfg.n_plan_tokens, d_p, cfg.d_latent, cfg.heads)
        self.read_worker = nn.Linear(cfg.d_worker, d_p) if cfg.has_worker else None
        if cfg.planner_cell == "transformer":
            self.blocks = nn.ModuleList(SelfAttentionBlock(d_p, cfg.heads) for _ in range(cfg.planner_layers))
            self.gru = None
        else:
            self.blocks = nn.ModuleList()
            self.gru = nn.GRUCell(d_p, d_p)
        self.to_plan = nn.Sequential(nn.LayerNorm(d_p), nn.Linear(d_p, cfg.d_latent))

    def summarize(self, latents: torch.Tensor, latent_mask: torch.Tensor | None = None) -> torch.Tensor:
        """What the planner sees of the workspace: ``L (b, n, d) -> (b, k, d_p)`` by attention pooling.

        It does not depend on the recurrent state, so a sequence computes it for all steps at once.
        """
        return self.pool(latents, latent_mask)

    def update(self, summary: torch.Tensor, z: torch.Tensor, worker_h: torch.Tensor | None) -> torch.Tensor:
        """One planner update: ``summary (b, k, d_p), z (b, k, d_p), h (b, d_w) -> z' (b, k, d_p)``."""
        inputs = summary
        if self.read_worker is not None and worker_h is not None:
            inputs = inputs + rearrange(self.read_worker(worker_h), "b d -> b 1 d")
        for _ in range(self.cfg.plan_iterations):
            z = self._cycle(z, inputs)
        return z

    def _cycle(self, z: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
        """One planning iteration ``(b, k, d_p), (b, k, d_p) -> (b, k, d_p)``."""
        if self.gru is None:
            z = z + inputs  # HRM's input injection: the input is added before each cycle
            for block in self.blocks:
                z = block(z)
            return z
        # (b, k, d_p) -> ((b k), d_p): every plan token is one GRU sample
        flat_in, flat_z = (rearrange(x, "b k d -> (b k) d") for x in (inputs, z))
        return rearrange(self.gru(flat_in, flat_z), "(b k) d -> b k d", b=z.shape[0])

    def plan_tokens(self, z: torch.Tensor) -> torch.Tensor:
        """``z (b, k, d_p) -> P (b, k, d)``."""
        return self.to_plan(z)
