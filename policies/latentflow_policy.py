"""``LatentFlowPolicy``: the hybrid core as a recurrent policy for stock sb3-contrib ``RecurrentPPO``.

How it fits ``RecurrentPPO`` without changing it:

- ``RecurrentPPO`` sizes its state buffers from ``policy.lstm_actor.num_layers`` and ``.hidden_size`` and
  stores two tensors ``(layers, envs, hidden)`` per actor and critic. ``lstm_actor`` here is a
  ``CoreAdapter`` that holds the core and reports ``num_layers = 1`` and ``hidden_size = ceil(S / 2)``: the
  flat core state of length ``S`` is split over the two tensors (zero padded). All zeros is a fresh
  episode, as ``RecurrentPPO`` assumes.
- Actor and critic share the core (one pass per batch); the critic's state slot carries a copy of the
  actor's. The planner is deterministic, so PPO's log-probability covers every sampled choice.
- Training batches arrive as padded sequences laid out ``(n_seq * t)``; the tokenizer runs on all of them
  at once, then ``LatentFlowCore.forward_sequence`` loops only planner and worker over ``t``.
- An ``action_mask`` key in a Dict observation masks invalid discrete actions (logits to a large negative)
  in rollouts and in training alike; a ``dt`` key is the worker's elapsed time, else ``default_dt``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from einops import rearrange
from gymnasium import spaces
from sb3_contrib.common.recurrent.policies import RecurrentActorCriticPolicy
from sb3_contrib.common.recurrent.type_aliases import RNNStates
from stable_baselines3.common.distributions import Distribution
from stable_baselines3.common.torch_layers import MlpExtractor
from stable_baselines3.common.type_aliases import Schedule
from torch import nn

from latentflow_core import CoreConfig, CoreState, LatentFlowCore
from policies.tokenizers import ObservationTokenizer, TokenBatch

MASKED_LOGIT = -1e8
"""Logit given to invalid actions: exp() underflows to 0 without the NaNs that -inf brings to entropy."""


class CoreAdapter(nn.Module):
    """Holds ``LatentFlowCore`` where ``RecurrentPPO`` expects an ``nn.LSTM`` (it reads only the sizes)."""

    num_layers = 1

    def __init__(self, cfg: CoreConfig) -> None:
        super().__init__()
        self.core = LatentFlowCore(cfg)
        self.hidden_size = math.ceil(self.core.state_size / 2)

    def forward(
        self, batch: TokenBatch, states: tuple[torch.Tensor, torch.Tensor], episode_starts: torch.Tensor, dt: float
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """Run ``n_seq`` sequences laid out ``(n_seq * t)``: returns features ``(n_seq * t, f)`` and states."""
        n_seq = states[0].shape[1]

        def to_time_major(x: torch.Tensor) -> torch.Tensor:
            # (n_seq * t, ...) -> (t, n_seq, ...): the buffer stores each sequence contiguously
            return rearrange(x, "(s t) ... -> t s ...", s=n_seq)

        # (1, n_seq, H) twice -> (n_seq, 2H) -> (n_seq, S): the flat core state
        flat = torch.cat([states[0][0], states[1][0]], dim=-1)[:, : self.core.state_size]
        features, state = self.core.forward_sequence(
            to_time_major(batch.tokens),
            dt if batch.dt is None else to_time_major(batch.dt),
            CoreState.unflatten(flat, self.core.cfg),
            to_time_major(episode_starts),
            None if batch.token_mask is None else to_time_major(batch.token_mask),
        )
        flat = nn.functional.pad(state.flatten(), (0, 2 * self.hidden_size - self.core.state_size))
        h, c = rearrange(flat, "s (two hid) -> two 1 s hid", two=2)  # (n_seq, 2H) -> 2 x (1, n_seq, H)
        return rearrange(features, "t s f -> (s t) f"), (h.contiguous(), c.contiguous())


class LatentFlowPolicy(RecurrentActorCriticPolicy):
    """Recurrent actor-critic whose memory is ``LatentFlowCore``.

    :param preset: ``cpu`` or ``paper`` (``CoreConfig.from_preset``).
    :param core_kwargs: ``CoreConfig`` overrides, e.g. the ablation switches ``encoder``, ``planner``,
        ``worker``.
    :param tokenizer_kwargs: ``ObservationTokenizer`` settings (``d_token``, ``max_vector_tokens``,
        ``image_patch``); ``d_token`` is also the core's ``d_in``.
    :param default_dt: elapsed seconds per step when observations carry no ``dt`` key (the env's control
        period); ``None`` uses the preset's ``default_dt``.
    :param critic_grad: let the value loss train the shared core (``True``); ``False`` detaches the
        critic's input, so the core learns from the policy loss only and the critic trains its own MLP
        head, as sb3-contrib's ``shared_lstm=True`` does.
    The remaining arguments are ``ActorCriticPolicy``'s.
    """

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        lr_schedule: Schedule,
        preset: str = "cpu",
        core_kwargs: dict[str, Any] | None = None,
        tokenizer_kwargs: dict[str, Any] | None = None,
        default_dt: float | None = None,
        critic_grad: bool = True,
        net_arch: list[int] | dict[str, list[int]] | None = None,
        activation_fn: type[nn.Module] = nn.Tanh,
        ortho_init: bool = True,
        use_sde: bool = False,
        log_std_init: float = 0.0,
        optimizer_class: type[torch.optim.Optimizer] = torch.optim.Adam,
        optimizer_kwargs: dict[str, Any] | None = None,
    ) -> None:
        tokenizer_kwargs = dict(tokenizer_kwargs or {})
        tokenizer_kwargs.setdefault("d_token", 32)
        tokenizer_kwargs["n_action_logits"] = _n_action_logits(action_space)
        self.core_config = CoreConfig.from_preset(preset, d_in=tokenizer_kwargs["d_token"], **(core_kwargs or {}))
        if default_dt is not None and not default_dt > 0:
            raise ValueError(f"default_dt must be > 0 seconds, got {default_dt!r}")
        self.default_dt = float(default_dt if default_dt is not None else self.core_config.default_dt)
        self.critic_grad = bool(critic_grad)
        super().__init__(
            observation_space,
            action_space,
            lr_schedule,
            net_arch=net_arch,
            activation_fn=activation_fn,
            ortho_init=ortho_init,
            use_sde=use_sde,
            log_std_init=log_std_init,
            features_extractor_class=ObservationTokenizer,
            features_extractor_kwargs=tokenizer_kwargs,
            optimizer_class=optimizer_class,
            optimizer_kwargs=optimizer_kwargs,
            lstm_hidden_size=1,  # replaced below once the core's state size is known
            shared_lstm=True,
            enable_critic_lstm=False,
        )
        self.lstm_actor = CoreAdapter(self.core_config)
        self.lstm_hidden_state_shape = (1, 1, self.lstm_actor.hidden_size)  # read by predict()
        # The parent built its optimizer over the placeholder LSTM: rebuild it over the real modules.
        self.optimizer = self.optimizer_class(self.parameters(), lr=lr_schedule(1), **self.optimizer_kwargs)

    def _build_mlp_extractor(self) -> None:
        self.mlp_extractor = MlpExtractor(self.core_config.features_dim, self.net_arch, self.activation_fn, self.device)

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()
        for key in ("lstm_hidden_size", "n_lstm_layers", "shared_lstm", "enable_critic_lstm", "lstm_kwargs",
                    "features_extractor_class", "features_extractor_kwargs", "full_std", "use_expln",
                    "squash_output", "share_features_extractor", "normalize_images"):
            data.pop(key, None)
        tokenizer_kwargs = dict(self.features_extractor_kwargs)
        tokenizer_kwargs.pop("n_action_logits", None)
        data.update(
            core_kwargs=self.core_config_overrides(),
            tokenizer_kwargs=tokenizer_kwargs,
            default_dt=self.default_dt,
            critic_grad=self.critic_grad,
            preset="cpu",
        )
        return data

    def core_config_overrides(self) -> dict[str, Any]:
        """Every ``CoreConfig`` field except ``d_in``: with ``preset='cpu'`` they rebuild the same core."""
        fields = self.core_config.__dataclass_fields__
        return {k: getattr(self.core_config, k) for k in fields if k != "d_in"}

    # ---- the four entry points RecurrentPPO calls --------------------------------------------------------
    def forward(
        self, obs: torch.Tensor, lstm_states: RNNStates, episode_starts: torch.Tensor, deterministic: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, RNNStates]:
        batch, latent, states = self._run(obs, lstm_states.pi, episode_starts)
        latent_pi, latent_vf = self._heads(latent)
        distribution = self._distribution(latent_pi, batch.action_mask)
        actions = distribution.get_actions(deterministic=deterministic)
        log_prob = distribution.log_prob(actions)
        actions = actions.reshape((-1, *self.action_space.shape))
        return actions, self.value_net(latent_vf), log_prob, RNNStates(states, states)

    def get_distribution(
        self, obs: torch.Tensor, lstm_states: tuple[torch.Tensor, torch.Tensor], episode_starts: torch.Tensor
    ) -> tuple[Distribution, tuple[torch.Tensor, torch.Tensor]]:
        batch, latent, states = self._run(obs, lstm_states, episode_starts)
        return self._distribution(self.mlp_extractor.forward_actor(latent), batch.action_mask), states

    def predict_values(
        self, obs: torch.Tensor, lstm_states: tuple[torch.Tensor, torch.Tensor], episode_starts: torch.Tensor
    ) -> torch.Tensor:
        _, latent, _ = self._run(obs, lstm_states, episode_starts)
        return self.value_net(self.mlp_extractor.forward_critic(latent))

    def evaluate_actions(
        self, obs: torch.Tensor, actions: torch.Tensor, lstm_states: RNNStates, episode_starts: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        batch, latent, _ = self._run(obs, lstm_states.pi, episode_starts)
        latent_pi, latent_vf = self._heads(latent)
        distribution = self._distribution(latent_pi, batch.action_mask)
        return self.value_net(latent_vf), distribution.log_prob(actions), distribution.entropy()

    # ---- helpers -------------------------------------------------------------------------------------
    def _run(
        self, obs: torch.Tensor, states: tuple[torch.Tensor, torch.Tensor], episode_starts: torch.Tensor
    ) -> tuple[TokenBatch, torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        batch = self.extract_features(obs)
        latent, states = self.lstm_actor(batch, states, episode_starts, self.default_dt)
        return batch, latent, states

    def _heads(self, latent: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Actor and critic latents of the core's features (the critic's detached unless ``critic_grad``)."""
        critic_in = latent if self.critic_grad else latent.detach()
        return self.mlp_extractor.forward_actor(latent), self.mlp_extractor.forward_critic(critic_in)

    def _distribution(self, latent_pi: torch.Tensor, action_mask: torch.Tensor | None) -> Distribution:
        if action_mask is None:
            return self._get_action_dist_from_latent(latent_pi)
        logits = self.action_net(latent_pi).masked_fill(~action_mask, MASKED_LOGIT)
        return self.action_dist.proba_distribution(action_logits=logits)

    def planner_info(self, state: tuple[np.ndarray, np.ndarray], env: int = 0) -> dict | None:
        """Planner state of env ``env`` in a state returned by ``predict``: ``{"tick", "plan" (k, d_p)}``."""
        if not self.core_config.has_planner:
            return None
        flat = np.concatenate([state[0][0, env], state[1][0, env]])[None, : self.lstm_actor.core.state_size]
        core_state = CoreState.unflatten(torch.as_tensor(flat, dtype=torch.float32), self.core_config)
        return {"tick": int(core_state.tick[0]), "plan": core_state.plan[0].numpy()}


def _n_action_logits(action_space: spaces.Space) -> int | None:
    if isinstance(action_space, spaces.Discrete):
        return int(action_space.n)
    if isinstance(action_space, spaces.MultiDiscrete):
        return int(np.sum(action_space.nvec))
    return None
