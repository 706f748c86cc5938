"""Plot the learning curves that ``bench/bench_learning.py`` wrote: ``docs/learning/*.csv`` -> ``curves.png``.

    python bench/plot_learning.py [--dir docs/learning]
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

TARGETS = {"CartPoleNoVel-v1": 475.0, "PendulumNoVel-v1": -220.0}


def read_curve(path: Path) -> tuple[list[int], list[float]]:
    """``(timesteps, mean eval return)`` of one CSV."""
    with open(path) as f:
        rows = list(csv.DictReader(f))
    return [int(r["timesteps"]) for r in rows], [float(r["mean_eval_return"]) for r in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dir", type=Path, default=Path("docs/learning"))
    args = parser.parse_args()
    fig, axes = plt.subplots(1, len(TARGETS), figsize=(11, 4))
    for ax, (env_id, target) in zip(axes, TARGETS.items(), strict=True):
        colors: dict[str, Any] = {}  # one color per variant (the file name without env and seed), seeds alike
        for path in sorted(args.dir.glob(f"{env_id}_seed*.csv")):
            steps, returns = read_curve(path)
            variant = path.stem.removeprefix(f"{env_id}_seed").partition("_")[2] or "default"
            label = None if variant in colors else variant
            colors.setdefault(variant, plt.cm.tab10(len(colors) % 10))
            ax.plot(steps, returns, marker="o", ms=3, lw=1, color=colors[variant], label=label)
        ax.axhline(target, color="k", ls="--", lw=0.8, label="target")
        ax.set(title=env_id, xlabel="env steps", ylabel="mean eval return")
        ax.legend(fontsize=7, title="variant (all seeds)", title_fontsize=7)
    fig.tight_layout()
    out = args.dir / "curves.png"
    fig.savefig(out, dpi=100)
    print(out)


if __name__ == "__main__":
    main()
