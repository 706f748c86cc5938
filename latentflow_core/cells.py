"""Single-step continuous-time cells: LTC, CfC and a GRU baseline, behind one interface.

Every cell maps ``x (b, d_x), h (b, d_h), dt (b,) -> h' (b, d_h)``, where ``dt`` is the elapsed time of
this step for each sample on its own (irregular and batched). Cells compute in float32 even under
autocast: the solvers are sensitive to low precision.
"""

from __future__ import annotations


import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn


class WorkerCell(nn.Module):
    """Interface of a worker cell.

    ``drive(x)`` turns the input into whatever stays fixed while the state moves (input projections,
    parameter transforms); ``integrate(drive, h, dt)`` advances the state. A worker that holds its input
    over several micro-steps computes the drive once. ``forward(x, h, dt)`` does both. Both halves run
    in float32 with autocast off.
    """

    def __init__(self, d_x: int, d_h: int) -> None:
        super().__init__()
        self.d_x = d_x
        self.d_h = d_h

    def forward(self, x: torch.Tensor, h: torch.Tensor, dt: torch.Tensor) -> torch.Tensor:
        """Advance ``h (b, d_h)`` by ``dt (b,)`` seconds under input ``x (b, d_x)``."""
        return self.integrate(self.drive(x), h, dt)

    def drive(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """The state-independent part of a step under input ``x (b, d_x)``."""
        with torch.autocast(device_type=x.device.type, enabled=False):
            return self._drive(x.float())

    def integrate(self, drive: tuple[torch.Tensor, ...], h: torch.Tensor, dt: torch.Tensor) -> torch.Tensor:
        """Advance ``h (b, d_h)`` by ``dt (b,)`` seconds under a precomputed ``drive``."""
        with torch.autocast(device_type=h.device.type, enabled=False):
            return self._integrate(drive, h.float(), dt.float())

    def _drive(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return (x,)

    def _integrate(self, drive: tuple[torch.Tensor, ...], h: torch.Tensor, dt: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


def _uniform(shape: tuple[int, ...], low: float, high: float) -> nn.Parameter:
    return nn.Parameter(torch.empty(shape).uniform_(low, high))


def _inverse_softplus(value: torch.Tensor) -> torch.Tensor:
    return value + torch.log(-torch.expm1(-value))


class LTCCell(WorkerCell):
    """Liquid Time-Constant cell (Hasani et al. 2020), fully connected, fused semi-implicit Euler solver.

    Each unit ``i`` is a leaky membrane with capacitance ``cm`` driven by conductance synapses
    ``w_ji * sigmoid(sigma_ji (v_j - mu_ji))`` with reversal potentials ``erev_ji``:

        cm dv/dt = gleak (vleak - v) + sum_j a_ji (erev_ji - v) + sensory terms of the same form.

    One fused step of length ``s`` treats the synaptic activations as fixed and ``v`` implicitly:

        v' = v + s (A - v B) / (cm + s B),   A = gleak vleak + sum a erev,  B = gleak + sum a,

    which is the usual ``(cm v + s A) / (cm + s B)`` rearranged so that ``s = 0`` returns ``v`` exactly
    and ``s -> inf`` tends to ``A / B``, a convex combination of ``vleak`` and the reversal potentials (so
    the state stays bounded whatever the step). ``dt`` is split into ``unfolds`` such steps.
    """

    def __init__(self, d_x: int, d_h: int, unfolds: int = 3) -> None:
        super().__init__(d_x, d_h)
        self.unfolds = unfolds
        # Initial ranges follow the LTC paper's: small time constants, weak synapses.
        self.raw_gleak = nn.Parameter(_inverse_softplus(torch.empty(d_h).uniform_(0.001, 1.0)))
        self.vleak = _uniform((d_h,), -0.2, 0.2)
        self.raw_cm = nn.Parameter(_inverse_softplus(torch.empty(d_h).uniform_(0.4, 0.6)))
        self.mu = _uniform((d_h, d_h), 0.3, 0.8)
        self.sigma = _uniform((d_h, d_h), 3.0, 8.0)
        self.raw_w = nn.Parameter(_inverse_softplus(torch.empty(d_h, d_h).uniform_(0.001, 1.0)))
        self.erev = nn.Parameter(torch.randint(0, 2, (d_h, d_h)).float() * 2 - 1)
        self.sensory_mu = _uniform((d_x, d_h), 0.3, 0.8)
        self.sensory_sigma = _uniform((d_x, d_h), 3.0, 8.0)
        self.raw_sensory_w = nn.Parameter(_inverse_softplus(torch.empty(d_x, d_h).uniform_(0.001, 1.0)))
        self.sensory_erev = nn.Parameter(torch.randint(0, 2, (d_x, d_h)).float() * 2 - 1)
        self.input_w = nn.Parameter(torch.ones(d_x))
        self.input_b = nn.Parameter(torch.zeros(d_x))

    def _drive(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        gleak = F.softplus(self.raw_gleak)
        x = x * self.input_w + self.input_b
        act = F.softplus(self.raw_sensory_w) * torch.sigmoid(
            self.sensory_sigma * (rearrange(x, "b j -> b j 1") - self.sensory_mu)
        )  # (b, d_x, d_h): sensory synapse conductances
        # leak plus sensory synapses stay fixed while v moves: A0 = gleak vleak + sum erev a, B0 = gleak + sum a
        a0 = gleak * self.vleak + (act * self.sensory_erev).sum(dim=1)
        b0 = gleak + act.sum(dim=1)
        w = F.softplus(self.raw_w)
        weights = torch.stack([w, w * self.erev])  # (2, j, d_h): conductance and conductance x reversal
        cm = F.softplus(self.raw_cm) + 1e-3
        return a0, b0, cm, weights, self.sigma, -self.sigma * self.mu

    def _integrate(self, drive: tuple[torch.Tensor, ...], h: torch.Tensor, dt: torch.Tensor) -> torch.Tensor:
        a0, b0, cm, weights, sigma, shift = drive
        step = rearrange(dt, "b -> b 1") / self.unfolds  # (b,) -> (b, 1): one step length per sample
        v = h
        for _ in range(self.unfolds):
            act = torch.sigmoid(torch.addcmul(shift, rearrange(v, "b j -> b j 1"), sigma))  # (b, j, d_h)
            # (b, j, d_h) x (2, j, d_h) -> (2, b, d_h): sums over presynaptic j (faster than einsum's bmm here)
            den, num = (rearrange(act, "b j u -> 1 b j u") * rearrange(weights, "c j u -> c 1 j u")).sum(dim=2)
            a, b = a0 + num, b0 + den
            v = v + step * (a - v * b) / (cm + step * b)
        return v


class CfCCell(WorkerCell):
    """Closed-form continuous-time cell (Hasani et al. 2022).

    ``h' = (1 - g) * f1 + g * f2`` with ``g = sigmoid(t_a(z) * dt + t_b(z))`` and ``z`` a backbone of
    ``[x, h]``: the elapsed time moves each unit from one learned target to the other, no solver loop.
    """

    def __init__(self, d_x: int, d_h: int, d_backbone: int | None = None) -> None:
        super().__init__(d_x, d_h)
        d_backbone = d_backbone or max(d_h, 32)
        self.from_input = nn.Linear(d_x, d_backbone)
        self.from_state = nn.Linear(d_h, d_backbone, bias=False)
        self.heads = nn.Linear(d_backbone, 4 * d_h)  # f1, f2, t_a, t_b side by side

    def _drive(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return (self.from_input(x),)

    def _integrate(self, drive: tuple[torch.Tensor, ...], h: torch.Tensor, dt: torch.Tensor) -> torch.Tensor:
        backbone = F.silu(drive[0] + self.from_state(h))  # the backbone of [x, h], split by its input
        f1, f2, t_a, t_b = self.heads(backbone).chunk(4, dim=-1)
        gate = torch.sigmoid(t_a * rearrange(dt, "b -> b 1") + t_b)
        return torch.tanh(f1) * (1 - gate) + gate * torch.tanh(f2)


class GRUWorkerCell(WorkerCell):
    """Discrete-time GRU baseline; it sees ``log1p(dt)`` as one extra input feature."""

    def __init__(self, d_x: int, d_h: int) -> None:
        super().__init__(d_x, d_h)
        self.cell = nn.GRUCell(d_x + 1, d_h)

    def _integrate(self, drive: tuple[torch.Tensor, ...], h: torch.Tensor, dt: torch.Tensor) -> torch.Tensor:
        return self.cell(torch.cat([drive[0], torch.log1p(rearrange(dt, "b -> b 1"))], dim=-1), h)


def make_cell(kind: str, d_x: int, d_h: int, unfolds: int = 3) -> WorkerCell:
    """Build the worker cell named ``kind`` (``ltc``, ``cfc`` or ``gru``)."""
    if kind == "ltc":
        return LTCCell(d_x, d_h, unfolds)
    if kind == "cfc":
        return CfCCell(d_x, d_h)
    if kind == "gru":
        return GRUWorkerCell(d_x, d_h)
    raise ValueError(f"worker cell {kind!r} is not one of ltc, cfc, gru")


__all__ = ["CfCCell", "GRUWorkerCell", "LTCCell", "WorkerCell", "make_cell"]
