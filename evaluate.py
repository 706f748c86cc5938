"""Evaluate a checkpoint: ``python evaluate.py checkpoint=<path> episodes=20 video=true`` (see docs/training.md)."""

import os
import sys

import hydra
from omegaconf import DictConfig, OmegaConf

if sys.platform.startswith("linux"):
    os.environ.setdefault("MUJOCO_GL", "egl")  # offscreen MuJoCo rendering (videos) without a display


@hydra.main(version_base="1.3", config_path="configs", config_name="evaluate")
def main(cfg: DictConfig) -> None:
    """Validate the config, evaluate, print the report's headline; exit 2 on a bad checkpoint or setting."""
    from agents.evaluation import main as evaluate_main

    sys.exit(evaluate_main(OmegaConf.to_container(cfg, resolve=True)))


if __name__ == "__main__":
    main()
