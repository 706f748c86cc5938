"""Input encoders ``tokens (b, m, d_in) -> L (b, n, d)`` and the Perceiver IO decoder.

The tokenizer (in ``policies/``) adds modality and position encodings to the tokens; encoders see only
token vectors and an optional validity mask ``(b, m)``.
"""

from __future__ import annotations

import torch
from einops import rearrange, repeat
from torch import nn

from latentflow_core.attention import CrossAttentionBlock, SelfAttentionBlock
from latentflow_core.config import CoreConfig


class PerceiverEncoder(nn.Module):
    """Perceiver IO encoder: learned latents cross-attend the tokens, then latent self-attention blocks."""

    def __init__(self, cfg: CoreConfig) -> None:
        super().__init__()
        self.embed = nn.Linear(cfg.d_in, cfg.d_latent)
        self.latents = nn.Parameter(torch.randn(cfg.n_latents, cfg.d_latent) * 0.02)
        self.read = CrossAttentionBlock(cfg.d_latent, cfg.d_latent, cfg.heads)
        self.blocks = nn.ModuleList(SelfAttentionBlock(cfg.d_latent, cfg.heads) for _ in range(cfg.depth))

    def forward(self, tokens: torch.Tensor, token_mask: torch.Tensor | None = None) -> torch.Tensor:
        """``(b, m, d_in) -> (b, n, d)``."""
        latents = repeat(self.latents, "n d -> b n d", b=tokens.shape[0])
        latents = self.read(latents, self.embed(tokens), token_mask)
        for block in self.blocks:
            latents = block(latents)
        return latents


class TransformerEncoder(nn.Module):
    """Ablation: self-attention over the input tokens themselves; ``L`` is the token array (``n = m``)."""

    def __init__(self, cfg: CoreConfig) -> None:
        super().__init__()
        self.embed = nn.Linear(cfg.d_in, cfg.d_latent)
        self.blocks = nn.ModuleList(SelfAttentionBlock(cfg.d_latent, cfg.heads) for _ in range(cfg.depth))

    def forward(self, tokens: torch.Tensor, token_mask: torch.Tensor | None = None) -> torch.Tensor:
        """``(b, m, d_in) -> (b, m, d)``."""
        x = self.embed(tokens)
        for block in self.blocks:
            x = block(x, token_mask)
        return x


class MlpEncoder(nn.Module):
    """Ablation: a per-token MLP, masked mean pooling and an MLP that emits ``n`` latents (no attention)."""

    def __init__(self, cfg: CoreConfig) -> None:
        super().__init__()
        d = cfg.d_latent
        self.n_latents = cfg.n_latents
        self.token_mlp = nn.Sequential(nn.Linear(cfg.d_in, d), nn.GELU(), nn.Linear(d, d))
        self.out = nn.Sequential(nn.LayerNorm(d), nn.Linear(d, cfg.n_latents * d))

    def forward(self, tokens: torch.Tensor, token_mask: torch.Tensor | None = None) -> torch.Tensor:
        """``(b, m, d_in) -> (b, n, d)``."""
        x = self.token_mlp(tokens)
        if token_mask is None:
            pooled = x.mean(dim=1)
        else:
            weights = rearrange(token_mask.to(x.dtype), "b m -> b m 1")
            pooled = (x * weights).sum(dim=1) / weights.sum(dim=1).clamp_min(1.0)
        return rearrange(self.out(pooled), "b (n d) -> b n d", n=self.n_latents)


def make_encoder(cfg: CoreConfig) -> nn.Module:
    """The encoder named by ``cfg.encoder``."""
    return {"perceiver": PerceiverEncoder, "transformer": TransformerEncoder, "mlp": MlpEncoder}[cfg.encoder](
        cfg
    )


class PerceiverDecoder(nn.Module):
    """Perceiver IO decoder: learned output queries cross-attend ``L`` and optional extra context tokens.

    ``(b, n, d), (b, c, d) | None -> (b, q * d)``.
    """

    def __init__(self, cfg: CoreConfig) -> None:
        super().__init__()
        self.queries = nn.Parameter(torch.randn(cfg.n_output_queries, cfg.d_latent) * 0.02)
        self.read = CrossAttentionBlock(cfg.d_latent, cfg.d_latent, cfg.heads)

    def forward(
        self, latents: torch.Tensor, extra: torch.Tensor | None = None, latent_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        context = latents if extra is None else torch.cat([latents, extra], dim=1)  # (b, n + c, d)
        mask = latent_mask
        if mask is not None and extra is not None:
            mask = torch.cat([mask, mask.new_ones(extra.shape[:2])], dim=1)  # (b, n + c)
        queries = repeat(self.queries, "q d -> b q d", b=latents.shape[0])
        return rearrange(self.read(queries, context, mask), "b q d -> b (q d)")
