"""Observation tokenizers: any Gymnasium observation -> tokens ``(b, m, d)`` for the Perceiver.

``ObservationTokenizer`` is an SB3 features extractor. It splits a (Dict) observation by key, turns each
part into tokens with the tokenizer that fits its space, adds a learned key embedding, and returns a
``TokenBatch``. Two keys are routed rather than tokenized: ``dt`` (elapsed seconds of the step, for the
worker) and ``action_mask`` (valid discrete actions, for the action distribution).

| space (after SB3's preprocessing)                     | tokenizer         | tokens                        |
|-------------------------------------------------------|-------------------|-------------------------------|
| 1-D ``Box`` (n,)                                       | ``VectorTokens``  | one per feature (or group)    |
| 2-D integer ``Box`` (r, c), small range (Sudoku board) | ``GridTokens``    | one per cell, row/col/box emb |
| image ``Box`` (c, h, w) (SB3 moves channels first)     | ``ImageTokens``   | one per patch, 2-D Fourier pos|
| ``node_features`` + ``adjacency`` (+ ``node_mask``)    | ``GraphTokens``   | one per node, neighbour mean  |
| ``Discrete`` / ``MultiDiscrete`` / ``MultiBinary``     | ``VectorTokens``  | one per one-hot entry group   |
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import torch
from einops import rearrange
from gymnasium import spaces
from stable_baselines3.common.preprocessing import get_flattened_obs_dim, is_image_space
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from torch import nn

DT_KEY = "dt"
MASK_KEY = "action_mask"
GRAPH_KEYS = ("node_features", "adjacency", "node_mask")


class TokenBatch(NamedTuple):
    """What the tokenizer hands to the core; every field is batch-first."""

    tokens: torch.Tensor
    """``(b, m, d)`` token vectors."""
    token_mask: torch.Tensor | None
    """``(b, m)`` bool, True for real tokens; ``None`` when all are real."""
    dt: torch.Tensor | None
    """``(b,)`` elapsed seconds of this step; ``None`` when the observation has no ``dt`` key."""
    action_mask: torch.Tensor | None
    """``(b, n_logits)`` bool, True for valid discrete actions; ``None`` without an ``action_mask`` key."""


class VectorTokens(nn.Module):
    """Flat vector ``(b, n)`` -> ``(b, g, d)``: groups of ``ceil(n / max_tokens)`` features, one token each.

    A token is a linear embedding of its group's values plus a learned index embedding.
    """

    def __init__(self, n: int, d: int, max_tokens: int) -> None:
        super().__init__()
        self.group = math.ceil(n / max_tokens)
        self.n_tokens = math.ceil(n / self.group)
        self.pad = self.n_tokens * self.group - n
        self.weight = nn.Parameter(torch.randn(self.n_tokens, self.group, d) / math.sqrt(self.group))
        self.index = nn.Parameter(torch.randn(self.n_tokens, d) * 0.02)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = nn.functional.pad(x.flatten(1), (0, self.pad))
        groups = rearrange(x, "b (g s) -> b g s", s=self.group)
        return torch.einsum("bgs,gsd->bgd", groups, self.weight) + self.index


class GridTokens(nn.Module):
    """Integer grid ``(b, r, c)`` with values in ``[0, n_values)`` -> ``(b, r*c, d)`` cell tokens.

    Each cell token is a value embedding plus row, column and (for square boxes, as in Sudoku) box
    embeddings.
    """

    def __init__(self, rows: int, cols: int, n_values: int, d: int) -> None:
        super().__init__()
        self.n_values = n_values
        self.value = nn.Embedding(n_values, d)
        box_r, box_c = math.isqrt(rows), math.isqrt(cols)
        has_boxes = box_r * box_r == rows and box_c * box_c == cols
        r, c = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")
        box = (r // box_r) * box_c + c // box_c if has_boxes else np.zeros_like(r)
        self.register_buffer("row_id", torch.as_tensor(r.reshape(-1)), persistent=False)
        self.register_buffer("col_id", torch.as_tensor(c.reshape(-1)), persistent=False)
        self.register_buffer("box_id", torch.as_tensor(box.reshape(-1)), persistent=False)
        self.row, self.col = nn.Embedding(rows, d), nn.Embedding(cols, d)
        self.box = nn.Embedding(int(box.max()) + 1, d)

    def forward(self, grid: torch.Tensor) -> torch.Tensor:
        values = grid.flatten(1).round().long().clamp(0, self.n_values - 1)  # (b, r, c) -> (b, r*c)
        return self.value(values) + self.row(self.row_id) + self.col(self.col_id) + self.box(self.box_id)


def fourier_positions(h: int, w: int, n_bands: int) -> torch.Tensor:
    """``(h*w, 2 + 4 n_bands)`` features of 2-D positions in [-1, 1]: raw plus sin/cos at octave bands."""
    ys, xs = torch.meshgrid(torch.linspace(-1, 1, h), torch.linspace(-1, 1, w), indexing="ij")
    pos = torch.stack([ys.reshape(-1), xs.reshape(-1)], dim=-1)  # (h*w, 2)
    freqs = 2.0 ** torch.arange(n_bands) * math.pi  # (n_bands,)
    angles = rearrange(pos, "p two -> p two 1") * freqs  # (h*w, 2, n_bands)
    return torch.cat([pos, rearrange(torch.cat([angles.sin(), angles.cos()], -1), "p two f -> p (two f)")], -1)


class ImageTokens(nn.Module):
    """Image ``(b, c, h, w)`` -> ``(b, n_patches, d)``: square patches plus 2-D Fourier positions."""

    def __init__(self, channels: int, height: int, width: int, d: int, patch: int, n_bands: int = 4) -> None:
        super().__init__()
        self.patch = min(patch, height, width)
        self.gh, self.gw = height // self.patch, width // self.patch
        self.embed = nn.Linear(channels * self.patch * self.patch, d)
        self.register_buffer("fourier", fourier_positions(self.gh, self.gw, n_bands), persistent=False)
        self.position = nn.Linear(self.fourier.shape[-1], d)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        image = image[:, :, : self.gh * self.patch, : self.gw * self.patch]  # crop to whole patches
        patches = rearrange(image, "b c (h p1) (w p2) -> b (h w) (c p1 p2)", p1=self.patch, p2=self.patch)
        return self.embed(patches) + self.position(self.fourier)


class GraphTokens(nn.Module):
    """Graph ``node_features (b, N, F)``, ``adjacency (b, N, N)`` -> node tokens ``(b, N, d)``.

    A token is the node's embedding plus an embedding of its neighbours' mean and of its degree (one
    round of message passing), so attention starts from adjacency-aware features.
    """

    def __init__(self, n_features: int, d: int) -> None:
        super().__init__()
        self.node = nn.Linear(n_features, d)
        self.neighbours = nn.Linear(d + 1, d)

    def forward(self, nodes: torch.Tensor, adjacency: torch.Tensor) -> torch.Tensor:
        x = self.node(nodes)
        degree = adjacency.sum(-1, keepdim=True)  # (b, N, 1)
        mean = torch.einsum("bij,bjd->bid", adjacency, x) / degree.clamp_min(1.0)
        return x + self.neighbours(torch.cat([mean, torch.log1p(degree)], dim=-1))


class ObservationTokenizer(BaseFeaturesExtractor):
    """SB3 features extractor that returns a ``TokenBatch`` (see the module docstring for the routing)."""

    def __init__(
        self,
        observation_space: spaces.Space,
        d_token: int = 32,
        max_vector_tokens: int = 64,
        image_patch: int = 8,
        n_action_logits: int | None = None,
    ) -> None:
        super().__init__(observation_space, features_dim=d_token)
        self.is_dict = isinstance(observation_space, spaces.Dict)
        parts = dict(observation_space.spaces) if self.is_dict else {"obs": observation_space}
        self.has_dt = DT_KEY in parts
        self.has_mask = MASK_KEY in parts
        self.is_graph = all(k in parts for k in GRAPH_KEYS[:2])
        self.has_node_mask = self.is_graph and "node_mask" in parts
        if self.has_mask:
            n_mask = get_flattened_obs_dim(parts[MASK_KEY])
            if n_action_logits is not None and n_mask != n_action_logits:
                raise ValueError(
                    f"observation key 'action_mask' has {n_mask} entries but the action space needs {n_action_logits}"
                )
        routed = {DT_KEY, MASK_KEY, *(GRAPH_KEYS if self.is_graph else ())}
        self.keys = [k for k in parts if k not in routed]
        self.tokenizers = nn.ModuleDict(
            {k: make_tokenizer(parts[k], d_token, max_vector_tokens, image_patch) for k in self.keys}
        )
        if self.is_graph:
            self.graph = GraphTokens(parts["node_features"].shape[-1], d_token)
            self.keys_with_graph = [*self.keys, "graph"]
        else:
            self.keys_with_graph = list(self.keys)
        if not self.keys_with_graph:
            raise ValueError("the observation has no key left to tokenize besides 'dt' and 'action_mask'")
        self.key_embedding = nn.Parameter(torch.randn(len(self.keys_with_graph), d_token) * 0.02)

    def forward(self, observations: torch.Tensor | dict[str, torch.Tensor]) -> TokenBatch:
        obs = observations if self.is_dict else {"obs": observations}
        tokens = [self.tokenizers[key](obs[key]) + self.key_embedding[i] for i, key in enumerate(self.keys)]
        masks = [torch.ones(t.shape[:2], dtype=torch.bool, device=t.device) for t in tokens]
        if self.is_graph:
            tokens.append(self.graph(obs["node_features"], obs["adjacency"]) + self.key_embedding[-1])
            masks.append(obs["node_mask"] > 0.5 if self.has_node_mask else None)
        return TokenBatch(
            tokens=torch.cat(tokens, dim=1),
            token_mask=torch.cat(masks, dim=1) if self.has_node_mask else None,  # (b, m) only where padded
            dt=obs[DT_KEY].reshape(-1) if self.has_dt else None,
            action_mask=obs[MASK_KEY].flatten(1) > 0.5 if self.has_mask else None,
        )


def make_tokenizer(space: spaces.Space, d: int, max_vector_tokens: int, image_patch: int) -> nn.Module:
    """The tokenizer for one (preprocessed) observation space; see the module docstring."""
    if isinstance(space, spaces.Box) and is_image_space(space, check_channels=False):
        c, h, w = space.shape if space.shape[0] in (1, 3, 4) else (space.shape[2], *space.shape[:2])
        return ImageTokens(c, h, w, d, image_patch)
    if _is_small_integer_grid(space):
        return GridTokens(space.shape[0], space.shape[1], int(np.max(space.high)) + 1, d)
    if isinstance(space, spaces.Box | spaces.Discrete | spaces.MultiDiscrete | spaces.MultiBinary):
        return VectorTokens(get_flattened_obs_dim(space), d, max_vector_tokens)
    raise ValueError(f"no tokenizer for observation space {space}; supported: Box, Discrete, MultiDiscrete, "
                     "MultiBinary and Dict of those")


def _is_small_integer_grid(space: spaces.Space) -> bool:
    return (
        isinstance(space, spaces.Box)
        and len(space.shape) == 2
        and np.issubdtype(space.dtype, np.integer)
        and bool(np.all(space.low >= 0))
        and bool(np.all(space.high <= 255))
    )
