"""``LatentFlowCore``: Perceiver IO encoder + high-level planner + continuous-time worker + decoder.

One env step of the core::

    L  = encoder(tokens)                      # (b, m, d_in) -> (b, n, d)
    z  = planner.update(L, z, h) if tick == 0 # every K-th step of an episode, M iterations
    P  = planner.plan_tokens(z)               # (b, k, d), fixed between planner ticks
    h  = worker(L, P, h, dt)                  # n_micro_steps of the cell over dt seconds
    L' = L + writeback(L, [P; h])             # optional
    features = [decoder(L', [P; h]), h]       # (b, features_dim)

In the sequence call the encoder and the decoder run batched over all ``t * b`` observations; only the
planner and the worker loop over time.
"""

from __future__ import annotations

import torch
from einops import rearrange
from torch import nn

from latentflow_core.attention import CrossAttention
from latentflow_core.config import CoreConfig
from latentflow_core.encoders import PerceiverDecoder, make_encoder
from latentflow_core.planner import HighLevelPlanner
from latentflow_core.state import CoreState
from latentflow_core.worker import LowLevelWorker


class LatentFlowCore(nn.Module):
    """The hybrid recurrent core; plain torch, no Gymnasium or SB3."""

    def __init__(self, cfg: CoreConfig) -> None:
        super().__init__()
        self.cfg = cfg
        d = cfg.d_latent
        self.encoder = make_encoder(cfg)
        self.planner = HighLevelPlanner(cfg) if cfg.has_planner else None
        self.worker = LowLevelWorker(cfg) if cfg.has_worker else None
        self.worker_token = nn.Linear(cfg.d_worker, d) if cfg.has_worker else None
        self.writeback = CrossAttention(d, d, cfg.heads) if cfg.writeback and self._has_context else None
        self.decoder = PerceiverDecoder(cfg)

    @property
    def _has_context(self) -> bool:
        return self.cfg.has_planner or self.cfg.has_worker

    @property
    def features_dim(self) -> int:
        """Width of the features the core emits per step."""
        return self.cfg.features_dim

    @property
    def state_size(self) -> int:
        """Length of the flat recurrent state (``CoreState.flatten``)."""
        return CoreState.size(self.cfg)

    def initial_state(self, batch_size: int, device: torch.device | str | None = None) -> CoreState:
        """The fresh-episode (all-zero) state."""
        return CoreState.zeros(self.cfg, batch_size, device)

    def step(
        self,
        tokens: torch.Tensor,
        dt: torch.Tensor | float | None = None,
        state: CoreState | None = None,
        episode_start: torch.Tensor | None = None,
        token_mask: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, CoreState]:
        """One env step: ``tokens (b, m, d_in)``, ``dt (b,)`` -> ``features (b, f)``, new state."""
        if tokens.dim() != 3:
            raise ValueError(f"step() takes tokens of shape (b, m, d_in), got {tuple(tokens.shape)}")

        def add_time(x: torch.Tensor | float | None) -> torch.Tensor | float | None:
            return rearrange(x, "b ... -> 1 b ...") if isinstance(x, torch.Tensor) else x

        features, state = self.forward_sequence(
            add_time(tokens), add_time(dt), state, add_time(episode_start), add_time(token_mask)
        )
        return features[0], state

    def forward_sequence(
        self,
        tokens: torch.Tensor,
        dt: torch.Tensor | float | None = None,
        state: CoreState | None = None,
        episode_start: torch.Tensor | None = None,
        token_mask: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, CoreState]:
        """``t`` env steps: ``tokens (t, b, m, d_in)``, ``dt (t, b)``, ``episode_start (t, b)``.

        Returns ``features (t, b, f)`` and the state after the last step. Equal to ``t`` calls of ``step``.
        ``dt`` defaults to ``cfg.default_dt``; ``episode_start`` to no resets; ``state`` to a fresh one.
        """
        t, b = self._check_tokens(tokens, token_mask)
        dt = self._check_dt(dt, t, b, tokens)
        episode_start = self._check_starts(episode_start, t, b, tokens.device)
        state = self.initial_state(b, tokens.device) if state is None else state
        if state.batch_size != b:
            raise ValueError(f"state holds {state.batch_size} episodes but tokens hold batch {b}")

        # (t, b, m, d_in) -> ((t b), m, d_in): every observation of the sequence in one encoder call
        flat_mask = None if token_mask is None else rearrange(token_mask.bool(), "t b m -> (t b) m")
        latents = self.encoder(rearrange(tokens, "t b m d -> (t b) m d"), flat_mask)
        # Only the transformer encoder keeps one latent per token, so only it carries the token mask on.
        latent_mask = flat_mask if self.cfg.encoder == "transformer" else None
        steps = self._prepare_steps(latents, latent_mask, t)

        plans, hiddens, plan_cache = [], [], None
        resets = episode_start.any(dim=1).tolist()  # one check for the sequence, not one per step
        for i in range(t):
            if resets[i]:
                state = state.reset(episode_start[i])
            plan_cache, state = self._recurrent_step({k: v[i] for k, v in steps.items()}, dt[i], state, plan_cache)
            plans.append(None if plan_cache is None else plan_cache[0])
            hiddens.append(state.worker)

        def stack(xs: list) -> torch.Tensor | None:
            # t tensors (b, ...) -> ((t b), ...)
            return None if xs[0] is None else rearrange(torch.stack(xs), "t b ... -> (t b) ...")

        features = self._decode(latents, stack(plans), stack(hiddens), latent_mask)
        return rearrange(features, "(t b) f -> t b f", t=t), state

    def _prepare_steps(
        self, latents: torch.Tensor, latent_mask: torch.Tensor | None, t: int
    ) -> dict[str, torch.Tensor]:
        """Everything the recurrent loop needs that does not depend on the state, batched over ``(t b)``.

        Returns time-major tensors: the planner's summary ``(t, b, k, d_p)``, the worker's keys and values
        of ``L`` ``(t, b, h, n, d)`` and the latent mask ``(t, b, n)``, each only where it applies.
        """
        steps: dict[str, torch.Tensor] = {}
        if self.planner is not None:
            steps["summary"] = self.planner.summarize(latents, latent_mask)
        if self.worker is not None:
            steps["keys"], steps["values"] = self.worker.prepare(latents)
            if latent_mask is not None:
                steps["mask"] = latent_mask
        return {k: rearrange(v, "(t b) ... -> t b ...", t=t) for k, v in steps.items()}

    def _recurrent_step(
        self,
        step: dict[str, torch.Tensor],
        dt: torch.Tensor,
        state: CoreState,
        plan_cache: tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]] | None = None,
    ) -> tuple[tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]] | None, CoreState]:
        """Planner tick and worker integration for one env step; ``step`` is one slice of ``_prepare_steps``.

        ``plan_cache`` holds the plan tokens ``(b, k, d)`` and the worker's keys/values of them from the
        previous step; they are recomputed only when the planner updates (``z`` changes only then, since a
        reset also makes the planner due). Returns the cache for the next step and the new state.
        """
        z, h = state.plan, state.worker
        if self.planner is not None:
            due = state.tick == 0  # (b,)
            any_due = bool(due.any())
            if plan_cache is None or any_due:
                if any_due:
                    z_new = self.planner.update(step["summary"], z, h)
                    z = torch.where(rearrange(due, "b -> b 1 1"), z_new, z.to(z_new.dtype))
                plan = self.planner.plan_tokens(z)
                plan_cache = (plan, None if self.worker is None else self.worker.plan_kv(plan))
        if self.worker is not None:
            plan_kv = None if plan_cache is None else plan_cache[1]
            h = self.worker((step["keys"], step["values"]), plan_kv, h, dt, step.get("mask"))
        tick = torch.remainder(state.tick + 1, self.cfg.plan_interval)
        return plan_cache, CoreState(plan=z, worker=h, tick=tick)

    def _decode(
        self,
        latents: torch.Tensor,
        plan: torch.Tensor | None,
        worker_h: torch.Tensor | None,
        latent_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``L (B, n, d), P (B, k, d) | None, h (B, d_w) | None -> features (B, f)``."""
        extra = []
        if plan is not None:
            extra.append(plan)
        if worker_h is not None:
            extra.append(rearrange(self.worker_token(worker_h), "b d -> b 1 d"))
        context = torch.cat(extra, dim=1) if extra else None  # (B, k + 1, d)
        if self.writeback is not None:
            latents = latents + self.writeback(latents, context)
        out = self.decoder(latents, context, latent_mask)
        return out if worker_h is None else torch.cat([out, worker_h.to(out.dtype)], dim=-1)

    # ---- input checks: a ValueError that names the setting -------------------------------------------
    def _check_tokens(self, tokens: torch.Tensor, token_mask: torch.Tensor | None) -> tuple[int, int]:
        if tokens.dim() != 4:
            raise ValueError(f"tokens must have shape (t, b, m, d_in), got {tuple(tokens.shape)}")
        if tokens.shape[-1] != self.cfg.d_in:
            raise ValueError(f"token width {tokens.shape[-1]} does not match CoreConfig.d_in={self.cfg.d_in}")
        if token_mask is not None and token_mask.shape != tokens.shape[:3]:
            raise ValueError(
                f"token_mask must have shape (t, b, m) = {tuple(tokens.shape[:3])}, got {tuple(token_mask.shape)}"
            )
        return tokens.shape[0], tokens.shape[1]

    def _check_dt(self, dt: torch.Tensor | float | None, t: int, b: int, like: torch.Tensor) -> torch.Tensor:
        if dt is None:
            dt = self.cfg.default_dt
        dt = torch.as_tensor(dt, dtype=torch.float32, device=like.device)
        if dt.dim() == 0:
            dt = dt.expand(t, b)
        if dt.shape != (t, b):
            raise ValueError(f"dt must be a scalar or have shape (t, b) = ({t}, {b}), got {tuple(dt.shape)}")
        if not bool(torch.isfinite(dt).all()) or bool((dt < 0).any()):
            raise ValueError("dt (elapsed seconds per step) must be finite and >= 0; got NaN, inf or negative")
        return dt

    @staticmethod
    def _check_starts(starts: torch.Tensor | None, t: int, b: int, device: torch.device) -> torch.Tensor:
        if starts is None:
            return torch.zeros(t, b, dtype=torch.bool, device=device)
        if starts.shape != (t, b):
            raise ValueError(f"episode_start must have shape (t, b) = ({t}, {b}), got {tuple(starts.shape)}")
        return starts.bool()
