"""Fast tests of latentflow_core: shapes, cell equations, equivalences, gradients and bad input."""

from __future__ import annotations

import itertools

import pytest
import torch
from torch.nn import functional as F

from latentflow_core import (
    ENCODERS,
    PLANNERS,
    WORKERS,
    CfCCell,
    CoreConfig,
    CoreState,
    GRUWorkerCell,
    LatentFlowCore,
    LTCCell,
)

D_IN = 12


def make_core(**overrides) -> LatentFlowCore:
    return LatentFlowCore(CoreConfig.from_preset("cpu", d_in=D_IN, **overrides)).eval()


def sequence(t: int = 6, b: int = 3, m: int = 5) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.randn(t, b, m, D_IN), torch.rand(t, b) * 0.1 + 0.01


# ---- shapes ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("encoder", "planner", "worker"), list(itertools.product(ENCODERS, PLANNERS, WORKERS)))
def test_shapes_for_every_switch(encoder: str, planner: str, worker: str) -> None:
    core = make_core(encoder=encoder, planner=planner, worker=worker)
    tokens, dt = sequence()
    features, state = core.forward_sequence(tokens, dt)
    assert features.shape == (6, 3, core.features_dim)
    assert state.flatten().shape == (3, core.state_size)
    features, _ = core.step(tokens[0], dt[0], state)
    assert features.shape == (3, core.features_dim)
    assert torch.isfinite(features).all()


@pytest.mark.parametrize("planner_cell", ["transformer", "gru"])
@pytest.mark.parametrize("writeback", [False, True])
def test_planner_cells_and_writeback(planner_cell: str, writeback: bool) -> None:
    core = make_core(planner_cell=planner_cell, writeback=writeback, plan_iterations=3)
    features, _ = core.forward_sequence(*sequence())
    assert features.shape == (6, 3, core.features_dim)


def test_paper_preset_shapes() -> None:
    cfg = CoreConfig.from_preset("paper", d_in=D_IN)
    assert (cfg.n_latents, cfg.d_latent, cfg.depth, cfg.heads) == (512, 1024, 6, 16)
    assert (cfg.d_planner, cfg.planner_layers, cfg.plan_interval) == (1024, 2, 4)
    assert (cfg.d_worker, cfg.n_micro_steps) == (512, 16)
    core = LatentFlowCore(cfg).eval()
    with torch.no_grad():
        features, state = core.step(torch.randn(2, 7, D_IN))
    assert features.shape == (2, core.features_dim)
    assert state.flatten().shape == (2, core.state_size)


@pytest.mark.parametrize("encoder", ENCODERS)
def test_masked_tokens_do_not_matter(encoder: str) -> None:
    core = make_core(encoder=encoder)
    tokens, dt = sequence(t=3, b=2, m=6)
    mask = torch.ones(3, 2, 6, dtype=torch.bool)
    mask[..., 4:] = False
    changed = tokens.clone()
    changed[..., 4:, :] = torch.randn_like(changed[..., 4:, :]) * 10
    first, _ = core.forward_sequence(tokens, dt, token_mask=mask)
    second, _ = core.forward_sequence(changed, dt, token_mask=mask)
    assert torch.allclose(first, second, atol=1e-5)
    unmasked, _ = core.forward_sequence(changed, dt)
    assert not torch.allclose(first, unmasked, atol=1e-3)


# ---- cell equations ----------------------------------------------------------------------------------
CELLS = {"ltc": lambda: LTCCell(6, 10, unfolds=4), "cfc": lambda: CfCCell(6, 10), "gru": lambda: GRUWorkerCell(6, 10)}


def test_ltc_zero_dt_leaves_state_unchanged() -> None:
    cell = LTCCell(6, 10)
    x, h = torch.randn(4, 6), torch.randn(4, 10)
    assert torch.equal(cell(x, h, torch.zeros(4)), h)


def test_ltc_huge_dt_stays_finite_and_bounded() -> None:
    cell = LTCCell(6, 10)
    x, h = torch.randn(4, 6) * 10, torch.randn(4, 10) * 5
    out = cell(x, h, torch.full((4,), 1e9))
    bound = max(cell.erev.abs().max(), cell.sensory_erev.abs().max(), cell.vleak.abs().max())
    assert torch.isfinite(out).all()
    assert out.abs().max() <= bound + 1e-5


