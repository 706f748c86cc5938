"""Per-step latency and size of the hybrid core, beside ``torch.nn.LSTM(64)``, on one CPU thread.

    python bench/bench_core.py [--repeats 200] [--out docs/bench_core.md]

For each preset (``cpu``, ``paper``) and worker (``ltc``, ``cfc``, ``gru``) it times one env step of
``LatentFlowCore.step`` (encoder + planner + worker + decoder, 16 input tokens) and, apart, the recurrent
part alone (planner + worker on precomputed keys/values of the latent array: what the time loop pays per
step once the encoder runs batched), at batch 1 and 16, in inference mode, carrying the state from step
to step. Means of ``--repeats`` timed calls, so planner ticks are counted.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch

from latentflow_core import CoreConfig, LatentFlowCore

N_TOKENS, D_IN = 16, 32


def mean_us(fn: Callable[[], object], repeats: int) -> float:
    """Mean wall time of ``fn`` in microseconds after a short warm-up (a mean, so planner ticks count)."""
    for _ in range(max(3, repeats // 10)):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.mean(times) * 1e6


def core_row(preset: str, worker: str, batch: int, repeats: int) -> dict:
    core = LatentFlowCore(CoreConfig.from_preset(preset, d_in=D_IN, worker=worker)).eval()
    tokens, dt = torch.randn(batch, N_TOKENS, D_IN), torch.full((batch,), 0.05)
    carried = {"state": core.initial_state(batch), "cache": None}

    def full_step() -> None:
        _, carried["state"] = core.step(tokens, dt, carried["state"])

    def recurrent_step() -> None:
        carried["cache"], carried["state"] = core._recurrent_step(step, dt, carried["state"], carried["cache"])

    with torch.inference_mode():
        step = {k: v[0] for k, v in core._prepare_steps(core.encoder(tokens), None, 1).items()}
        full = mean_us(full_step, repeats)
        recurrent = mean_us(recurrent_step, repeats)
    params = sum(p.numel() for p in core.parameters())
    return {"model": f"{preset} / {worker}", "batch": batch, "params": params, "full_us": full,
            "recurrent_us": recurrent}


def lstm_row(batch: int, repeats: int) -> dict:
    lstm = torch.nn.LSTM(D_IN, 64)
    x, hc = torch.randn(1, batch, D_IN), (torch.zeros(1, batch, 64), torch.zeros(1, batch, 64))
    with torch.inference_mode():
        us = mean_us(lambda: lstm(x, hc), repeats)
    return {"model": "nn.LSTM(64)", "batch": batch, "params": sum(p.numel() for p in lstm.parameters()),
            "full_us": us, "recurrent_us": us}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--out", type=Path, default=Path("docs/bench_core.md"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    rows = []
    for batch in (1, 16):
        rows.append(lstm_row(batch, args.repeats))
        for preset in ("cpu", "paper"):
            for worker in ("ltc", "cfc", "gru"):
                repeats = args.repeats if preset == "cpu" else max(3, args.repeats // 50)
                rows.append(core_row(preset, worker, batch, repeats))
                print(f"done {rows[-1]['model']} batch {batch}", flush=True)
    lstm_us = {r["batch"]: r["full_us"] for r in rows if r["model"] == "nn.LSTM(64)"}
    lines = [
        f"torch {torch.__version__}, {platform.processor() or platform.machine()}, 1 thread, "
        f"{N_TOKENS} input tokens of width {D_IN}; means over steps (planner ticks included).",
        "",
        "| model | batch | params | full step (us) | x LSTM | planner+worker (us) | x LSTM |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        base = lstm_us[r["batch"]]
        lines.append(
            f"| {r['model']} | {r['batch']} | {r['params']:,} | {r['full_us']:,.0f} | {r['full_us'] / base:.1f} "
            f"| {r['recurrent_us']:,.0f} | {r['recurrent_us'] / base:.1f} |"
        )
    table = "\n".join(lines)
    print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("# Core step latency\n\nMade by `python bench/bench_core.py`.\n\n" + table + "\n")


if __name__ == "__main__":
    main()
