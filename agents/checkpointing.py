"""Training checkpoints in a run dir: atomic writes, retention, lookup and resume.

Layout of one checkpoint (``<run>/checkpoints/step_0000051200`` or ``<run>/checkpoints/final``)::

    model.zip            SB3's archive (RecurrentPPO.load); unpickles on load, so only open your own
    safe/                weights-only format (agents.checkpoint.save_safe): policy.json + weights.safetensors
    optimizer.pt         the optimizer's state dict (read back with torch.load(weights_only=True))
    trainer_state.json   timestep counter, update counter, RNG states, VecNormalize statistics, spaces, config

Every checkpoint is written into a hidden temporary sibling and renamed into place when complete, and
``checkpoints/latest.json`` is replaced atomically afterwards: a run killed mid-write (or a full disk)
leaves the previous checkpoint and pointer untouched. Resuming never unpickles anything.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_model

from agents.checkpoint import CheckpointError, obs_rms_from_vecnormalize, save_safe, space_to_json

STATE_FILE = "trainer_state.json"
OPTIMIZER_FILE = "optimizer.pt"
MODEL_ZIP = "model.zip"
SAFE_DIR = "safe"
LATEST = "latest.json"
FINAL = "final"


class CheckpointWriteError(RuntimeError):
    """Writing a checkpoint failed (e.g. disk full); the previous checkpoint is intact."""


class CheckpointManager:
    """Writes the checkpoints of one run into ``<run_dir>/checkpoints`` and keeps the newest ``keep``."""

    def __init__(self, run_dir: str | os.PathLike, keep: int = 3) -> None:
        self.root = Path(run_dir) / "checkpoints"
        self.keep = keep

    def save(self, model: Any, vec_env: Any, state_extra: dict[str, Any], final: bool = False) -> Path:
        """Write a checkpoint of ``model`` (and ``vec_env``'s normalization) atomically; returns its dir."""
        name = FINAL if final else f"step_{model.num_timesteps:010d}"
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{name}-", dir=self.root))
        try:
            write_checkpoint(tmp, model, vec_env, state_extra)
            target = self.root / name
            if target.exists():
                shutil.rmtree(target)
            os.replace(tmp, target)
            _write_json_atomic(self.root / LATEST, {"name": name, "num_timesteps": int(model.num_timesteps)})
        except OSError as err:
            shutil.rmtree(tmp, ignore_errors=True)
            previous = self.latest()
            raise CheckpointWriteError(
                f"could not write the checkpoint at step {model.num_timesteps} into {self.root} "
                f"({err.strerror or err}); "
                f"the previous checkpoint {previous or '(none)'} is intact"
            ) from err
        self._prune()
        return target

    def latest(self) -> Path | None:
        """The newest complete checkpoint of this run, or ``None``."""
        return latest_checkpoint(self.root) if self.root.is_dir() else None

    def _prune(self) -> None:
        """Delete periodic checkpoints beyond the newest ``keep`` and stale temporary dirs."""
        steps = sorted(p for p in self.root.glob("step_*") if p.is_dir())
        for old in steps[: max(0, len(steps) - self.keep)]:
            shutil.rmtree(old, ignore_errors=True)
        for tmp in self.root.glob(".tmp-*"):
            shutil.rmtree(tmp, ignore_errors=True)


def write_checkpoint(directory: Path, model: Any, vec_env: Any, state_extra: dict[str, Any]) -> None:
    """Write every file of one checkpoint into the existing ``directory``."""
    obs_rms = obs_rms_from_vecnormalize(vec_env)
    model.save(directory / MODEL_ZIP)
    save_safe(model, directory / SAFE_DIR, obs_rms=obs_rms, metadata=state_extra.get("metadata", {}))
    _save_optimizer(model.policy.optimizer, directory / OPTIMIZER_FILE)
    state = {
        **state_extra,
        "num_timesteps": int(model.num_timesteps),
        "n_updates": int(getattr(model, "_n_updates", 0)),
        "observation_space": space_to_json(model.observation_space),
        "action_space": space_to_json(model.action_space),
        "vec_normalize": vecnormalize_state(vec_env),
        "rng": rng_state(),
    }
    _write_json_atomic(directory / STATE_FILE, state)


def _save_optimizer(optimizer: torch.optim.Optimizer, path: Path) -> None:
    """``torch.save`` of the optimizer's state dict (tensors and plain numbers only)."""
    torch.save(optimizer.state_dict(), path)


def _write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` as JSON to ``path`` through a temporary file and ``os.replace``."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w") as f:
        json.dump(data, f, indent=1)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


# ---- plain-data state ---------------------------------------------------------------------------------
def rng_state() -> dict[str, Any]:
    """Python, NumPy and torch global RNG states as JSON-able lists."""
    version, internal, gauss = random.getstate()
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    return {
        "python": [version, list(internal), gauss],
        "numpy": [kind, keys.tolist(), int(pos), int(has_gauss), float(cached)],
        "torch": torch.get_rng_state().tolist(),
    }


def set_rng_state(state: dict[str, Any]) -> None:
    """Inverse of ``rng_state``."""
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(torch.tensor(state["torch"], dtype=torch.uint8))


def vecnormalize_state(vec_env: Any) -> dict[str, Any] | None:
    """Running mean/var of observations and returns of a ``VecNormalize`` as plain lists (``None`` without)."""
    if not hasattr(vec_env, "obs_rms"):
        return None
    obs = vec_env.obs_rms if isinstance(vec_env.obs_rms, dict) else {"obs": vec_env.obs_rms}
    return {"obs": {k: _rms_to_json(r) for k, r in obs.items()}, "ret": _rms_to_json(vec_env.ret_rms)}


def set_vecnormalize_state(vec_env: Any, state: dict[str, Any] | None) -> None:
    """Load ``vecnormalize_state`` output into ``vec_env``; raises ``CheckpointError`` if they do not fit."""
    has_norm = hasattr(vec_env, "obs_rms")
    if state is None or not has_norm:
        if (state is None) != (not has_norm):
            raise CheckpointError("the checkpoint and this run disagree on env.normalize; use the checkpoint's setting")
        return
    obs = vec_env.obs_rms if isinstance(vec_env.obs_rms, dict) else {"obs": vec_env.obs_rms}
    if set(obs) != set(state["obs"]):
        raise CheckpointError(f"normalization keys differ: checkpoint {sorted(state['obs'])}, env {sorted(obs)}")
    for key, rms in obs.items():
        _rms_from_json(rms, state["obs"][key])
    _rms_from_json(vec_env.ret_rms, state["ret"])


def _rms_to_json(rms: Any) -> dict[str, Any]:
    """A ``RunningMeanStd`` as a dict of lists."""
    return {"mean": np.asarray(rms.mean).tolist(), "var": np.asarray(rms.var).tolist(), "count": float(rms.count)}


def _rms_from_json(rms: Any, data: dict[str, Any]) -> None:
    """Fill a ``RunningMeanStd`` from ``_rms_to_json`` output."""
    mean = np.asarray(data["mean"], dtype=np.float64)
    if mean.shape != np.shape(rms.mean):
        raise CheckpointError(f"normalization statistics of shape {mean.shape} do not fit {np.shape(rms.mean)}")
    rms.mean, rms.var, rms.count = mean, np.asarray(data["var"], dtype=np.float64), float(data["count"])


# ---- lookup and resume ----------------------------------------------------------------------------------
def latest_checkpoint(root: Path) -> Path | None:
    """Newest complete checkpoint under a ``checkpoints`` dir: the one ``latest.json`` names, else the highest step."""
    pointer = root / LATEST
    if pointer.is_file():
        try:
            candidate = root / json.loads(pointer.read_text())["name"]
            if (candidate / STATE_FILE).is_file():
                return candidate
        except (json.JSONDecodeError, KeyError, TypeError):
            pass
    complete = [p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".") and (p / STATE_FILE).is_file()]
    return max(complete, key=_checkpoint_step) if complete else None


def _checkpoint_step(path: Path) -> int:
    """Timestep counter of a checkpoint dir (-1 if unreadable)."""
    try:
        return int(json.loads((path / STATE_FILE).read_text())["num_timesteps"])
    except (OSError, ValueError, KeyError, TypeError):
        return -1


def resolve_checkpoint(path: str | os.PathLike) -> Path:
    """The checkpoint dir meant by ``path``: a checkpoint dir, its ``safe/`` dir, a run dir or its ``checkpoints``."""
    path = Path(path).expanduser()
    if not path.exists():
        raise CheckpointError(f"no checkpoint at {path}: the path does not exist")
    if path.is_file():
        raise CheckpointError(f"{path} is a file; pass a run dir or a checkpoint dir (one holding {STATE_FILE})")
    if path.name == SAFE_DIR and (path.parent / STATE_FILE).exists():
        path = path.parent
    if (path / STATE_FILE).exists() or (path / SAFE_DIR).is_dir():
        return path
    for root in (path / "checkpoints", path):
        if root.is_dir():
            found = latest_checkpoint(root)
            if found is not None:
                return found
    raise CheckpointError(f"no checkpoint in {path}: expected {STATE_FILE} in it or a checkpoints/ dir of a run")


def read_trainer_state(checkpoint: Path) -> dict[str, Any]:
    """Parse ``trainer_state.json`` of a checkpoint dir; ``CheckpointError`` if missing or corrupted."""
    path = checkpoint / STATE_FILE
    if not path.is_file():
        raise CheckpointError(f"{checkpoint} is not a training checkpoint: {STATE_FILE} is missing")
    try:
        state = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CheckpointError(f"{path} is corrupted: {err}") from err
    missing = {"num_timesteps", "observation_space", "action_space", "config"} - set(state)
    if missing:
        raise CheckpointError(f"{path} is corrupted: missing {sorted(missing)}")
    return state


def restore(model: Any, vec_env: Any, checkpoint: Path, state: dict[str, Any]) -> None:
    """Load weights, optimizer, counters, normalization and RNG states of ``checkpoint`` into a fresh model."""
    check_spaces(state, model.observation_space, model.action_space, checkpoint)
    weights = checkpoint / SAFE_DIR / "weights.safetensors"
    try:
        missing, unexpected = load_model(model.policy, str(weights), strict=False)
        optimizer = torch.load(checkpoint / OPTIMIZER_FILE, map_location=model.device, weights_only=True)
        model.policy.optimizer.load_state_dict(optimizer)
    except Exception as err:  # missing file, corrupted safetensors/pickle refusal, shape mismatch
        raise CheckpointError(f"cannot restore the model from {checkpoint}: {err}") from err
    if missing or unexpected:
        raise CheckpointError(f"weights in {weights} do not fit this policy: missing {missing}, "
                              f"unexpected {unexpected}")
    set_vecnormalize_state(vec_env, state.get("vec_normalize"))
    model.num_timesteps = int(state["num_timesteps"])
    model._n_updates = int(state.get("n_updates", 0))
    if "rng" in state:
        set_rng_state(state["rng"])


def check_spaces(state: dict[str, Any], observation_space: Any, action_space: Any, checkpoint: Path) -> None:
    """Raise ``CheckpointError`` unless the checkpoint's spaces equal the env's."""
    for what, saved, current in (("observation", state["observation_space"], observation_space),
                                 ("action", state["action_space"], action_space)):
        if saved != space_to_json(current):
            raise CheckpointError(
                f"the checkpoint {checkpoint} was trained with a different {what} space than this env has "
                f"({_describe(saved)} vs {current}); use the checkpoint's env settings"
            )


def _describe(space: dict[str, Any]) -> str:
    """Short text of a JSON space description."""
    if space.get("type") == "Dict":
        return "Dict(" + ", ".join(f"{k}: {_describe(v)}" for k, v in space["spaces"].items()) + ")"
    return f"{space.get('type')}{tuple(space.get('shape', ())) or space.get('n', '')}"