def ltc_rhs(cell: LTCCell, x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """dv/dt of the LTC equation, written out term by term (reference for the fused solver)."""
    x = x * cell.input_w + cell.input_b
    sens = F.softplus(cell.raw_sensory_w) * torch.sigmoid(cell.sensory_sigma * (x[:, :, None] - cell.sensory_mu))
    rec = F.softplus(cell.raw_w) * torch.sigmoid(cell.sigma * (v[:, :, None] - cell.mu))
    current = F.softplus(cell.raw_gleak) * (cell.vleak - v)
    current = current + (rec * (cell.erev - v[:, None, :])).sum(1)
    current = current + (sens * (cell.sensory_erev - v[:, None, :])).sum(1)
    return current / (F.softplus(cell.raw_cm) + 1e-3)


def test_ltc_fused_solver_converges_to_the_ode() -> None:
    cell = LTCCell(3, 5, unfolds=400).double()
    x, v0 = torch.randn(2, 3, dtype=torch.float64), torch.randn(2, 5, dtype=torch.float64) * 0.3
    with torch.no_grad():
        v = v0.clone()
        for _ in range(4000):  # explicit Euler, 1e-4 s steps, to 0.4 s
            v = v + 1e-4 * ltc_rhs(cell, x, v)
        fused = cell._integrate(cell._drive(x), v0, torch.full((2,), 0.4, dtype=torch.float64))
    assert torch.allclose(fused, v, atol=2e-3)
    assert not torch.allclose(v, v0, atol=1e-2)  # the dynamics did move the state


@pytest.mark.parametrize("kind", sorted(CELLS))
def test_batched_irregular_dt_equals_one_by_one(kind: str) -> None:
    cell = CELLS[kind]()
    x, h = torch.randn(5, 6), torch.randn(5, 10)
    dt = torch.tensor([0.0, 0.01, 0.3, 2.0, 0.07])
    batched = cell(x, h, dt)
    alone = torch.cat([cell(x[i : i + 1], h[i : i + 1], dt[i : i + 1]) for i in range(5)])
    assert torch.allclose(batched, alone, atol=1e-6)
    # and dt really matters per sample: the same sample with another dt gives another state
    assert not torch.allclose(cell(x[2:3], h[2:3], dt[3:4]), batched[2:3])


def test_core_batched_irregular_dt_equals_one_by_one() -> None:
    core = make_core()
    tokens, dt = sequence(t=4, b=4)
    batched, _ = core.forward_sequence(tokens, dt)
    for i in range(4):
        alone, _ = core.forward_sequence(tokens[:, i : i + 1], dt[:, i : i + 1])
        assert torch.allclose(batched[:, i : i + 1], alone, atol=1e-5)


# ---- planner timing ----------------------------------------------------------------------------------
def test_planner_updates_every_k_ticks_and_restarts_at_episode_start() -> None:
    core = make_core(plan_interval=3)
    t, b = 9, 2
    tokens, dt = sequence(t=t, b=b)
    starts = torch.zeros(t, b, dtype=torch.bool)
    starts[5, 1] = True  # episode of env 1 restarts at step 5
    state = core.initial_state(b)
    plans = []
    for i in range(t):
        _, state = core.step(tokens[i], dt[i], state, starts[i])
        plans.append(state.plan.clone())
    changed = torch.tensor(
        [[not torch.equal(plans[i][e], plans[i - 1][e]) for e in range(b)] for i in range(1, t)]
    )
    expected_env0 = [i % 3 == 0 for i in range(1, t)]
    expected_env1 = [i in (3, 5, 8) for i in range(1, t)]
    assert changed[:, 0].tolist() == expected_env0
    assert changed[:, 1].tolist() == expected_env1


# ---- equivalences ------------------------------------------------------------------------------------
@pytest.mark.parametrize("worker", ["ltc", "cfc", "gru"])
def test_sequence_equals_stepping(worker: str) -> None:
    core = make_core(worker=worker, writeback=True)
    tokens, dt = sequence(t=7, b=3)
    starts = torch.zeros(7, 3, dtype=torch.bool)
    starts[0] = True
    starts[4, 0] = True
    seq_features, seq_state = core.forward_sequence(tokens, dt, None, starts)
    state, stepped = core.initial_state(3), []
    for i in range(7):
        features, state = core.step(tokens[i], dt[i], state, starts[i])
        stepped.append(features)
    assert torch.allclose(seq_features, torch.stack(stepped), atol=1e-5)
    assert torch.allclose(seq_state.flatten(), state.flatten(), atol=1e-5)


def test_masked_reset_equals_fresh_state() -> None:
    core = make_core()
    tokens, dt = sequence(t=5, b=2)
    _, used = core.forward_sequence(tokens, dt)  # a state deep into an episode
    starts = torch.ones(3, 2, dtype=torch.bool)
    starts[1:] = False
    after_reset, _ = core.forward_sequence(tokens[:3], dt[:3], used, starts)
    fresh, _ = core.forward_sequence(tokens[:3], dt[:3], core.initial_state(2))
    assert torch.equal(after_reset, fresh)
    nan_state = CoreState.unflatten(torch.full((2, core.state_size), float("nan")), core.cfg)
    assert torch.isfinite(core.forward_sequence(tokens[:3], dt[:3], nan_state, starts)[0]).all()


def test_state_flatten_round_trip() -> None:
    core = make_core()
    _, state = core.forward_sequence(*sequence())
    flat = state.flatten()
    again = CoreState.unflatten(flat, core.cfg)
    assert torch.equal(again.flatten(), flat)
    assert torch.equal(again.plan, state.plan) and torch.equal(again.worker, state.worker)
    assert torch.equal(again.tick, state.tick)
    zero = CoreState.zeros(core.cfg, 3)
    assert not zero.flatten().any() and bool((zero.tick == 0).all())


# ---- training plumbing -------------------------------------------------------------------------------
@pytest.mark.parametrize("overrides", [{}, {"writeback": True}, {"worker": "cfc"}, {"planner_cell": "gru"}])
def test_every_parameter_gets_a_gradient(overrides: dict) -> None:
    core = make_core(**overrides).train()
    tokens, dt = sequence(t=5, b=2)
    features, state = core.forward_sequence(tokens, dt)
    (features.pow(2).mean() + state.flatten().pow(2).mean()).backward()
    missing = [n for n, p in core.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not missing, f"no gradient reaches {missing}"


def test_solver_stays_float32_under_bf16_autocast() -> None:
    core = make_core()
    seen = []
    integrate = core.worker.cell.integrate

    def recording(*args):
        out = integrate(*args)
        seen.append(out.dtype)
        return out

    core.worker.cell.integrate = recording
    with torch.autocast("cpu", dtype=torch.bfloat16):
        features, state = core.forward_sequence(*sequence(t=2, b=2))
    assert seen and set(seen) == {torch.float32}
    assert state.worker.dtype == torch.float32
    assert torch.isfinite(features.float()).all()


# ---- bad input ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"encoder": "cnn"}, "encoder='cnn' is not one of perceiver"),
        ({"planner": "mcts"}, "planner='mcts' is not one of hrm, none"),
        ({"worker": "lstm"}, "worker='lstm' is not one of ltc, cfc, gru"),
        ({"planner_cell": "lstm"}, "planner_cell"),
        ({"heads": 3}, "divisible by heads"),
        ({"n_micro_steps": 0}, "n_micro_steps must be a positive integer"),
        ({"default_dt": -1.0}, "default_dt"),
        ({"bogus": 1}, "unknown CoreConfig settings"),
    ],
)
def test_bad_config_names_the_setting(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        CoreConfig.from_preset("cpu", d_in=D_IN, **kwargs)


def test_unknown_preset() -> None:
    with pytest.raises(ValueError, match="preset='big' is not one of cpu, paper"):
        CoreConfig.from_preset("big", d_in=D_IN)


def test_bad_inputs_raise_value_error() -> None:
    core = make_core()
    tokens, dt = sequence(t=2, b=3)
    with pytest.raises(ValueError, match=r"token width 5 does not match CoreConfig\.d_in=12"):
        core.forward_sequence(torch.randn(2, 3, 4, 5), dt)
    with pytest.raises(ValueError, match=r"dt must be a scalar or have shape \(t, b\)"):
        core.forward_sequence(tokens, torch.rand(2, 4))
    with pytest.raises(ValueError, match="finite and >= 0"):
        core.forward_sequence(tokens, -dt)
    with pytest.raises(ValueError, match="finite and >= 0"):
        core.forward_sequence(tokens, torch.full((2, 3), float("nan")))
    with pytest.raises(ValueError, match="episode_start must have shape"):
        core.forward_sequence(tokens, dt, None, torch.zeros(2, 2, dtype=torch.bool))
    with pytest.raises(ValueError, match="state holds 5 episodes but tokens hold batch 3"):
        core.forward_sequence(tokens, dt, core.initial_state(5))
    with pytest.raises(ValueError, match=r"flat state must have shape"):
        CoreState.unflatten(torch.zeros(3, 7), core.cfg)
