"""How train_rl builds its vec env: the elapsed-time key stays in seconds under VecNormalize."""

from __future__ import annotations

import numpy as np
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from agents.config import train_config
from agents.training import build_vec_env
from tests.paths import CONFIG_DIR


def test_dt_key_is_not_normalized() -> None:
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        raw = compose("train", overrides=["env=PickPlace-v0", "env.irregular=true", "env.normalize=true"])
    cfg = train_config(OmegaConf.to_container(raw, resolve=True))
    venv = build_vec_env(cfg, n_envs=2, seed=0, training=True)
    assert "dt" not in venv.norm_obs_keys and "obs" in venv.norm_obs_keys
    obs = venv.reset()
    for _ in range(20):
        obs, *_ = venv.step(np.stack([venv.action_space.sample() for _ in range(2)]))
        assert (obs["dt"] > 0).all(), "dt reaches the policy in seconds, never normalized"
    venv.close()
