"""Walk a random connected graph from a start node to a goal node (``GraphSearch-v0``)."""

from __future__ import annotations

from typing import Any, ClassVar

import gymnasium as gym
import networkx as nx
import numpy as np
from gymnasium import spaces

from envs import rendering

NODE_FEATURES: tuple[str, ...] = ("is_current", "is_goal", "visited", "x", "y", "is_padding")
"""Columns of ``observation["node_features"]``, in order."""
_CURRENT, _GOAL, _VISITED, _X, _Y, _PADDING = range(len(NODE_FEATURES))


def random_connected_graph(
    rng: np.random.Generator, n_nodes: int, avg_degree: float
) -> tuple[nx.Graph, np.ndarray]:
    """A connected random geometric graph and its ``(n_nodes, 2)`` node positions in ``[0, 1]^2``.

    Nodes are uniform points in the unit square. Every pair closer than ``sqrt(avg_degree / (pi * n))``
    is joined (about ``avg_degree`` neighbours per node away from the border), and the edges of the
    Euclidean minimum spanning tree are added so the graph is always connected.
    """
    positions = rng.uniform(0.0, 1.0, size=(n_nodes, 2))
    dist = np.linalg.norm(positions[:, None, :] - positions[None, :, :], axis=-1)  # (n, n)
    radius = np.sqrt(avg_degree / (np.pi * n_nodes))
    graph = nx.Graph()
    graph.add_nodes_from(range(n_nodes))
    rows, cols = np.nonzero(np.triu(dist < radius, k=1))
    graph.add_edges_from(zip(rows.tolist(), cols.tolist(), strict=True))
    tree = nx.minimum_spanning_edges(nx.from_numpy_array(dist), algorithm="prim", data=False)
    graph.add_edges_from(tree)
    return graph, positions


