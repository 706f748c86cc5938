"""Algorithm glue: safe checkpoints, loading a policy into a plain Gymnasium loop, training and evaluation.

``load_agent`` and ``save_safe`` are the two calls most users need.
"""

from agents.agent import Agent, load_agent
from agents.checkpoint import CheckpointError, load_policy, save_safe

__all__ = ["Agent", "CheckpointError", "load_agent", "load_policy", "save_safe"]
