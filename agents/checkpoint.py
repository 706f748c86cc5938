"""A data-only checkpoint format: weights in safetensors plus a JSON description.

SB3's ``.zip`` unpickles objects when it loads, so a file from a stranger can run code. This format
cannot: ``policy.json`` is parsed as JSON, the policy class comes from an allow-list, and the weights are
read by safetensors (or, for a ``weights.pt`` fallback, by ``torch.load(weights_only=True)``, which
refuses arbitrary objects).

Layout of a checkpoint directory::

    policy.json            {"format": "latentflow-policy", "version": 1, "policy_class": ...,
                            "policy_kwargs": {...}, "observation_space": {...}, "action_space": {...},
                            "obs_normalization": {...} | null, "metadata": {...}}
    weights.safetensors    the policy's state dict
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from safetensors.torch import load_model, save_model
from sb3_contrib.common.recurrent.policies import (
    RecurrentActorCriticPolicy,
    RecurrentMultiInputActorCriticPolicy,
)
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.policies import BasePolicy
from torch import nn

from policies import LatentFlowPolicy

FORMAT = "latentflow-policy"
VERSION = 1
META_FILE = "policy.json"
WEIGHTS_FILE = "weights.safetensors"
PT_WEIGHTS_FILE = "weights.pt"

POLICY_CLASSES: dict[str, type[BasePolicy]] = {
    "LatentFlowPolicy": LatentFlowPolicy,
    "MlpLstmPolicy": RecurrentActorCriticPolicy,
    "MultiInputLstmPolicy": RecurrentMultiInputActorCriticPolicy,
}
"""The only classes a checkpoint may name."""

ACTIVATIONS: dict[str, type[nn.Module]] = {
    cls.__name__: cls for cls in (nn.Tanh, nn.ReLU, nn.ELU, nn.GELU, nn.SiLU, nn.LeakyReLU)
}

_KWARG_KEYS = (
    "net_arch", "use_sde", "log_std_init", "full_std", "use_expln", "squash_output", "ortho_init",
    "normalize_images", "share_features_extractor", "lstm_hidden_size", "n_lstm_layers", "shared_lstm",
    "enable_critic_lstm", "lstm_kwargs", "preset", "core_kwargs", "tokenizer_kwargs", "default_dt", "critic_grad",
)


class CheckpointError(ValueError):
    """A checkpoint is missing, corrupted, unsafe or does not fit."""


# ---- spaces <-> JSON ---------------------------------------------------------------------------------
def space_to_json(space: spaces.Space) -> dict[str, Any]:
    """A JSON-able description of a Box / Discrete / MultiDiscrete / MultiBinary / Dict space."""
    if isinstance(space, spaces.Box):
        return {"type": "Box", "low": space.low.tolist(), "high": space.high.tolist(),
                "shape": list(space.shape), "dtype": str(space.dtype)}
    if isinstance(space, spaces.Discrete):
        return {"type": "Discrete", "n": int(space.n), "start": int(space.start)}
    if isinstance(space, spaces.MultiDiscrete):
        return {"type": "MultiDiscrete", "nvec": space.nvec.tolist(), "start": space.start.tolist()}
    if isinstance(space, spaces.MultiBinary):
        return {"type": "MultiBinary", "n": np.asarray(space.n).tolist()}
    if isinstance(space, spaces.Dict):
        return {"type": "Dict", "spaces": {k: space_to_json(s) for k, s in space.spaces.items()}}
    raise CheckpointError(f"cannot describe space {space} in a safe checkpoint")


def space_from_json(data: dict[str, Any]) -> spaces.Space:
    """Inverse of ``space_to_json``."""
    kind = data.get("type")
    if kind == "Box":
        dtype = np.dtype(data["dtype"])
        return spaces.Box(np.asarray(data["low"], dtype), np.asarray(data["high"], dtype), tuple(data["shape"]), dtype)
    if kind == "Discrete":
        return spaces.Discrete(int(data["n"]), start=int(data.get("start", 0)))
    if kind == "MultiDiscrete":
        return spaces.MultiDiscrete(np.asarray(data["nvec"]), start=np.asarray(data["start"]))
    if kind == "MultiBinary":
        return spaces.MultiBinary(data["n"])
    if kind == "Dict":
        return spaces.Dict({k: space_from_json(v) for k, v in data["spaces"].items()})
    raise CheckpointError(f"unknown space type {kind!r} in checkpoint")


# ---- save --------------------------------------------------------------------------------------------
def save_safe(
    model_or_policy: BaseAlgorithm | BasePolicy,
    directory: str | os.PathLike,
    *,
    obs_rms: dict | None = None,
    metadata: dict | None = None,
) -> Path:
    """Write ``policy.json`` + ``weights.safetensors`` into ``directory`` atomically; returns the directory.

    The files are written into a temporary sibling directory first, which then replaces ``directory``:
    a crash leaves either the old checkpoint or the new one, never half of one.
    """
    policy = model_or_policy.policy if isinstance(model_or_policy, BaseAlgorithm) else model_or_policy
    description = {
        "format": FORMAT,
        "version": VERSION,
        "policy_class": _policy_class_name(policy),
        "policy_kwargs": _json_kwargs(policy),
        "observation_space": space_to_json(policy.observation_space),
        "action_space": space_to_json(policy.action_space),
        "obs_normalization": obs_rms,
        "metadata": metadata or {},
    }
    try:
        text = json.dumps(description, indent=1)
    except TypeError as err:
        raise CheckpointError(f"checkpoint description is not plain data: {err}") from err
    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
    try:
        (tmp / META_FILE).write_text(text)
        save_model(policy, str(tmp / WEIGHTS_FILE))
        _replace_dir(tmp, directory)
    except BaseException:
        _remove_tree(tmp)
        raise
    return directory


def obs_rms_from_vecnormalize(venv: Any) -> dict | None:
    """Plain-data observation statistics of an SB3 ``VecNormalize`` (``None`` if it does not normalize obs)."""
    if venv is None or not getattr(venv, "norm_obs", False):
        return None
    rms = venv.obs_rms if isinstance(venv.obs_rms, dict) else {"obs": venv.obs_rms}
    keys = venv.norm_obs_keys if isinstance(venv.obs_rms, dict) else ["obs"]
    return {
        "clip_obs": float(venv.clip_obs),
        "epsilon": float(venv.epsilon),
        "stats": {k: {"mean": rms[k].mean.tolist(), "var": rms[k].var.tolist(), "count": float(rms[k].count)}
                  for k in keys},
    }


def _policy_class_name(policy: BasePolicy) -> str:
    for name, cls in POLICY_CLASSES.items():
        if type(policy) is cls:
            return name
    raise CheckpointError(f"{type(policy).__name__} is not in the safe-format allow-list {sorted(POLICY_CLASSES)}")


def _json_kwargs(policy: BasePolicy) -> dict[str, Any]:
    params = policy._get_constructor_parameters()
    kwargs = {k: params[k] for k in _KWARG_KEYS if k in params}
    if isinstance(policy, RecurrentActorCriticPolicy) and not isinstance(policy, LatentFlowPolicy):
        # sb3-contrib leaves its LSTM settings out of the constructor parameters; read them off the policy
        kwargs.update(
            lstm_hidden_size=policy.lstm_actor.hidden_size,
            n_lstm_layers=policy.lstm_actor.num_layers,
            shared_lstm=policy.shared_lstm,
            enable_critic_lstm=policy.enable_critic_lstm,
            lstm_kwargs=policy.lstm_kwargs,
        )
    activation = params.get("activation_fn")
    if activation is not None:
        if activation.__name__ not in ACTIVATIONS:
            raise CheckpointError(f"activation {activation.__name__} is not one of {sorted(ACTIVATIONS)}")
        kwargs["activation_fn"] = activation.__name__
    return kwargs


def _replace_dir(src: Path, dst: Path) -> None:
    if dst.exists():
        old = dst.with_name(f".{dst.name}.old")
        _remove_tree(old)
        os.replace(dst, old)
        os.replace(src, dst)
        _remove_tree(old)
    else:
        os.replace(src, dst)


def _remove_tree(path: Path) -> None:
    if path.is_dir():
        for child in path.iterdir():
            _remove_tree(child) if child.is_dir() else child.unlink()
        path.rmdir()


# ---- load --------------------------------------------------------------------------------------------
def read_description(directory: str | os.PathLike) -> dict[str, Any]:
    """Parse and check ``policy.json`` of a checkpoint directory (no weights are read)."""
    directory = Path(directory)
    if directory.is_file():
        raise CheckpointError(
            f"{directory} is a file; a safe checkpoint is a directory with {META_FILE} and {WEIGHTS_FILE}. "
            "SB3 .zip files unpickle code when loaded: open them with RecurrentPPO.load only if you trust them."
        )
    meta_path = directory / META_FILE
    if not meta_path.is_file():
        raise CheckpointError(f"no checkpoint at {directory}: {META_FILE} is missing")
    try:
        data = json.loads(meta_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CheckpointError(f"{meta_path} is corrupted: {err}") from err
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CheckpointError(f"{meta_path} is not a {FORMAT} description")
    if data.get("version") != VERSION:
        raise CheckpointError(f"{meta_path} has format version {data.get('version')}, this code reads {VERSION}")
    if data.get("policy_class") not in POLICY_CLASSES:
        raise CheckpointError(
            f"policy class {data.get('policy_class')!r} is not in the allow-list {sorted(POLICY_CLASSES)}"
        )
    return data


def load_policy(directory: str | os.PathLike, device: str | torch.device = "cpu") -> tuple[BasePolicy, dict]:
    """Rebuild the policy of a safe checkpoint; returns ``(policy, description)``. Never unpickles objects."""
    directory = Path(directory)
    data = read_description(directory)
    kwargs = dict(data["policy_kwargs"])
    if "activation_fn" in kwargs:
        if kwargs["activation_fn"] not in ACTIVATIONS:
            raise CheckpointError(f"activation {kwargs['activation_fn']!r} is not one of {sorted(ACTIVATIONS)}")
        kwargs["activation_fn"] = ACTIVATIONS[kwargs["activation_fn"]]
    observation_space = space_from_json(data["observation_space"])
    action_space = space_from_json(data["action_space"])
    try:
        policy = POLICY_CLASSES[data["policy_class"]](observation_space, action_space, lambda _: 0.0, **kwargs)
    except (TypeError, ValueError) as err:
        raise CheckpointError(f"cannot rebuild the policy from {directory / META_FILE}: {err}") from err
    _load_weights(policy, directory)
    return policy.to(device).eval(), data


def _load_weights(policy: BasePolicy, directory: Path) -> None:
    weights, pt_weights = directory / WEIGHTS_FILE, directory / PT_WEIGHTS_FILE
    try:
        if weights.is_file():
            missing, unexpected = load_model(policy, str(weights), strict=False)
        elif pt_weights.is_file():
            state = torch.load(pt_weights, map_location="cpu", weights_only=True)
            missing, unexpected = policy.load_state_dict(state, strict=False)
        else:
            raise CheckpointError(f"no weights in {directory}: {WEIGHTS_FILE} is missing")
    except CheckpointError:
        raise
    except Exception as err:  # safetensors, pickle refusals and shape mismatches all land here
        raise CheckpointError(f"refusing or unable to load weights from {directory}: {err}") from err
    if missing or unexpected:
        raise CheckpointError(
            f"weights in {directory} do not fit the policy: missing {missing}, unexpected {unexpected}"
        )
