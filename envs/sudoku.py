"""9x9 Sudoku as a masked, discrete Gymnasium environment (``Sudoku-v0``).

The module also holds the puzzle machinery the env uses and tests check against: a bitmask
backtracking solver that counts solutions, a seeded generator of unique-solution puzzles, and a loader
for puzzle CSVs in the Sudoku-Extreme ``q,a`` layout.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from envs import rendering

N_CELLS = 81
N_ACTIONS = N_CELLS * 9
MIN_GIVENS, MAX_GIVENS = 17, 80
"""Valid range of ``n_givens``: 17 is the fewest givens any unique 9x9 puzzle has; 81 would be solved."""

_ALL_DIGITS = 0b1111111110  # bit d set <=> digit d (1..9) still possible
_ROW = tuple(i // 9 for i in range(N_CELLS))
_COL = tuple(i % 9 for i in range(N_CELLS))
_BOX = tuple((i // 27) * 3 + (i % 9) // 3 for i in range(N_CELLS))
_POPCOUNT = tuple(bin(m).count("1") for m in range(1 << 10))


class _Grid:
    """A Sudoku grid as a flat list of 81 digits (0 = blank) plus row/column/box digit bitmasks."""

    def __init__(self, cells: np.ndarray):
        self.cells = [int(v) for v in np.asarray(cells).reshape(N_CELLS)]
        self.rows, self.cols, self.boxes = [0] * 9, [0] * 9, [0] * 9
        self.consistent = True
        for i, digit in enumerate(self.cells):
            if digit:
                self.consistent &= not self._used(i) & (1 << digit)
                self.set(i, digit)

    def _used(self, i: int) -> int:
        return self.rows[_ROW[i]] | self.cols[_COL[i]] | self.boxes[_BOX[i]]

    def candidates(self, i: int) -> int:
        """Bitmask of the digits that fit cell ``i`` without clashing with its row, column or box."""
        return _ALL_DIGITS & ~self._used(i)

    def set(self, i: int, digit: int) -> None:
        """Write ``digit`` into cell ``i``."""
        bit = 1 << digit
        self.cells[i] = digit
        self.rows[_ROW[i]] |= bit
        self.cols[_COL[i]] |= bit
        self.boxes[_BOX[i]] |= bit

    def clear(self, i: int) -> None:
        """Blank cell ``i``."""
        bit = ~(1 << self.cells[i])
        self.cells[i] = 0
        self.rows[_ROW[i]] &= bit
        self.cols[_COL[i]] &= bit
        self.boxes[_BOX[i]] &= bit

    def most_constrained_blank(self) -> tuple[int, int]:
        """``(cell, candidates)`` of the blank cell with fewest candidates; ``(-1, 0)`` if none is blank."""
        best, best_cands, best_n = -1, 0, 10
        for i in range(N_CELLS):
            if self.cells[i] == 0:
                cands = self.candidates(i)
                n = _POPCOUNT[cands]
                if n < best_n:
                    best, best_cands, best_n = i, cands, n
                    if n <= 1:
                        break
        return best, best_cands

    def array(self) -> np.ndarray:
        """The grid as a ``(9, 9)`` ``int8`` array."""
        return np.array(self.cells, dtype=np.int8).reshape(9, 9)


def _search(grid: _Grid, limit: int, rng: np.random.Generator | None) -> int:
    """Depth-first search over ``grid``; count solutions up to ``limit``.

    When the count reaches ``limit`` the grid is left holding the last solution found, which lets the
    generator use ``limit=1`` to fill a grid. ``rng`` shuffles the digit order (``None`` = ascending).
    """
    cell, cands = grid.most_constrained_blank()
    if cell < 0:
        return 1
    digits = [d for d in range(1, 10) if cands >> d & 1]
    if rng is not None:
        digits = [digits[j] for j in rng.permutation(len(digits))]
    found = 0
    for digit in digits:
        grid.set(cell, digit)
        found += _search(grid, limit - found, rng)
        if found >= limit:
            return found
        grid.clear(cell)
    return found


def count_solutions(board: np.ndarray, limit: int = 2) -> int:
    """Number of solutions of ``board`` (0 = blank), counting stops at ``limit``; 0 if givens clash."""
    grid = _Grid(board)
    return _search(grid, limit, rng=None) if grid.consistent else 0


def solve(board: np.ndarray) -> np.ndarray | None:
    """One solution of ``board`` as a ``(9, 9)`` ``int8`` array, or ``None`` if it has none."""
    grid = _Grid(board)
    if not grid.consistent or _search(grid, 1, rng=None) == 0:
        return None
    return grid.array()


def is_solution(board: np.ndarray) -> bool:
    """Whether ``board`` is a complete, valid Sudoku grid."""
    board = np.asarray(board)
    return bool(np.all(board > 0)) and _Grid(board).consistent


def random_solution(rng: np.random.Generator) -> np.ndarray:
    """A uniformly shuffled complete grid, filled by randomized backtracking."""
    grid = _Grid(np.zeros(N_CELLS, dtype=np.int8))
    _search(grid, 1, rng)
    return grid.array()


def _carve(solution: np.ndarray, n_givens: int, rng: np.random.Generator) -> np.ndarray:
    """Blank cells of ``solution`` in random order, skipping any blank that would allow a second solution.

    Stops at ``n_givens`` givens or when no further cell can go (a minimal puzzle).
    """
    puzzle = solution.reshape(N_CELLS).copy()
    n_left = N_CELLS
    for cell in rng.permutation(N_CELLS):
        if n_left == n_givens:
            break
        digit, puzzle[cell] = puzzle[cell], 0
        if count_solutions(puzzle, limit=2) == 1:
            n_left -= 1
        else:
            puzzle[cell] = digit
    return puzzle.reshape(9, 9)


def generate_puzzle(
    rng: np.random.Generator, n_givens: int, max_attempts: int = 8
) -> tuple[np.ndarray, np.ndarray]:
    """Generate ``(puzzle, solution)``, both ``(9, 9)`` ``int8``: a unique solution and ``n_givens`` givens.

    Each attempt fills a random grid and blanks cells while the solution stays unique. Random blanking
    ends in a minimal puzzle with usually 23-26 givens (21-28 seen), so targets below about 25 may need
    several attempts and targets below about 22 are rarely reached. The work is bounded by ``max_attempts``:
    if no attempt reaches the target the sparsest puzzle found is returned (it has more givens than
    asked for, still with a unique solution).
    """
    best_puzzle, best_solution = None, None
    for _ in range(max_attempts):
        solution = random_solution(rng)
        puzzle = _carve(solution, n_givens, rng)
        if best_puzzle is None or np.count_nonzero(puzzle) < np.count_nonzero(best_puzzle):
            best_puzzle, best_solution = puzzle, solution
        if np.count_nonzero(best_puzzle) == n_givens:
            break
    return best_puzzle, best_solution


_QUESTION_COLUMNS = ("q", "question", "quizzes", "puzzle")
_ANSWER_COLUMNS = ("a", "answer", "solutions", "solution")


def _column(header: list[str], names: tuple[str, ...], path: Path) -> int:
    """Index of the first header entry in ``names`` (case-insensitive); ValueError with the fix if absent."""
    lowered = [name.strip().lower() for name in header]
    for name in names:
        if name in lowered:
            return lowered.index(name)
    raise ValueError(
        f"{path}: header {header} has none of the columns {list(names)}; the file must start with a header "
        "line such as 'q,a' followed by rows of two 81-character strings (puzzle, solution)."
    )


def _parse_board(text: str, blanks: str, where: str) -> np.ndarray:
    """Turn an 81-character string into a ``(9, 9)`` ``int8`` board; characters in ``blanks`` mean 0."""
    text = text.strip()
    if len(text) != N_CELLS:
        raise ValueError(f"{where}: expected 81 characters, got {len(text)}.")
    allowed = set("123456789") | set(blanks)
    if set(text) - allowed:
        bad = sorted(set(text) - allowed)
        raise ValueError(f"{where}: characters {bad} not allowed; use 1-9 and {blanks!r}.")
    digits = [0 if ch in blanks else int(ch) for ch in text]
    return np.array(digits, dtype=np.int8).reshape(9, 9)


def _check_pair(puzzle: np.ndarray, solution: np.ndarray, where: str) -> None:
    """ValueError unless ``solution`` is a valid grid that agrees with every given of ``puzzle``."""
    if not is_solution(solution):
        raise ValueError(f"{where}: the answer is not a valid completed Sudoku grid.")
    if np.any((puzzle != 0) & (puzzle != solution)):
        raise ValueError(f"{where}: the answer contradicts a given digit of the question.")
    if np.all(puzzle != 0):
        raise ValueError(f"{where}: the question has no blank cell, so there is nothing to solve.")


def load_puzzles_csv(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Load ``(puzzles, solutions)``, each ``(n, 9, 9)`` ``int8``, from a Sudoku-Extreme style CSV.

    The file starts with a header line; the question column is named ``q`` (or ``question``, ``quizzes``,
    ``puzzle``) and the answer column ``a`` (or ``answer``, ``solutions``, ``solution``); other columns are
    ignored. Questions use ``.`` or ``0`` for blanks. Every row is validated; a bad one raises ValueError
    with its line number.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"csv_path={str(path)!r} is not a file; pass the path of a 'q,a' puzzle CSV.")
    with path.open(newline="") as handle:
        rows = list(csv.reader(handle))
    if not rows:
        raise ValueError(f"{path}: empty file; expected a header line 'q,a' and at least one puzzle row.")
    q_col, a_col = _column(rows[0], _QUESTION_COLUMNS, path), _column(rows[0], _ANSWER_COLUMNS, path)
    puzzles, solutions = [], []
    for line_no, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        where = f"{path}:{line_no}"
        if len(row) <= max(q_col, a_col):
            raise ValueError(f"{where}: expected {len(rows[0])} comma-separated fields, got {len(row)}.")
        puzzle = _parse_board(row[q_col], ".0", f"{where} (question)")
        solution = _parse_board(row[a_col], "", f"{where} (answer)")
        _check_pair(puzzle, solution, where)
        puzzles.append(puzzle)
        solutions.append(solution)
    if not puzzles:
        raise ValueError(f"{path}: no puzzle rows after the header.")
    return np.stack(puzzles), np.stack(solutions)


def board_to_string(board: np.ndarray, blank: str = ".") -> str:
    """The 81-character row-major string of ``board``, ``blank`` for empty cells (the CSV format)."""
    return "".join(str(int(v)) if v else blank for v in np.asarray(board).reshape(N_CELLS))


class SudokuEnv(gym.Env):
    """Fill a 9x9 Sudoku one digit at a time.

    ## Description
    A reasoning benchmark with a masked discrete action space. Each episode starts from a puzzle with a
    unique solution, either generated on the fly from the env's seeded generator (fill a random grid by
    randomized backtracking, then blank cells in random order while the solution stays unique, stopping
    at ``n_givens`` givens) or drawn from a user CSV (``csv_path``). The agent places digits; a correct
    digit is written into the board, a wrong one is refused and counted as an error.

    ## Action Space
    ``Discrete(729)``: action ``a`` writes digit ``a % 9 + 1`` into cell ``a // 9`` (row-major, cell =
    ``9 * row + col``), i.e. ``a = cell * 9 + (digit - 1)``.

    ## Observation Space
    ``Dict`` with

    | key             | space                           | meaning                                          |
    |-----------------|---------------------------------|--------------------------------------------------|
    | ``board``       | ``Box(0, 9, (9, 9), int8)``     | current digits, 0 = blank                        |
    | ``action_mask`` | ``Box(0, 1, (729,), int8)``     | 1 = action allowed by ``mask_mode``              |

    ``mask_mode="consistent"`` (default) allows, in blank cells, the digits that clash with no digit in
    the same row, column or box; ``"empty"`` allows every digit in blank cells. The solution digit of
    every blank cell is always allowed, so the mask is all zeros only once the board is solved.

    ## Rewards
    ``correct_reward`` (default +1) when the digit equals the solution's, ``wrong_reward`` (default -1)
    otherwise, including a digit aimed at a filled cell; ``solve_reward`` (default 0) is added on the
    step that completes the board. The terms are reported in ``info`` as ``reward_correct``,
    ``reward_wrong`` and ``reward_solve``.

    ## Starting State
    A new puzzle each reset: generated (``n_givens`` givens, default 30) or drawn uniformly from the CSV.

    ## Episode End
    Terminates when the board is solved (``info["is_success"]``) or when the number of wrong actions
    reaches ``max_errors``. Truncates after ``max_steps`` steps (default 162 = 2 x 81), so every episode
    ends even with ``max_errors=None``.

    ## Info
    ``is_success``, ``n_filled`` (non-blank cells, givens included), ``n_errors``, ``n_givens``.

    ## Arguments
    - ``n_givens``: givens of a generated puzzle, 17..80 (default 30). Random blanking usually stops at
      a minimal puzzle of 23-26 givens; below that, generation retries up to ``max_generation_attempts``
      times (each about 0.05 s) and then keeps the sparsest unique puzzle found, so ``info["n_givens"]``
      can exceed the request. Cannot be combined with ``csv_path``.
    - ``csv_path``: CSV with a header (``q,a``) and rows of question/answer strings, ``.`` or ``0`` = blank.
    - ``mask_mode``: ``"consistent"`` or ``"empty"``.
    - ``correct_reward``, ``wrong_reward``, ``solve_reward``: reward weights.
    - ``max_errors``: wrong actions that end the episode (default 5); ``None`` = no limit.
    - ``max_steps``: step limit (default 162).
    - ``max_generation_attempts``: bound on the generator's retries (default 8).
    - ``render_mode``: ``"ansi"`` (text board) or ``"rgb_array"`` (``uint8`` image, built-in bitmap font).

    ## Version History
    - v0: initial version.
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["ansi", "rgb_array"], "render_fps": 4}

    def __init__(
        self,
        n_givens: int | None = None,
        csv_path: str | Path | None = None,
        mask_mode: str = "consistent",
        correct_reward: float = 1.0,
        wrong_reward: float = -1.0,
        solve_reward: float = 0.0,
        max_errors: int | None = 5,
        max_steps: int = 2 * N_CELLS,
        max_generation_attempts: int = 8,
        render_mode: str | None = None,
    ):
        _validate_args(n_givens, csv_path, mask_mode, max_errors, max_steps, max_generation_attempts)
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            modes = self.metadata["render_modes"]
            raise ValueError(f"render_mode={render_mode!r}; use one of {modes} or None.")
        self.n_givens = 30 if n_givens is None else int(n_givens)
        self.csv_path = csv_path
        self.mask_mode = mask_mode
        self.correct_reward, self.wrong_reward, self.solve_reward = correct_reward, wrong_reward, solve_reward
        self.max_errors, self.max_steps = max_errors, max_steps
        self.max_generation_attempts = max_generation_attempts
        self.render_mode = render_mode
        self._csv = load_puzzles_csv(csv_path) if csv_path is not None else None

        self.action_space = spaces.Discrete(N_ACTIONS)
        self.observation_space = spaces.Dict(
            {
                "board": spaces.Box(0, 9, shape=(9, 9), dtype=np.int8),
                "action_mask": spaces.Box(0, 1, shape=(N_ACTIONS,), dtype=np.int8),
            }
        )
        self.board = np.zeros((9, 9), dtype=np.int8)
        self.givens = np.zeros((9, 9), dtype=np.int8)
        self.solution = np.zeros((9, 9), dtype=np.int8)
        self.n_errors, self.n_steps, self.last_error_cell = 0, 0, -1

    def _new_puzzle(self) -> tuple[np.ndarray, np.ndarray]:
        if self._csv is not None:
            index = int(self.np_random.integers(len(self._csv[0])))
            return self._csv[0][index].copy(), self._csv[1][index].copy()
        return generate_puzzle(self.np_random, self.n_givens, self.max_generation_attempts)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """Start a new puzzle; returns ``(observation, info)``."""
        super().reset(seed=seed)
        self.givens, self.solution = self._new_puzzle()
        self.board = self.givens.copy()
        self.n_errors, self.n_steps, self.last_error_cell = 0, 0, -1
        return self._get_obs(), self._get_info()

    def step(self, action: int):
        """Try to write digit ``action % 9 + 1`` into cell ``action // 9``."""
        cell, digit = divmod(int(action), 9)
        row, col = divmod(cell, 9)
        digit += 1
        correct = bool(self.board[row, col] == 0 and self.solution[row, col] == digit)
        if correct:
            self.board[row, col] = digit
            self.last_error_cell = -1
        else:
            self.n_errors += 1
            self.last_error_cell = cell
        self.n_steps += 1
        solved = bool(np.all(self.board != 0))
        reward, reward_info = self._get_rew(correct, solved)
        out_of_errors = self.max_errors is not None and self.n_errors >= self.max_errors
        terminated = solved or out_of_errors
        truncated = not terminated and self.n_steps >= self.max_steps
        return self._get_obs(), reward, terminated, truncated, {**self._get_info(), **reward_info}

    def _get_rew(self, correct: bool, solved: bool) -> tuple[float, dict[str, float]]:
        reward_info = {
            "reward_correct": self.correct_reward if correct else 0.0,
            "reward_wrong": 0.0 if correct else self.wrong_reward,
            "reward_solve": self.solve_reward if solved else 0.0,
        }
        return float(sum(reward_info.values())), reward_info

    def _get_obs(self) -> dict[str, np.ndarray]:
        return {"board": self.board.copy(), "action_mask": self.action_mask()}

    def _get_info(self) -> dict[str, Any]:
        return {
            "is_success": bool(np.all(self.board != 0)),
            "n_filled": int(np.count_nonzero(self.board)),
            "n_errors": self.n_errors,
            "n_givens": int(np.count_nonzero(self.givens)),
        }

    def action_mask(self) -> np.ndarray:
        """The ``(729,)`` ``int8`` mask of allowed actions under ``mask_mode``."""
        blank = (self.board.reshape(N_CELLS) == 0).astype(np.int8)
        mask = np.repeat(blank[:, None], 9, axis=1)  # (81,) -> (81, 9): cell x digit
        if self.mask_mode == "consistent":
            grid = _Grid(self.board)
            for cell in np.flatnonzero(blank):
                cands = grid.candidates(int(cell))
                mask[cell] = [cands >> d & 1 for d in range(1, 10)]
        return mask.reshape(N_ACTIONS)

    def render(self) -> str | np.ndarray | None:
        """Text board (``"ansi"``) or ``uint8`` image (``"rgb_array"``); ``None`` without a render mode."""
        if self.render_mode == "ansi":
            return render_ansi(self.board)
        if self.render_mode == "rgb_array":
            return render_rgb(self.board, self.givens, self.last_error_cell)
        return None


