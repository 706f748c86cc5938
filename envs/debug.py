"""``CueMemoryEnv``: a tiny debug env that needs memory, in every observation and action layout we support.

Description:
    At the first step the observation shows a cue (one of ``n_cues``); later observations hide it. On the
    last step the agent is rewarded for naming the cue. Tests use it to drive the policy through each
    observation/action combination cheaply; it is not registered.

Action Space:
    ``action_kind="discrete"``: ``Discrete(n_cues)``; ``"multidiscrete"``: ``MultiDiscrete([n_cues, 2])``
    (the second part is ignored); ``"box"``: ``Box(-1, 1, (2,))``, scored by the nearest cue angle.

Observation Space:
    ``obs_kind="box"``: ``Box(-1, 1, (n_cues + 1,))`` (one-hot cue, then a step phase);
    ``"dict_mask"``: ``{"obs": that Box, "action_mask": (n_logits,)}`` with one action always masked;
    ``"dict_dt"``: ``{"obs": that Box, "dt": Box(0, inf, (1,))}`` with a random elapsed time;
    ``"image"``: ``Box(0, 255, (16, 16, 3), uint8)`` with the cue as a bright quadrant;
    ``"grid"``: ``Box(0, 9, (9, 9), int8)`` with the cue written into a cell;
    ``"graph"``: ``{"node_features", "adjacency", "node_mask"}`` of a 6-node ring, cue on a node feature.

Rewards:
    1 on the last step if the cue is named, else 0.

Episode End:
    Truncated after ``length`` steps.

Arguments:
    ``obs_kind``, ``action_kind``, ``n_cues`` (2..8), ``length`` (>= 2).

Version History:
    v0: first version.
"""

from __future__ import annotations

import numpy as np
from gymnasium import Env, spaces

OBS_KINDS = ("box", "dict_mask", "dict_dt", "image", "grid", "graph")
ACTION_KINDS = ("discrete", "multidiscrete", "box")


class CueMemoryEnv(Env):
    """Remember the first observation's cue until the last step (see the module docstring)."""

    metadata = {"render_modes": []}  # noqa: RUF012 - gymnasium's convention

    def __init__(self, obs_kind: str = "box", action_kind: str = "discrete", n_cues: int = 2, length: int = 5):
        if obs_kind not in OBS_KINDS or action_kind not in ACTION_KINDS:
            raise ValueError(f"obs_kind must be one of {OBS_KINDS} and action_kind one of {ACTION_KINDS}")
        if not 2 <= n_cues <= 8 or length < 2:
            raise ValueError(f"n_cues must be in 2..8 and length >= 2, got {n_cues}, {length}")
        self.obs_kind, self.action_kind, self.n_cues, self.length = obs_kind, action_kind, n_cues, length
        self.action_space = {
            "discrete": spaces.Discrete(n_cues),
            "multidiscrete": spaces.MultiDiscrete([n_cues, 2]),
            "box": spaces.Box(-1.0, 1.0, (2,), np.float32),
        }[action_kind]
        self.observation_space = self._make_obs_space()
        self._cue, self._t = 0, 0

    def _make_obs_space(self) -> spaces.Space:
        vector = spaces.Box(-1.0, 1.0, (self.n_cues + 1,), np.float32)
        if self.obs_kind == "box":
            return vector
        if self.obs_kind == "dict_mask":
            n_logits = self.n_cues if self.action_kind == "discrete" else self.n_cues + 2
            return spaces.Dict({"obs": vector, "action_mask": spaces.Box(0, 1, (n_logits,), np.int8)})
        if self.obs_kind == "dict_dt":
            return spaces.Dict({"obs": vector, "dt": spaces.Box(0.0, np.inf, (1,), np.float32)})
        if self.obs_kind == "image":
            return spaces.Box(0, 255, (16, 16, 3), np.uint8)
        if self.obs_kind == "grid":
            return spaces.Box(0, 9, (9, 9), np.int8)
        return spaces.Dict({
            "node_features": spaces.Box(-1.0, 1.0, (6, 3), np.float32),
            "adjacency": spaces.Box(0, 1, (6, 6), np.int8),
            "node_mask": spaces.Box(0, 1, (6,), np.int8),
        })

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self._cue, self._t = int(self.np_random.integers(self.n_cues)), 0
        return self._get_obs(), {}

    def step(self, action):
        self._t += 1
        last = self._t >= self.length
        reward = float(last and self._named(action) == self._cue)
        return self._get_obs(), reward, False, last, {"is_success": reward > 0}

    def _named(self, action) -> int:
        if self.action_kind == "box":
            angle = np.arctan2(action[1], action[0]) % (2 * np.pi)
            return int(np.rint(angle / (2 * np.pi) * self.n_cues)) % self.n_cues
        return int(np.asarray(action).reshape(-1)[0])

    def _get_obs(self):
        show = self._t == 0
        vector = np.zeros(self.n_cues + 1, np.float32)
        vector[self._cue] = float(show)
        vector[-1] = self._t / self.length
        if self.obs_kind == "box":
            return vector
        if self.obs_kind == "dict_mask":
            mask = np.ones(self.observation_space["action_mask"].shape, np.int8)
            mask[-1] = 0 if self.action_kind == "discrete" and self.n_cues > 2 else mask[-1]
            return {"obs": vector, "action_mask": mask}
        if self.obs_kind == "dict_dt":
            return {"obs": vector, "dt": self.np_random.uniform(0.01, 0.1, (1,)).astype(np.float32)}
        if self.obs_kind == "image":
            image = np.zeros((16, 16, 3), np.uint8)
            if show:
                image[: 8 * (self._cue % 2 + 1), :8] = 255
            return image
        if self.obs_kind == "grid":
            grid = np.zeros((9, 9), np.int8)
            grid[0, 0] = self._cue + 1 if show else 0
            grid[8, 8] = self._t % 10
            return grid
        features = np.zeros((6, 3), np.float32)
        features[self._cue % 6, 0] = float(show)
        features[:, 1] = self._t / self.length
        ring = np.roll(np.eye(6, dtype=np.int8), 1, axis=1)
        return {"node_features": features, "adjacency": ring | ring.T, "node_mask": np.ones(6, np.int8)}
