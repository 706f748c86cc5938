"""Attention building blocks shared by the encoder, planner, worker and decoder.

Shape alphabet (the whole repo uses it): ``b`` batch, ``t`` time, ``m`` input tokens, ``n`` latents,
``k`` plan tokens, ``q`` queries, ``h`` heads, ``d`` width.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn


class CrossAttention(nn.Module):
    """Pre-norm multi-head attention of queries ``(b, q, d_q)`` over a context ``(b, m, d_kv)``.

    Returns ``(b, q, d_q)`` (the residual is left to the caller). ``context_mask`` ``(b, m)`` marks valid
    context entries with ``True``; every row must keep at least one valid entry.
    """

    def __init__(self, d_q: int, d_kv: int, heads: int) -> None:
        super().__init__()
        if d_q % heads:
            raise ValueError(f"width {d_q} must be divisible by heads={heads}")
        self.heads = heads
        self.norm_q = nn.LayerNorm(d_q)
        self.norm_kv = nn.LayerNorm(d_kv)
        self.to_q = nn.Linear(d_q, d_q, bias=False)
        self.to_kv = nn.Linear(d_kv, 2 * d_q, bias=False)
        self.to_out = nn.Linear(d_q, d_q)

    def forward(
        self, queries: torch.Tensor, context: torch.Tensor, context_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        return self.attend(queries, self.context_kv(context), context_mask)

    def context_kv(self, context: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Keys and values ``(b, h, m, d)`` of a context; compute once, attend many times."""
        k, v = self.to_kv(self.norm_kv(context)).chunk(2, dim=-1)
        # (b, m, (h d)) -> (b, h, m, d) for k and v alike
        return tuple(rearrange(x, "b m (h d) -> b h m d", h=self.heads) for x in (k, v))

    def attend(
        self,
        queries: torch.Tensor,
        kv: tuple[torch.Tensor, torch.Tensor],
        context_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Queries ``(b, q, d_q)`` over precomputed ``context_kv`` -> ``(b, q, d_q)``."""
        q = rearrange(self.to_q(self.norm_q(queries)), "b q (h d) -> b h q d", h=self.heads)
        attn_mask = None if context_mask is None else rearrange(context_mask, "b m -> b 1 1 m")
        out = F.scaled_dot_product_attention(q, *kv, attn_mask=attn_mask)
        return self.to_out(rearrange(out, "b h q d -> b q (h d)"))


class FeedForward(nn.Module):
    """Pre-norm two-layer MLP ``(..., d) -> (..., d)`` with a GELU and a width multiplier."""

    def __init__(self, d: int, mult: int = 4) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.LayerNorm(d), nn.Linear(d, d * mult), nn.GELU(), nn.Linear(d * mult, d))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class CrossAttentionBlock(nn.Module):
    """Residual cross-attention then residual feed-forward: ``(b, q, d_q), (b, m, d_kv) -> (b, q, d_q)``."""

    def __init__(self, d_q: int, d_kv: int, heads: int) -> None:
        super().__init__()
        self.attn = CrossAttention(d_q, d_kv, heads)
        self.ff = FeedForward(d_q)

    def forward(
        self, queries: torch.Tensor, context: torch.Tensor, context_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        x = queries + self.attn(queries, context, context_mask)
        return x + self.ff(x)


class SelfAttentionBlock(nn.Module):
    """Residual self-attention then residual feed-forward: ``(b, n, d) -> (b, n, d)``."""

    def __init__(self, d: int, heads: int) -> None:
        super().__init__()
        self.attn = CrossAttention(d, d, heads)
        self.ff = FeedForward(d)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        x = x + self.attn(x, x, mask)
        return x + self.ff(x)


class AttentionPool(nn.Module):
    """Learned queries that read a token array: ``(b, n, d_kv) -> (b, q, d)``."""

    def __init__(self, n_queries: int, d: int, d_kv: int, heads: int) -> None:
        super().__init__()
        self.queries = nn.Parameter(torch.randn(n_queries, d) * 0.02)
        self.attn = CrossAttention(d, d_kv, heads)

    def forward(self, context: torch.Tensor, context_mask: torch.Tensor | None = None) -> torch.Tensor:
        queries = self.queries.expand(context.shape[0], -1, -1)  # (q, d) -> (b, q, d)
        return queries + self.attn(queries, context, context_mask)
