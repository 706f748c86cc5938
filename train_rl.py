"""Train a LatentFlow agent: ``python train_rl.py env=PickPlace-v0`` (see docs/training.md).

Overrides: ``seed=3 n_envs=8 vec_env=subproc agent.total_timesteps=2e5 policy=gru_worker preset=paper
env.irregular=true logger.wandb=true resume=<run dir>``; sweeps: ``python train_rl.py -m policy=a,b seed=0,1``.
"""

import os
import sys

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

if sys.platform.startswith("linux"):
    os.environ.setdefault("MUJOCO_GL", "egl")  # offscreen MuJoCo rendering (videos) without a display


@hydra.main(version_base="1.3", config_path="configs", config_name="train")
def main(cfg: DictConfig) -> int:
    """Validate the composed config and train into Hydra's output dir."""
    from pathlib import Path

    from agents.training import run

    hydra_cfg = HydraConfig.get()
    code = run(OmegaConf.to_container(cfg, resolve=True), Path(hydra_cfg.runtime.output_dir),
               list(hydra_cfg.overrides.task), sys.argv)
    if code and hydra_cfg.mode.name == "RUN":
        sys.exit(code)
    return code


if __name__ == "__main__":
    main()
