"""What a run dir records to make the run reproducible, and the optional wandb session.

``write_run_info`` saves, next to Hydra's ``.hydra/``: ``config.yaml`` (the resolved, validated config),
``command.txt`` (the exact command line), ``seeds.json`` and ``versions.json`` (Python, platform and the
packages that shape results), in the spirit of rl-zoo's ``config.yml`` / ``args.yml`` / ``command.txt``.
"""

from __future__ import annotations

import json
import os
import platform
import shlex
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

PACKAGES = ("latentflow", "torch", "numpy", "gymnasium", "mujoco", "stable-baselines3", "sb3-contrib",
            "hydra-core", "omegaconf", "safetensors", "wandb", "hydra-joblib-launcher", "ray")


def package_versions() -> dict[str, str | None]:
    """Versions of Python, the platform and ``PACKAGES`` (``None`` for one that is not installed)."""
    versions: dict[str, str | None] = {"python": platform.python_version(), "platform": platform.platform()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def write_run_info(run_dir: Path, config: dict[str, Any], seeds: dict[str, Any], argv: list[str] | None = None) -> None:
    """Write ``config.yaml``, ``command.txt``, ``seeds.json`` and ``versions.json`` into ``run_dir``."""
    run_dir.mkdir(parents=True, exist_ok=True)
    argv = sys.argv if argv is None else argv
    (run_dir / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    (run_dir / "command.txt").write_text(f"cd {shlex.quote(os.getcwd())} && python3 {shlex.join(argv)}\n")
    (run_dir / "seeds.json").write_text(json.dumps(seeds, indent=1))
    (run_dir / "versions.json").write_text(json.dumps(package_versions(), indent=1))


def start_wandb(config: dict[str, Any], run_dir: Path, project: str, entity: str | None, tensorboard: bool) -> Any:
    """Start a wandb run (offline unless ``WANDB_MODE`` is set) that mirrors tensorboard; returns the run."""
    os.environ.setdefault("WANDB_MODE", "offline")
    import wandb

    return wandb.init(project=project, entity=entity, config=config, dir=str(run_dir), name=run_dir.name,
                      sync_tensorboard=tensorboard, reinit="finish_previous")


def log_wandb_video(run: Any, path: Path, fps: int) -> None:
    """Attach an mp4 file to the wandb run."""
    import wandb

    run.log({"rollout": wandb.Video(str(path), fps=fps, format="mp4")})