def _validate_args(
    n_givens: int | None,
    csv_path: str | Path | None,
    mask_mode: str,
    max_errors: int | None,
    max_steps: int,
    max_generation_attempts: int,
) -> None:
    """Raise ValueError, with the fix, for settings SudokuEnv cannot run with."""
    if n_givens is not None and csv_path is not None:
        raise ValueError("Pass n_givens (generated puzzles) or csv_path (puzzles from a file), not both.")
    if n_givens is not None and not MIN_GIVENS <= n_givens <= MAX_GIVENS:
        raise ValueError(f"n_givens={n_givens}; use an integer in [{MIN_GIVENS}, {MAX_GIVENS}] (e.g. 30).")
    if mask_mode not in ("consistent", "empty"):
        raise ValueError(f"mask_mode={mask_mode!r}; use 'consistent' or 'empty'.")
    if max_errors is not None and max_errors < 1:
        raise ValueError(f"max_errors={max_errors}; use a positive integer, or None for no limit.")
    if max_steps < 1:
        raise ValueError(f"max_steps={max_steps}; use a positive integer (default 162).")
    if max_generation_attempts < 1:
        raise ValueError(f"max_generation_attempts={max_generation_attempts}; use a positive integer.")


def render_ansi(board: np.ndarray) -> str:
    """``board`` as text: 9 lines of digits (``.`` = blank) with box separators."""
    lines = []
    for row in range(9):
        if row in (3, 6):
            lines.append("------+-------+------")
        chunks = [" ".join(str(v) if v else "." for v in board[row, c : c + 3]) for c in (0, 3, 6)]
        lines.append(" | ".join(chunks))
    return "\n".join(lines) + "\n"


