"""Tests of the reasoning envs: Sudoku-v0 and GraphSearch-v0."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import envs  # noqa: F401  (registers the ids)
from envs.graph_search import NODE_FEATURES, GraphSearchEnv
from envs.sudoku import SudokuEnv, count_solutions, generate_puzzle, is_solution, load_puzzles_csv

DATA = Path(__file__).parent / "data"
SUDOKU_CSV = DATA / "sudoku_small.csv"


# ----------------------------------------------------------------------------------------------- Sudoku


def _cell_action(row: int, col: int, digit: int) -> int:
    return (row * 9 + col) * 9 + digit - 1


def _first_blank(env: SudokuEnv) -> tuple[int, int]:
    row, col = np.argwhere(env.board == 0)[0]
    return int(row), int(col)


@pytest.mark.parametrize("n_givens", [30, 45, 70])
def test_generated_puzzle_is_unique_with_requested_givens(n_givens: int):
    puzzle, solution = generate_puzzle(np.random.default_rng(n_givens), n_givens)
    assert np.count_nonzero(puzzle) == n_givens
    assert count_solutions(puzzle, limit=2) == 1
    assert is_solution(solution)
    assert np.all((puzzle == 0) | (puzzle == solution))


def test_too_few_givens_stays_bounded_and_unique():
    puzzle, _ = generate_puzzle(np.random.default_rng(0), 17, max_attempts=1)
    assert 17 <= np.count_nonzero(puzzle) <= 30
    assert count_solutions(puzzle, limit=2) == 1


def test_same_seed_same_puzzle_and_different_seed_differs():
    boards = []
    for seed in (3, 3, 4):
        obs, _ = SudokuEnv(n_givens=35).reset(seed=seed)
        boards.append(obs["board"])
    assert np.array_equal(boards[0], boards[1])
    assert not np.array_equal(boards[0], boards[2])


def test_correct_and_wrong_placements():
    env = SudokuEnv(n_givens=40, correct_reward=2.0, wrong_reward=-0.5, max_errors=3)
    env.reset(seed=0)
    row, col = _first_blank(env)
    digit = int(env.solution[row, col])
    wrong = digit % 9 + 1

    obs, reward, terminated, truncated, info = env.step(_cell_action(row, col, wrong))
    assert reward == -0.5 and info["reward_wrong"] == -0.5
    assert obs["board"][row, col] == 0, "a wrong digit is not placed"
    assert info["n_errors"] == 1 and not terminated and not truncated

    obs, reward, terminated, _, info = env.step(_cell_action(row, col, digit))
    assert reward == 2.0 and info["reward_correct"] == 2.0
    assert obs["board"][row, col] == digit
    assert info["n_filled"] == 41 and info["n_errors"] == 1 and not info["is_success"]

    _, reward, _, _, info = env.step(_cell_action(row, col, digit))
    assert reward == -0.5 and info["n_errors"] == 2, "writing into a filled cell is an error"


def test_error_budget_terminates():
    env = SudokuEnv(n_givens=40, max_errors=2)
    env.reset(seed=1)
    row, col = _first_blank(env)
    wrong = int(env.solution[row, col]) % 9 + 1
    _, _, terminated, _, _ = env.step(_cell_action(row, col, wrong))
    assert not terminated
    _, _, terminated, _, info = env.step(_cell_action(row, col, wrong))
    assert terminated and info["n_errors"] == 2 and not info["is_success"]


def test_solving_terminates_with_success_and_bonus():
    env = SudokuEnv(n_givens=75, solve_reward=10.0)
    env.reset(seed=2)
    total, terminated = 0.0, False
    for row, col in np.argwhere(env.board == 0):
        _, reward, terminated, _, info = env.step(_cell_action(row, col, int(env.solution[row, col])))
        total += reward
    assert terminated and info["is_success"] and info["n_filled"] == 81
    assert total == 6 + 10.0


def test_step_limit_truncates():
    env = SudokuEnv(n_givens=40, max_errors=None, max_steps=4)
    env.reset(seed=0)
    row, col = _first_blank(env)
    wrong = int(env.solution[row, col]) % 9 + 1
    results = [env.step(_cell_action(row, col, wrong)) for _ in range(4)]
    assert [r[3] for r in results] == [False, False, False, True]
    assert not any(r[2] for r in results)


def test_mask_modes():
    consistent, _ = SudokuEnv(n_givens=30).reset(seed=5)
    empty, _ = SudokuEnv(n_givens=30, mask_mode="empty").reset(seed=5)
    board = consistent["board"]
    blank = (board.reshape(81) == 0).astype(np.int8)
    assert np.array_equal(empty["action_mask"].reshape(81, 9), np.repeat(blank[:, None], 9, axis=1))
    mask = consistent["action_mask"].reshape(81, 9)
    assert np.all(mask <= empty["action_mask"].reshape(81, 9))
    assert mask.sum() < blank.sum() * 9
    for cell, digit in zip(*np.nonzero(mask), strict=True):
        row, col = divmod(int(cell), 9)
        box = board[row // 3 * 3 : row // 3 * 3 + 3, col // 3 * 3 : col // 3 * 3 + 3]
        assert digit + 1 not in board[row] and digit + 1 not in board[:, col] and digit + 1 not in box
    env = SudokuEnv(n_givens=30)
    env.reset(seed=5)
    solution_actions = [_cell_action(r, c, env.solution[r, c]) for r, c in np.argwhere(env.board == 0)]
    assert np.all(mask.reshape(729)[solution_actions] == 1), "the solution digit is never masked"


def test_csv_loading():
    puzzles, solutions = load_puzzles_csv(SUDOKU_CSV)
    assert puzzles.shape == solutions.shape == (4, 9, 9)
    env = SudokuEnv(csv_path=SUDOKU_CSV)
    seen = set()
    for seed in range(12):
        obs, _ = env.reset(seed=seed)
        index = next(i for i in range(4) if np.array_equal(obs["board"], puzzles[i]))
        assert np.array_equal(env.solution, solutions[index])
        seen.add(index)
    assert len(seen) > 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "empty file"),
        ("x,y\n", "none of the columns"),
        ("q,a\n", "no puzzle rows"),
        ("q,a\n123,456\n", "expected 81 characters"),
        ("q,a\n" + "x" * 81 + "," + "1" * 81 + "\n", "not allowed"),
        ("q,a\n" + "." * 81 + "," + "1" * 81 + "\n", "not a valid completed"),
        ("q,a\n" + "." * 81 + "\n", "comma-separated fields"),
    ],
)
def test_bad_csv_raises(tmp_path: Path, content: str, message: str):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(ValueError, match=message):
        SudokuEnv(csv_path=path)


def test_csv_answer_contradicting_question_raises(tmp_path: Path):
    lines = SUDOKU_CSV.read_text().splitlines()
    question, answer = lines[1].split(",")
    cell = next(i for i, ch in enumerate(question) if ch not in ".0")
    other = str(int(question[cell]) % 9 + 1)
    path = tmp_path / "bad.csv"
    path.write_text(f"q,a\n{question[:cell]}{other}{question[cell + 1 :]},{answer}\n")
    with pytest.raises(ValueError, match="contradicts"):
        SudokuEnv(csv_path=path)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"n_givens": 16},
        {"n_givens": 81},
        {"mask_mode": "legal"},
        {"max_errors": 0},
        {"max_steps": 0},
        {"n_givens": 30, "csv_path": SUDOKU_CSV},
        {"csv_path": DATA / "missing.csv"},
        {"render_mode": "human"},
    ],
)
def test_sudoku_bad_args_raise(kwargs: dict):
    with pytest.raises(ValueError):
        SudokuEnv(**kwargs)


def test_sudoku_render_modes():
    env = gym.make("Sudoku-v0", render_mode="ansi")
    obs, _ = env.reset(seed=0)
    text = env.render()
    assert isinstance(text, str) and len(text.splitlines()) == 11
    assert text.count(".") == int((obs["board"] == 0).sum())

    env = gym.make("Sudoku-v0", render_mode="rgb_array")
    env.reset(seed=0)
    image = env.render()
    assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
    assert len(np.unique(image.reshape(-1, 3), axis=0)) >= 3


# ------------------------------------------------------------------------------------------ GraphSearch


def _bfs_distances(adjacency: np.ndarray, source: int) -> dict[int, int]:
    """Hop distances from ``source`` over a 0/1 adjacency matrix (the test's own BFS)."""
    dist, frontier = {source: 0}, [source]
    while frontier:
        nxt = []
        for node in frontier:
            for other in np.flatnonzero(adjacency[node]):
                if int(other) not in dist:
                    dist[int(other)] = dist[node] + 1
                    nxt.append(int(other))
        frontier = nxt
    return dist


def _bfs_action(obs: dict[str, np.ndarray]) -> int:
    """The neighbour of the current node closest to the goal, from the observation alone."""
    features = obs["node_features"]
    goal = int(np.argmax(features[:, NODE_FEATURES.index("is_goal")]))
    to_goal = _bfs_distances(obs["adjacency"], goal)
    neighbours = np.flatnonzero(obs["action_mask"])
    return int(min(neighbours, key=lambda node: to_goal[int(node)]))


@pytest.mark.parametrize("seed", range(5))
def test_graph_is_connected_and_mask_is_neighbours(seed: int):
    env = GraphSearchEnv(n_nodes=(6, 20), max_nodes=24)
    obs, info = env.reset(seed=seed)
    n = info["n_nodes"]
    adjacency = obs["adjacency"]
    assert np.array_equal(adjacency, adjacency.T) and not np.any(np.diag(adjacency))
    assert not np.any(adjacency[n:]) and not np.any(adjacency[:, n:])
    assert len(_bfs_distances(adjacency, 0)) == n, "every real node is reachable"
    assert np.array_equal(obs["node_mask"], (np.arange(24) < n).astype(np.int8))
    current = int(np.argmax(obs["node_features"][:, NODE_FEATURES.index("is_current")]))
    assert np.array_equal(obs["action_mask"], adjacency[current])
    goal = int(np.argmax(obs["node_features"][:, NODE_FEATURES.index("is_goal")]))
    assert info["shortest_path_length"] == _bfs_distances(adjacency, current)[goal] >= 1


@pytest.mark.parametrize(("n_nodes", "max_nodes"), [((5, 8), 8), ((8, 16), 16), (40, 48)])
def test_bfs_agent_is_optimal_at_any_size(n_nodes, max_nodes: int):
    env = gym.make("GraphSearch-v0", n_nodes=n_nodes, max_nodes=max_nodes)
    for seed in range(4):
        obs, info = env.reset(seed=seed)
        assert obs["node_features"].shape == (max_nodes, len(NODE_FEATURES))
        assert obs in env.observation_space
        terminated = truncated = False
        while not (terminated or truncated):
            obs, _, terminated, truncated, info = env.step(_bfs_action(obs))
        assert info["is_success"] and info["n_invalid"] == 0
        assert info["shortest_path_length"] / info["path_length"] == 1.0


def test_invalid_move_stays_and_pays():
    env = GraphSearchEnv(n_nodes=10, step_cost=0.05, invalid_cost=0.25)
    obs, _ = env.reset(seed=0)
    current = env.current
    invalid = int(np.flatnonzero(obs["action_mask"] == 0)[0])
    obs, reward, terminated, _, info = env.step(invalid)
    assert env.current == current and info["n_invalid"] == 1 and info["path_length"] == 0
    assert reward == pytest.approx(-0.3) and not terminated


def test_goal_reward_terminates():
    env = GraphSearchEnv(n_nodes=12, goal_reward=5.0, step_cost=0.0)
    obs, info = env.reset(seed=1)
    rewards = []
    for _ in range(info["shortest_path_length"]):
        obs, reward, terminated, _, info = env.step(_bfs_action(obs))
        rewards.append(reward)
    assert terminated and info["is_success"] and rewards[-1] == 5.0 and sum(rewards) == 5.0


def test_graph_step_limit_truncates():
    env = GraphSearchEnv(n_nodes=12, max_steps=3)
    obs, _ = env.reset(seed=1)
    invalid = int(np.flatnonzero(obs["action_mask"] == 0)[0])
    results = [env.step(invalid) for _ in range(3)]
    assert [r[3] for r in results] == [False, False, True]


def test_graph_same_seed_same_graph():
    first, _ = GraphSearchEnv().reset(seed=7)
    second, _ = GraphSearchEnv().reset(seed=7)
    third, _ = GraphSearchEnv().reset(seed=8)
    assert all(np.array_equal(first[k], second[k]) for k in first)
    assert not np.array_equal(first["node_features"], third["node_features"])


@pytest.mark.parametrize(
    "kwargs",
    [
        {"n_nodes": 1},
        {"n_nodes": (10, 5)},
        {"n_nodes": "many"},
        {"n_nodes": (4, 20), "max_nodes": 10},
        {"avg_degree": 0.0},
        {"max_steps": 0},
        {"render_mode": "human"},
    ],
)
def test_graph_bad_args_raise(kwargs: dict):
    with pytest.raises(ValueError):
        GraphSearchEnv(**kwargs)


def test_graph_render():
    env = gym.make("GraphSearch-v0", render_mode="rgb_array")
    env.reset(seed=0)
    image = env.render()
    assert image.dtype == np.uint8 and image.shape == (256, 256, 3)
    assert len(np.unique(image.reshape(-1, 3), axis=0)) >= 4