class GraphSearchEnv(gym.Env):
    """Reach a goal node by walking along the edges of a random connected graph.

    ## Description
    A masked reasoning and size-generalization benchmark. Each episode draws a connected random
    geometric graph (``n_nodes`` nodes, or a size drawn uniformly from an inclusive range), a start node
    and a different goal node. Observations are padded to ``max_nodes``, so one policy can be trained
    on small graphs and tested on larger ones by giving both envs the same ``max_nodes``, or any
    ``max_nodes`` for a size-agnostic (e.g. attention) encoder. Optimality is measurable: ``info``
    reports the agent's path length and the shortest one (breadth-first search).

    ## Action Space
    ``Discrete(max_nodes)``: the index of the node to move to. A node that is not a neighbour of the
    current node (``action_mask == 0``) is an invalid move: the agent stays and pays ``invalid_cost``.

    ## Observation Space
    ``Dict`` with ``M = max_nodes`` and ``F = 6``:

    | key               | space                        | meaning                                       |
    |-------------------|------------------------------|-----------------------------------------------|
    | ``node_features`` | ``Box(0, 1, (M, F), float32)``| ``NODE_FEATURES``: is_current, is_goal,      |
    |                   |                              | visited, x, y (layout in ``[0, 1]^2``),       |
    |                   |                              | is_padding; padding rows are 0 but is_padding |
    | ``adjacency``     | ``Box(0, 1, (M, M), int8)``  | symmetric, zero diagonal, zero for padding    |
    | ``node_mask``     | ``Box(0, 1, (M,), int8)``    | 1 = real node, 0 = padding                    |
    | ``action_mask``   | ``Box(0, 1, (M,), int8)``    | neighbours of the current node                |

    ## Rewards
    ``-step_cost`` every step, ``-invalid_cost`` more for an invalid move, ``+goal_reward`` on reaching the
    goal; reported in ``info`` as ``reward_step``, ``reward_invalid`` and ``reward_goal``.

    ## Starting State
    A new graph, start and goal each reset, all from the env's seeded generator.

    ## Episode End
    Terminates at the goal; truncates after ``max_steps`` steps (default ``3 * max_nodes``).

    ## Info
    ``is_success``, ``path_length`` (moves made), ``shortest_path_length`` (fewest moves possible),
    ``n_nodes``, ``n_invalid``. The optimality ratio of a successful episode is
    ``shortest_path_length / path_length``.

    ## Arguments
    - ``n_nodes``: graph size, an int or an inclusive ``(low, high)`` range; at least 2 (default (8, 16)).
    - ``max_nodes``: padded size, at least the largest ``n_nodes`` (default: that largest size).
    - ``avg_degree``: target mean degree of the geometric graph (default 4.0).
    - ``step_cost``, ``invalid_cost``, ``goal_reward``: reward weights (0.05, 0.1, 1.0).
    - ``max_steps``: step limit. ``render_mode``: ``"rgb_array"`` or None.

    ## Version History
    - v0: initial version.
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["rgb_array"], "render_fps": 4}

    def __init__(
        self,
        n_nodes: int | tuple[int, int] = (8, 16),
        max_nodes: int | None = None,
        avg_degree: float = 4.0,
        step_cost: float = 0.05,
        invalid_cost: float = 0.1,
        goal_reward: float = 1.0,
        max_steps: int | None = None,
        render_mode: str | None = None,
    ):
        self.n_nodes_range = _node_range(n_nodes)
        self.max_nodes = self.n_nodes_range[1] if max_nodes is None else int(max_nodes)
        self.max_steps = 3 * self.max_nodes if max_steps is None else int(max_steps)
        _validate_args(self.n_nodes_range, self.max_nodes, avg_degree, self.max_steps, render_mode)
        self.avg_degree = avg_degree
        self.step_cost, self.invalid_cost, self.goal_reward = step_cost, invalid_cost, goal_reward
        self.render_mode = render_mode

        m = self.max_nodes
        self.action_space = spaces.Discrete(m)
        self.observation_space = spaces.Dict(
            {
                "node_features": spaces.Box(0.0, 1.0, shape=(m, len(NODE_FEATURES)), dtype=np.float32),
                "adjacency": spaces.Box(0, 1, shape=(m, m), dtype=np.int8),
                "node_mask": spaces.Box(0, 1, shape=(m,), dtype=np.int8),
                "action_mask": spaces.Box(0, 1, shape=(m,), dtype=np.int8),
            }
        )
        self.graph, self.positions = nx.Graph(), np.zeros((0, 2))
        self.adjacency = np.zeros((m, m), dtype=np.int8)
        self.visited = np.zeros(m, dtype=bool)
        self.current = self.goal = 0
        self.path_length = self.shortest_path_length = self.n_invalid = self.n_steps = 0

    @property
    def n_nodes(self) -> int:
        """Number of real nodes in the current graph."""
        return self.graph.number_of_nodes()

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """Draw a new graph, start and goal; returns ``(observation, info)``."""
        super().reset(seed=seed)
        low, high = self.n_nodes_range
        n = int(self.np_random.integers(low, high + 1))
        self.graph, self.positions = random_connected_graph(self.np_random, n, self.avg_degree)
        self.adjacency = np.zeros((self.max_nodes, self.max_nodes), dtype=np.int8)
        self.adjacency[:n, :n] = nx.to_numpy_array(self.graph, nodelist=range(n), dtype=np.int8)
        self.current, self.goal = (int(v) for v in self.np_random.choice(n, size=2, replace=False))
        self.shortest_path_length = nx.shortest_path_length(self.graph, self.current, self.goal)
        self.visited = np.zeros(self.max_nodes, dtype=bool)
        self.visited[self.current] = True
        self.path_length = self.n_invalid = self.n_steps = 0
        return self._get_obs(), self._get_info()

    def step(self, action: int):
        """Move to node ``action`` if it neighbours the current node, else stay."""
        action = int(action)
        valid = bool(self.adjacency[self.current, action])
        if valid:
            self.current = action
            self.visited[action] = True
            self.path_length += 1
        else:
            self.n_invalid += 1
        self.n_steps += 1
        terminated = self.current == self.goal
        reward, reward_info = self._get_rew(valid, terminated)
        truncated = not terminated and self.n_steps >= self.max_steps
        return self._get_obs(), reward, terminated, truncated, {**self._get_info(), **reward_info}

    def _get_rew(self, valid: bool, reached: bool) -> tuple[float, dict[str, float]]:
        reward_info = {
            "reward_step": -self.step_cost,
            "reward_invalid": 0.0 if valid else -self.invalid_cost,
            "reward_goal": self.goal_reward if reached else 0.0,
        }
        return float(sum(reward_info.values())), reward_info

    def _get_obs(self) -> dict[str, np.ndarray]:
        n, m = self.n_nodes, self.max_nodes
        features = np.zeros((m, len(NODE_FEATURES)), dtype=np.float32)
        features[self.current, _CURRENT] = 1.0
        features[self.goal, _GOAL] = 1.0
        features[:, _VISITED] = self.visited
        features[:n, [_X, _Y]] = self.positions
        features[n:, _PADDING] = 1.0
        node_mask = np.zeros(m, dtype=np.int8)
        node_mask[:n] = 1
        return {
            "node_features": features,
            "adjacency": self.adjacency.copy(),
            "node_mask": node_mask,
            "action_mask": self.adjacency[self.current].copy(),
        }

    def _get_info(self) -> dict[str, Any]:
        return {
            "is_success": self.current == self.goal,
            "path_length": self.path_length,
            "shortest_path_length": self.shortest_path_length,
            "n_nodes": self.n_nodes,
            "n_invalid": self.n_invalid,
        }

    def render(self) -> np.ndarray | None:
        """A ``(256, 256, 3)`` ``uint8`` drawing: goal green, current blue, visited light blue."""
        if self.render_mode != "rgb_array":
            return None
        return render_graph(self.graph, self.positions, self.current, self.goal, self.visited)


_RENDER_PX, _RENDER_MARGIN, _NODE_RADIUS = 256, 16, 6


def render_graph(
    graph: nx.Graph, positions: np.ndarray, current: int, goal: int, visited: np.ndarray
) -> np.ndarray:
    """Draw ``graph`` with nodes at ``positions`` (``[0, 1]^2``, y up) into a new ``uint8`` image."""
    image = rendering.canvas(_RENDER_PX, _RENDER_PX)
    span = _RENDER_PX - 2 * _RENDER_MARGIN
    # (n, 2) x, y in [0, 1] -> (n, 2) row, col pixels, rows counted from the top
    pixels = np.stack([_RENDER_MARGIN + (1 - positions[:, 1]) * span, _RENDER_MARGIN + positions[:, 0] * span], 1)
    for u, v in graph.edges:
        rendering.draw_line(image, pixels[u], pixels[v], rendering.GREY)
    for node in graph.nodes:
        rendering.draw_disc(image, pixels[node], _NODE_RADIUS + 1, rendering.BLACK)
        color = rendering.LIGHT_BLUE if visited[node] else rendering.LIGHT_GREY
        color = {goal: rendering.GREEN, current: rendering.BLUE}.get(node, color)
        rendering.draw_disc(image, pixels[node], _NODE_RADIUS, color)
    return image


def _node_range(n_nodes: int | tuple[int, int]) -> tuple[int, int]:
    """``n_nodes`` as an inclusive ``(low, high)`` pair."""
    if isinstance(n_nodes, (int, np.integer)):
        return int(n_nodes), int(n_nodes)
    try:
        low, high = (int(v) for v in n_nodes)
    except (TypeError, ValueError) as err:
        raise ValueError(f"n_nodes={n_nodes!r}; use an int or an inclusive (low, high) pair, e.g. (8, 16).") from err
    return low, high


def _validate_args(
    n_nodes: tuple[int, int], max_nodes: int, avg_degree: float, max_steps: int, render_mode: str | None
) -> None:
    """Raise ValueError, with the fix, for settings GraphSearchEnv cannot run with."""
    low, high = n_nodes
    if not 2 <= low <= high:
        raise ValueError(f"n_nodes={n_nodes}; need 2 <= low <= high (a start and a different goal).")
    if max_nodes < high:
        raise ValueError(f"max_nodes={max_nodes} < largest n_nodes={high}; raise max_nodes to at least {high}.")
    if avg_degree <= 0:
        raise ValueError(f"avg_degree={avg_degree}; use a positive mean degree such as 3.0.")
    if max_steps < 1:
        raise ValueError(f"max_steps={max_steps}; use a positive integer (default 3 * max_nodes).")
    if render_mode not in (None, "rgb_array"):
        raise ValueError(f"render_mode={render_mode!r}; use 'rgb_array' or None.")
