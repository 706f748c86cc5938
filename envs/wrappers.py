"""Wrappers shared by LatentFlow's envs.

``IrregularTimestep`` turns a fixed-rate env into an irregularly sampled one and tells the agent how
much time passed, the setting continuous-time recurrent cells (LTC, CfC, ODE-RNN) are built for.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

MODES = ("substeps", "event", "fixed")
DISTRIBUTIONS = ("uniform", "poisson", "choice")


@dataclass(frozen=True)
class TickDistribution:
    """Distribution of the whole number of ticks (physics substeps, or event ticks) in one env step.

    ``"uniform"``: integers in ``[low, high]``; ``"poisson"``: ``1 + Poisson(mean - 1)``, so every draw is
    at least 1 and the mean is ``mean``; ``"choice"``: one of ``values`` with probabilities ``probs``
    (uniform when ``probs`` is None).
    """

    kind: str
    low: int = 1
    high: int = 1
    mean: float = 1.0
    values: tuple[int, ...] = ()
    probs: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        if self.kind not in DISTRIBUTIONS:
            raise ValueError(f"distribution={self.kind!r}; use one of {DISTRIBUTIONS}.")
        if self.kind == "uniform" and not 1 <= self.low <= self.high:
            raise ValueError(f"uniform ticks need 1 <= low <= high, got low={self.low}, high={self.high}.")
        if self.kind == "poisson" and not self.mean >= 1:
            raise ValueError(f"poisson ticks need mean >= 1 (every step lasts at least one tick), got {self.mean}.")
        if self.kind == "choice":
            self._check_choice()

    def _check_choice(self) -> None:
        if not self.values or any(int(v) != v or v < 1 for v in self.values):
            raise ValueError(f"values={self.values}; 'choice' needs a non-empty list of positive integers.")
        if self.probs is not None:
            probs = np.asarray(self.probs, dtype=float)
            if probs.shape != (len(self.values),) or np.any(probs < 0) or not np.isclose(probs.sum(), 1.0):
                raise ValueError(
                    f"probs={self.probs}; give one non-negative probability per value, summing to 1."
                )

    @property
    def mean_ticks(self) -> float:
        """Expected number of ticks per step."""
        if self.kind == "uniform":
            return (self.low + self.high) / 2
        if self.kind == "poisson":
            return self.mean
        probs = self.probs if self.probs is not None else [1 / len(self.values)] * len(self.values)
        return float(np.dot(self.values, probs))

    def sample(self, rng: np.random.Generator) -> int:
        """Draw one tick count (at least 1)."""
        if self.kind == "uniform":
            return int(rng.integers(self.low, self.high + 1))
        if self.kind == "poisson":
            return 1 + int(rng.poisson(self.mean - 1))
        return int(rng.choice(self.values, p=self.probs))


class IrregularTimestep(gym.Wrapper):
    """Vary the control interval per step and add the elapsed time ``"dt"`` to the observation.

    ## Modes
    - ``"substeps"`` (default): before each step the wrapper draws ``k`` ticks and sets
      ``env.unwrapped.frame_skip = k`` for that step (restored afterwards), so the physics really advances
      ``k * timestep`` seconds, where ``timestep = env.unwrapped.dt / env.unwrapped.frame_skip`` is read
      once at construction. Needs a MuJoCo-style env with ``frame_skip`` and ``dt`` (Gymnasium's
      ``*-v5`` MuJoCo envs, ``PickPlace-v0``, ``Stack-v0``); others raise ValueError.
    - ``"event"``: any env, stepped once per step; ``k`` is drawn the same way and only reported, as the
      event time ``k * tick`` seconds (irregularly timed events for envs without physical time, e.g. Sudoku).
    - ``"fixed"``: any env, stepped once; every step lasts ``fixed_dt`` seconds (default: the env's ``dt``).
      Lets a policy that expects a ``"dt"`` key run on a regular env.

    ## Observation
    A Box (or any non-Dict) observation becomes ``{"obs": obs, "dt": dt}``; a Dict observation gets the
    extra key ``"dt"``. ``dt`` is ``Box(0, inf, (1,), float32)``, in seconds.

    ## Dropped observations and the meaning of ``dt``
    With probability ``drop_prob`` a step's new observation is dropped and the agent gets the one it
    already holds again (a copy), as in the irregularly sampled Walker2d protocol of the ODE-LSTM/CfC
    papers. The observation at reset is never dropped. Writing ``t`` for the simulated time at the end of
    the step and ``t_held`` for the time at which the observation the agent held *before* the step was
    taken::

        dt = t - t_held

    So without drops ``dt`` is the step's duration (``k * timestep``). On a dropped step it is the age of
    the stale observation the agent still holds; on the next delivered step it is the gap between the
    two delivered observations, i.e. the time an ODE-based cell should integrate over. ``dt = 0`` at reset.

    ## Info
    ``ticks`` (the draw ``k``; ``frame_skip`` in ``"substeps"`` mode, 1 in ``"fixed"`` mode), ``step_dt``
    (seconds this step lasted), ``obs_dropped`` and ``obs_age`` (age of the observation returned).

    ## Randomness
    The wrapper has its own generator, seeded from ``reset(seed=...)`` through a child
    ``SeedSequence`` (so it is independent of the env's own generator): the same seed gives the same
    ``k`` and drop sequences.

    ## Arguments
    - ``distribution``: ``"uniform"`` (``low``, ``high``), ``"poisson"`` (``mean``) or ``"choice"``
      (``values``, ``probs``). Defaults: ``high = 2 * frame_skip - 1`` and ``mean = frame_skip`` in
      ``"substeps"`` mode (mean interval = the env's nominal one), ``high = 3`` and ``mean = 2`` in ``"event"``.
    - ``drop_prob``: probability in ``[0, 1]`` of withholding a step's new observation.
    - ``mode``: one of ``MODES``; default ``"fixed"`` when ``fixed_dt`` is given, else ``"substeps"``.
    - ``fixed_dt``: seconds per step in ``"fixed"`` mode. ``tick``: seconds per tick in ``"event"`` mode.
    """

    def __init__(
        self,
        env: gym.Env,
        distribution: str = "uniform",
        low: int = 1,
        high: int | None = None,
        mean: float | None = None,
        values: Sequence[int] = (),
        probs: Sequence[float] | None = None,
        drop_prob: float = 0.0,
        mode: str | None = None,
        fixed_dt: float | None = None,
        tick: float = 1.0,
    ):
        super().__init__(env)
        self.mode = _resolve_mode(mode, fixed_dt)
        if not 0.0 <= drop_prob <= 1.0:
            raise ValueError(f"drop_prob={drop_prob}; use a probability in [0, 1].")
        if tick <= 0:
            raise ValueError(f"tick={tick}; use a positive number of seconds per event tick.")
        self.drop_prob = float(drop_prob)
        self.nominal_frame_skip, self.tick = _time_base(env, self.mode, tick)
        self.fixed_dt = _fixed_dt(env, fixed_dt) if self.mode == "fixed" else None
        self.seconds_per_tick = self.fixed_dt if self.mode == "fixed" else self.tick
        nominal = self.nominal_frame_skip if self.mode == "substeps" else 2
        self.ticks = TickDistribution(
            kind=distribution,
            low=int(low),
            high=int(2 * nominal - 1 if high is None else high),
            mean=float(nominal if mean is None else mean),
            values=tuple(values),
            probs=None if probs is None else tuple(probs),
        )
        self.observation_space = _with_dt(env.observation_space)
        self._rng = np.random.default_rng()
        self._clock = self._held_clock = 0  # simulated time in ticks, exact
        self._held_obs: Any = None

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """Reset the env (and, given a seed, the wrapper's generator); ``dt`` is 0."""
        if seed is not None:
            self._rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0])
        obs, info = self.env.reset(seed=seed, options=options)
        self._clock = self._held_clock = 0
        self._held_obs = copy.deepcopy(obs)
        return self._observation(obs, 0.0), info

    def step(self, action: Any):
        """Step for a randomly drawn duration; maybe withhold the new observation (see class docstring)."""
        ticks = 1 if self.mode == "fixed" else self.ticks.sample(self._rng)
        obs, reward, terminated, truncated, info = self._step_env(action, ticks)
        self._clock += ticks
        dt = (self._clock - self._held_clock) * self.seconds_per_tick
        dropped = self.drop_prob > 0 and bool(self._rng.random() < self.drop_prob)
        if dropped:
            obs = copy.deepcopy(self._held_obs)
        else:
            self._held_obs, self._held_clock = copy.deepcopy(obs), self._clock
        info = {
            **info,
            "ticks": ticks,
            "step_dt": ticks * self.seconds_per_tick,
            "obs_dropped": dropped,
            "obs_age": (self._clock - self._held_clock) * self.seconds_per_tick,
        }
        return self._observation(obs, dt), reward, terminated, truncated, info

    def _step_env(self, action: Any, ticks: int):
        if self.mode != "substeps":
            return self.env.step(action)
        base = self.env.unwrapped
        base.frame_skip = ticks
        try:
            return self.env.step(action)
        finally:
            base.frame_skip = self.nominal_frame_skip

    def _observation(self, obs: Any, dt: float) -> dict[str, Any]:
        dt_array = np.array([dt], dtype=np.float32)
        if isinstance(self.env.observation_space, spaces.Dict):
            return {**obs, "dt": dt_array}
        return {"obs": obs, "dt": dt_array}


def _resolve_mode(mode: str | None, fixed_dt: float | None) -> str:
    """The mode to use; ValueError for unknown modes and for ``fixed_dt`` outside ``"fixed"`` mode."""
    if mode is None:
        return "fixed" if fixed_dt is not None else "substeps"
    if mode not in MODES:
        raise ValueError(f"mode={mode!r}; use one of {MODES}.")
    if fixed_dt is not None and mode != "fixed":
        raise ValueError(f"fixed_dt is only used with mode='fixed' (got mode={mode!r}); drop one of them.")
    return mode


def _time_base(env: gym.Env, mode: str, tick: float) -> tuple[int, float]:
    """``(nominal frame_skip, seconds per tick)``: the physics timestep in ``"substeps"`` mode, else ``tick``."""
    base = env.unwrapped
    if mode != "substeps":
        return int(getattr(base, "frame_skip", 1)), float(tick)
    frame_skip = getattr(base, "frame_skip", None)
    if not isinstance(frame_skip, (int, np.integer)) or frame_skip < 1 or not hasattr(base, "dt"):
        raise ValueError(
            f"{type(base).__name__} has no integer `frame_skip` and `dt`, so IrregularTimestep cannot vary its "
            "physics substeps. Use mode='event' to report irregular event times while stepping the env "
            "once, or mode='fixed' (fixed_dt=...) for a constant 'dt' key."
        )
    return int(frame_skip), float(base.dt) / int(frame_skip)


def _fixed_dt(env: gym.Env, fixed_dt: float | None) -> float:
    """Seconds per step in ``"fixed"`` mode: ``fixed_dt``, else the env's own ``dt``."""
    if fixed_dt is None:
        fixed_dt = getattr(env.unwrapped, "dt", None)
        if fixed_dt is None:
            raise ValueError(f"{type(env.unwrapped).__name__} has no `dt`; pass fixed_dt=<seconds per step>.")
    if not fixed_dt > 0:
        raise ValueError(f"fixed_dt={fixed_dt}; use a positive number of seconds.")
    return float(fixed_dt)


def _with_dt(space: spaces.Space) -> spaces.Dict:
    """``space`` as a Dict with the extra ``"dt"`` entry (non-Dict spaces go under ``"obs"``)."""
    dt_space = spaces.Box(0.0, np.inf, shape=(1,), dtype=np.float32)
    if isinstance(space, spaces.Dict):
        if "dt" in space.spaces:
            raise ValueError("The observation already has a 'dt' key; IrregularTimestep would overwrite it.")
        return spaces.Dict({**space.spaces, "dt": dt_space})
    return spaces.Dict({"obs": space, "dt": dt_space})
