"""The stock recurrent baseline that LatentFlow is compared with."""

from __future__ import annotations

from typing import Any

from gymnasium import spaces


def baseline_policy(observation_space: spaces.Space, lstm_hidden_size: int = 64) -> tuple[str, dict[str, Any]]:
    """``(policy name, policy_kwargs)`` of sb3-contrib's LSTM policy for this observation space.

    ``MlpLstmPolicy`` for array observations, ``MultiInputLstmPolicy`` for Dict ones; one LSTM layer of
    ``lstm_hidden_size`` units for actor and critic each (sb3-contrib's default layout).
    """
    name = "MultiInputLstmPolicy" if isinstance(observation_space, spaces.Dict) else "MlpLstmPolicy"
    return name, {"lstm_hidden_size": lstm_hidden_size}
