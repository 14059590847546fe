"""5G NR LDPC base graphs and lifting sizes (TS 38.212 5.3.2).

Base graph 1 (Table 5.3.2-2) has 46 rows and 68 columns, 22 systematic columns; base graph
2 (Table 5.3.2-3) has 42 rows and 52 columns, 10 systematic columns. Each non-zero entry
(i, j) carries a shift V_ij per lifting-size set index i_LS (Table 5.3.2-1); the lifted
parity-check matrix replaces it by the Z x Z identity cyclically shifted right by
P_ij = V_ij mod Z (zero entries by the all-zero matrix).

The shift values are spec data, stored as ``ltjax/fec/data/bg1.csv`` and ``bg2.csv`` (their
header says how they were produced and checked) and read with numpy at first use: importing
this module does no work.

Letters: M base-graph rows (46 / 42), Nb base-graph columns (68 / 52), Kb systematic
columns (22 / 10), Z lifting size, D base-graph entries (316 / 197).
"""

from __future__ import annotations

import dataclasses
import functools
from importlib import resources

import numpy as np

# TS 38.212 Table 5.3.2-1: sets of LDPC lifting sizes Z, indexed by i_LS.
LIFTING_SETS: tuple[tuple[int, ...], ...] = (
    (2, 4, 8, 16, 32, 64, 128, 256),
    (3, 6, 12, 24, 48, 96, 192, 384),
    (5, 10, 20, 40, 80, 160, 320),
    (7, 14, 28, 56, 112, 224),
    (9, 18, 36, 72, 144, 288),
    (11, 22, 44, 88, 176, 352),
    (13, 26, 52, 104, 208),
    (15, 30, 60, 120, 240),
)
LIFTING_SIZES: tuple[int, ...] = tuple(sorted(z for s in LIFTING_SETS for z in s))  # 51 sizes

# (rows M, columns Nb, systematic columns Kb) per base graph.
BG_DIMS = {1: (46, 68, 22), 2: (42, 52, 10)}


def set_index(z: int) -> int:
    """i_LS of lifting size Z (Table 5.3.2-1). ValueError for a Z not in the table."""
    for i, s in enumerate(LIFTING_SETS):
        if z in s:
            return i
    raise ValueError(f"lifting size Z must be one of TS 38.212 Table 5.3.2-1, got {z!r}")


class BaseGraphDims:
    """The base-graph dimensions of ``self.bg`` (Table 5.3.2-2 / -3), shared by the graph and the code."""

    bg: int

    @property
    def n_rows(self) -> int:
        """M, base-graph rows (46 / 42)."""
        return BG_DIMS[self.bg][0]

    @property
    def n_cols(self) -> int:
        """Nb, base-graph columns (68 / 52)."""
        return BG_DIMS[self.bg][1]

    @property
    def n_sys(self) -> int:
        """Kb, systematic base-graph columns (22 / 10)."""
        return BG_DIMS[self.bg][2]


@dataclasses.dataclass(frozen=True)
class BaseGraph(BaseGraphDims):
    """One base graph with the shifts of one set index, as an edge list (numpy).

    Attributes:
      bg: base graph, 1 or 2.
      i_ls: set index 0..7.
      rows: int32 [D] base-graph row i of each entry (sorted by row, then column).
      cols: int32 [D] base-graph column j.
      shifts: int32 [D] V_ij for this set (not yet reduced mod Z).
    """

    bg: int
    i_ls: int
    rows: np.ndarray
    cols: np.ndarray
    shifts: np.ndarray


    def dense(self) -> np.ndarray:
        """int32 [M, Nb] matrix of V_ij, -1 where the base graph has no entry."""
        out = np.full((self.n_rows, self.n_cols), -1, np.int32)
        out[self.rows, self.cols] = self.shifts
        return out


@functools.lru_cache(maxsize=2)
def _table(bg: int) -> np.ndarray:
    """int32 [D, 10] rows of the data file: row, column, V for i_LS = 0..7."""
    if bg not in BG_DIMS:
        raise ValueError(f"base graph must be 1 or 2, got {bg!r}")
    text = resources.files("ltjax.fec").joinpath("data").joinpath(f"bg{bg}.csv").read_text()
    tab = np.array([[int(x) for x in ln.split(",")] for ln in _data_lines(text)], np.int32)
    order = np.lexsort((tab[:, 1], tab[:, 0]))
    return tab[order]


def _data_lines(text: str) -> list[str]:
    """Non-comment lines of a data file after its column-name line."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
    if not lines or not lines[0].startswith("row,"):
        raise ValueError("base-graph data file has no 'row,col,v0..v7' header line")
    return lines[1:]


@functools.lru_cache(maxsize=16)
def base_graph(bg: int, i_ls: int) -> BaseGraph:
    """Base graph ``bg`` (1 or 2) with the shift values of set index ``i_ls`` (0..7)."""
    if not 0 <= int(i_ls) < len(LIFTING_SETS):
        raise ValueError(f"set index i_LS must be in 0..7, got {i_ls!r}")
    tab = _table(int(bg))
    return BaseGraph(bg=int(bg), i_ls=int(i_ls), rows=tab[:, 0].copy(), cols=tab[:, 1].copy(),
                     shifts=tab[:, 2 + int(i_ls)].copy())