_CELL_PX, _MARGIN_PX, _DIGIT_SCALE = 24, 4, 3


def render_rgb(board: np.ndarray, givens: np.ndarray, error_cell: int = -1) -> np.ndarray:
    """``board`` as a ``(224, 224, 3)`` ``uint8`` image: givens black, placed digits blue, last error red."""
    size = 2 * _MARGIN_PX + 9 * _CELL_PX
    image = rendering.canvas(size, size)
    if error_cell >= 0:
        top, left = (_MARGIN_PX + _CELL_PX * v for v in divmod(error_cell, 9))
        rendering.fill_rect(image, top, left, top + _CELL_PX, left + _CELL_PX, rendering.PINK)
    for k in range(10):
        pos = _MARGIN_PX + k * _CELL_PX
        width, color = (3, rendering.BLACK) if k % 3 == 0 else (1, rendering.GREY)
        start, end = pos - width // 2, pos - width // 2 + width
        rendering.fill_rect(image, start, _MARGIN_PX - 1, end, size - _MARGIN_PX + 1, color)  # horizontal
        rendering.fill_rect(image, _MARGIN_PX - 1, start, size - _MARGIN_PX + 1, end, color)  # vertical
    glyph_h, glyph_w = rendering.FONT_HEIGHT * _DIGIT_SCALE, rendering.FONT_WIDTH * _DIGIT_SCALE
    for row, col in zip(*np.nonzero(board), strict=True):
        color = rendering.BLACK if givens[row, col] else rendering.BLUE
        top = _MARGIN_PX + row * _CELL_PX + (_CELL_PX - glyph_h) // 2
        left = _MARGIN_PX + col * _CELL_PX + (_CELL_PX - glyph_w) // 2
        rendering.draw_digit(image, int(board[row, col]), top, left, _DIGIT_SCALE, color)
    return image
