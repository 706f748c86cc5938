"""LatentFlowPolicy under stock sb3-contrib RecurrentPPO: spaces, masks, dt, ablations, save/load, predict."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sb3_contrib import RecurrentPPO
from sb3_contrib.common.recurrent.type_aliases import RNNStates
from stable_baselines3.common.env_util import make_vec_env

from envs.debug import CueMemoryEnv
from policies import LatentFlowPolicy, baseline_policy

TINY = {"n_steps": 16, "batch_size": 16, "n_epochs": 1}


def make_model(obs_kind: str = "box", action_kind: str = "discrete", n_envs: int = 2, **policy_kwargs):
    env_kwargs = {"obs_kind": obs_kind, "action_kind": action_kind, "n_cues": 3}
    env = make_vec_env(CueMemoryEnv, n_envs=n_envs, seed=0, env_kwargs=env_kwargs)
    return RecurrentPPO(LatentFlowPolicy, env, policy_kwargs=policy_kwargs, seed=0, device="cpu", **TINY)


@pytest.mark.parametrize(
    ("obs_kind", "action_kind"),
    [
        ("box", "discrete"),
        ("box", "box"),
        ("box", "multidiscrete"),
        ("dict_mask", "discrete"),
        ("dict_mask", "multidiscrete"),
        ("dict_dt", "box"),
        ("image", "discrete"),
        ("grid", "discrete"),
        ("graph", "discrete"),
    ],
)
def test_learn_over_spaces(obs_kind: str, action_kind: str) -> None:
    model = make_model(obs_kind, action_kind)
    before = [p.detach().clone() for p in model.policy.parameters()]
    model.learn(48)
    assert model.num_timesteps >= 48
    changed = sum(not torch.equal(a, b) for a, b in zip(before, model.policy.parameters(), strict=True))
    assert changed > len(before) // 2, "training should move most parameters"


@pytest.mark.parametrize(
    "core_kwargs",
    [
        {"encoder": "transformer"},
        {"encoder": "mlp"},
        {"planner": "none"},
        {"worker": "cfc"},
        {"worker": "gru"},
        {"planner": "none", "worker": "none"},
        {"planner_cell": "gru", "writeback": True},
    ],
)
def test_learn_over_ablation_switches(core_kwargs: dict) -> None:
    model = make_model(core_kwargs=core_kwargs)
    model.learn(32)
    assert model.policy.core_config.encoder == core_kwargs.get("encoder", "perceiver")


def test_state_buffer_fits_the_core_state() -> None:
    model = make_model()
    policy = model.policy
    size = policy.lstm_actor.core.state_size
    assert policy.lstm_actor.hidden_size == (size + 1) // 2
    h, c = model._last_lstm_states.pi
    assert h.shape == c.shape == (1, 2, policy.lstm_actor.hidden_size)


def test_dt_key_reaches_the_worker() -> None:
    model = make_model("dict_dt", "box", n_envs=1)
    obs = {"obs": np.zeros((1, 4), np.float32), "dt": np.array([[0.05]], np.float32)}
    state = None
    for _ in range(2):
        _, state = model.predict(obs, state, np.array([False]), deterministic=True)
    _, short = model.predict(obs, state, np.array([False]), deterministic=True)
    _, long = model.predict({**obs, "dt": np.array([[2.0]], np.float32)}, state, np.array([False]), deterministic=True)
    assert not np.allclose(np.concatenate(short, -1), np.concatenate(long, -1))  # the worker part moved


def test_action_mask_is_respected_in_rollout_and_training() -> None:
    model = make_model("dict_mask", "discrete", n_envs=1)
    obs = {"obs": np.zeros((64, 4), np.float32), "action_mask": np.tile(np.array([1, 1, 0], np.int8), (64, 1))}
    actions, _ = model.predict(obs, None, np.ones(64, bool), deterministic=False)
    assert set(actions.tolist()) <= {0, 1}
    obs_t, _ = model.policy.obs_to_tensor(obs)
    states = model.policy.lstm_actor.hidden_size
    zeros = torch.zeros(1, 64, states)
    from sb3_contrib.common.recurrent.type_aliases import RNNStates

    _, log_prob, _ = model.policy.evaluate_actions(
        obs_t, torch.full((64,), 2), RNNStates((zeros, zeros), (zeros, zeros)), torch.ones(64)
    )
    assert bool((log_prob < -1e6).all())


def test_predict_with_no_state_and_with_episode_starts() -> None:
    model = make_model(n_envs=3)
    obs = model.env.reset()
    actions, state = model.predict(obs, None, np.ones(3, bool), deterministic=True)
    assert actions.shape == (3,)
    assert state[0].shape == (1, 3, model.policy.lstm_actor.hidden_size)
    again, _ = model.predict(obs, state, np.ones(3, bool), deterministic=True)
    assert np.array_equal(actions, again)  # a reset state behaves like no state at all


def test_save_load_gives_the_same_actions(tmp_path) -> None:
    model = make_model("dict_mask", "multidiscrete", n_envs=2)
    model.learn(32)
    obs = model.env.reset()
    state = None
    for _ in range(3):
        _, state = model.predict(obs, state, np.zeros(2, bool), deterministic=True)
    model.save(tmp_path / "model.zip")
    loaded = RecurrentPPO.load(tmp_path / "model.zip", device="cpu")
    a1, s1 = model.predict(obs, state, np.zeros(2, bool), deterministic=True)
    a2, s2 = loaded.predict(obs, state, np.zeros(2, bool), deterministic=True)
    assert np.array_equal(a1, a2)
    assert np.allclose(s1[0], s2[0]) and np.allclose(s1[1], s2[1])


@pytest.mark.parametrize("critic_grad", [True, False])
def test_critic_grad_decides_whether_the_value_loss_trains_the_core(critic_grad: bool) -> None:
    model = make_model(n_envs=2, critic_grad=critic_grad)
    policy = model.policy
    obs = torch.as_tensor(model.env.reset())
    state = torch.zeros(1, 2, policy.lstm_actor.hidden_size)
    values, _, _ = policy.evaluate_actions(obs, torch.zeros(2), RNNStates((state, state), (state, state)),
                                           torch.ones(2))
    values.sum().backward()
    core_grads = [p.grad for p in policy.lstm_actor.parameters() if p.grad is not None]
    assert any(g.abs().sum() > 0 for g in core_grads) == critic_grad
    assert policy.value_net.weight.grad.abs().sum() > 0  # the critic head learns either way
    # a constructor argument, so SB3's save/load and the safe format keep it
    assert policy._get_constructor_parameters()["critic_grad"] is critic_grad


def test_bad_policy_kwargs_raise_value_error() -> None:
    with pytest.raises(ValueError, match="worker='lstm' is not one of"):
        make_model(core_kwargs={"worker": "lstm"})
    with pytest.raises(ValueError, match="default_dt must be > 0"):
        make_model(default_dt=-1.0)


def test_baseline_configuration_trains() -> None:
    env = make_vec_env(CueMemoryEnv, n_envs=2, seed=0)
    name, kwargs = baseline_policy(env.observation_space)
    assert name == "MlpLstmPolicy" and kwargs["lstm_hidden_size"] == 64
    RecurrentPPO(name, env, policy_kwargs=kwargs, seed=0, **TINY).learn(32)


@pytest.mark.parametrize("obs_kind", ["box", "dict_mask"])
def test_training_sequences_reproduce_rollout_log_probs(obs_kind: str) -> None:
    """RecurrentPPO re-evaluates stored padded sequences from stored states: same log-probs as the rollout."""
    from stable_baselines3.common.callbacks import CallbackList

    model = make_model(obs_kind, "discrete", n_envs=3)
    model.learn(48)  # a few updates, so the state matters
    model._setup_learn(96, None, reset_num_timesteps=False)
    callback = CallbackList([])
    callback.init_callback(model)
    model.collect_rollouts(model.env, callback, model.rollout_buffer, n_rollout_steps=16)
    model.policy.set_training_mode(False)
    n_checked = 0
    for data in model.rollout_buffer.get(16):
        mask = data.mask > 1e-8
        with torch.no_grad():
            _, log_prob, _ = model.policy.evaluate_actions(
                data.observations, data.actions.long().flatten(), data.lstm_states, data.episode_starts
            )
        assert torch.allclose(log_prob[mask], data.old_log_prob[mask], atol=1e-5)
        n_checked += int(mask.sum())
    assert n_checked == 48
