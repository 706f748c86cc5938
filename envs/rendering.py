"""Small numpy drawing helpers shared by the envs' ``rgb_array`` renderers.

Everything draws in place into a ``(H, W, 3)`` ``uint8`` image and needs no font files, no window and no
GL context: digits come from a built-in 3x5 bitmap font. Coordinates are ``(row, col)`` pixels.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

Color = tuple[int, int, int]

WHITE: Color = (255, 255, 255)
BLACK: Color = (0, 0, 0)
GREY: Color = (150, 150, 150)
LIGHT_GREY: Color = (215, 215, 215)
BLUE: Color = (40, 90, 220)
LIGHT_BLUE: Color = (170, 200, 250)
GREEN: Color = (40, 170, 70)
RED: Color = (220, 50, 50)
PINK: Color = (250, 200, 200)

# 3 columns x 5 rows per digit, one string per row, "#" = ink.
_FONT_3X5: dict[int, tuple[str, ...]] = {
    0: ("###", "#.#", "#.#", "#.#", "###"),
    1: (".#.", "##.", ".#.", ".#.", "###"),
    2: ("###", "..#", "###", "#..", "###"),
    3: ("###", "..#", "###", "..#", "###"),
    4: ("#.#", "#.#", "###", "..#", "..#"),
    5: ("###", "#..", "###", "..#", "###"),
    6: ("###", "#..", "###", "#.#", "###"),
    7: ("###", "..#", ".#.", ".#.", ".#."),
    8: ("###", "#.#", "###", "#.#", "###"),
    9: ("###", "#.#", "###", "..#", "###"),
}
FONT_HEIGHT, FONT_WIDTH = 5, 3
"""Size of one glyph of the built-in font before scaling, in pixels."""

_GLYPHS: dict[int, np.ndarray] = {
    digit: np.array([[ch == "#" for ch in row] for row in rows], dtype=bool)
    for digit, rows in _FONT_3X5.items()
}


def canvas(height: int, width: int, color: Color = WHITE) -> np.ndarray:
    """Return a new ``(height, width, 3)`` ``uint8`` image filled with ``color``."""
    image = np.empty((height, width, 3), dtype=np.uint8)
    image[...] = color
    return image


def fill_rect(image: np.ndarray, top: int, left: int, bottom: int, right: int, color: Color) -> None:
    """Paint the half-open pixel box ``[top, bottom) x [left, right)``, clipped to the image."""
    height, width = image.shape[:2]
    top, bottom = max(top, 0), min(bottom, height)
    left, right = max(left, 0), min(right, width)
    if top < bottom and left < right:
        image[top:bottom, left:right] = color


def draw_digit(image: np.ndarray, digit: int, top: int, left: int, scale: int, color: Color) -> None:
    """Draw one decimal ``digit`` with its top-left corner at ``(top, left)``, each font pixel ``scale`` wide.

    The glyph covers ``(5 * scale, 3 * scale)`` pixels.
    """
    glyph = np.kron(_GLYPHS[int(digit)], np.ones((scale, scale), dtype=bool))
    height, width = image.shape[:2]
    rows = slice(max(top, 0), min(top + glyph.shape[0], height))
    cols = slice(max(left, 0), min(left + glyph.shape[1], width))
    clipped = glyph[rows.start - top : rows.stop - top, cols.start - left : cols.stop - left]
    image[rows, cols][clipped] = color


def draw_disc(image: np.ndarray, center: Sequence[float], radius: float, color: Color) -> None:
    """Fill the disc of ``radius`` pixels around ``center = (row, col)``."""
    height, width = image.shape[:2]
    row, col = center
    top, bottom = max(int(row - radius), 0), min(int(row + radius) + 1, height)
    left, right = max(int(col - radius), 0), min(int(col + radius) + 1, width)
    if top >= bottom or left >= right:
        return
    rr, cc = np.ogrid[top:bottom, left:right]
    inside = (rr - row) ** 2 + (cc - col) ** 2 <= radius**2
    image[top:bottom, left:right][inside] = color


def draw_line(
    image: np.ndarray, start: Sequence[float], end: Sequence[float], color: Color, thickness: int = 1
) -> None:
    """Draw a segment from ``start`` to ``end`` (``(row, col)`` pixels), ``thickness`` pixels wide."""
    (r0, c0), (r1, c1) = start, end
    n_points = int(max(abs(r1 - r0), abs(c1 - c0))) + 1
    rows = np.rint(np.linspace(r0, r1, n_points)).astype(int)
    cols = np.rint(np.linspace(c0, c1, n_points)).astype(int)
    height, width = image.shape[:2]
    half = thickness // 2
    for dr in range(-half, thickness - half):
        for dc in range(-half, thickness - half):
            r, c = rows + dr, cols + dc
            keep = (r >= 0) & (r < height) & (c >= 0) & (c < width)
            image[r[keep], c[keep]] = color
