"""5G NR LDPC code: lifted parity-check graph and encoder (TS 38.212 5.3.2).

The lifted parity-check matrix H [M Z, Nb Z] replaces base-graph entry (i, j) with shift
P_ij = V_ij mod Z by the Z x Z identity cyclically shifted right by P_ij, so check row
i Z + z connects to variable j Z + ((z + P_ij) mod Z). The graph is held as a sparse edge
list built with numpy from the base graph and Z (``LiftedGraph``): per base-graph entry,
Z gather indices into the code word. Nothing is densified, so the compiled programs stay
small for Z = 384.

Encoding (5.3.2): with c the K = Kb Z information bits (filler bits set to 0) the parity
bits w [M Z] solve H [c; w] = 0. H has the dual-diagonal structure of NR LDPC: the 4
"core" parity columns Kb..Kb+3 appear only in rows 0..3, where the first has three
entries (two of them with the same shift, so their sum over rows 0..3 is one circulant
P^b) and the other three form a double diagonal with shift 0; every row i >= 4 has exactly
one further parity column, Kb + i, with shift 0. So

  lambda_i = sum_{j < Kb} P^{P_ij} c_j                      (info part of row i)
  p_Kb     = P^{-b} (lambda_0 + ... + lambda_3)             (rows 0..3 summed)
  p_Kb+1..3: solved row by row, one unknown per row
  p_Kb+i   = lambda_i + sum_{core j} P^{P_ij} p_j,  i >= 4.

The structure is checked (not assumed) when the graph is built, for every base graph, set
and Z. The output d [N] drops the first 2 Z systematic bits (punctured, 5.3.2 and 5.4.2.1).

Letters: M base-graph rows, Nb base-graph columns, Kb systematic columns (22 / 10),
Z lifting size, D base-graph entries, K = Kb Z information bits (incl. filler),
Nf = Nb Z full code-word bits, N = Nf - 2 Z transmitted bits (d_0..d_{N-1}).
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np

from ltjax.fec.basegraph import BG_DIMS, BaseGraphDims, base_graph, set_index

N_CORE = 4  # core parity columns Kb..Kb+3


@dataclasses.dataclass(frozen=True)
class LdpcCode(BaseGraphDims):
    """A lifted NR LDPC code: static (hashable), so usable as a jit static argument.

    Attributes:
      bg: base graph, 1 or 2.
      z: lifting size Z (any of TS 38.212 Table 5.3.2-1; its set gives the shifts).
    """

    bg: int
    z: int

    def __post_init__(self):
        if self.bg not in BG_DIMS:
            raise ValueError(f"LdpcCode.bg must be 1 or 2, got {self.bg!r}")
        set_index(self.z)  # raises for a Z outside Table 5.3.2-1

    @property
    def k(self) -> int:
        """K = Kb Z information bits per code word (including filler bits)."""
        return self.n_sys * self.z

    @property
    def n_full(self) -> int:
        """Nf = Nb Z bits of the full code word (before puncturing)."""
        return self.n_cols * self.z

    @property
    def n(self) -> int:
        """N = Nf - 2 Z encoded bits d_0..d_{N-1} (66 Z / 50 Z)."""
        return self.n_full - 2 * self.z

    @property
    def n_checks(self) -> int:
        """M Z parity checks."""
        return self.n_rows * self.z

    def graph(self) -> "LiftedGraph":
        """The lifted edge representation (numpy, built once per (bg, Z))."""
        return lifted_graph(self.bg, self.z)

    def decoding_graph(self, n_rows: int | None = None) -> "DecodingGraph":
        """The checks of base rows 0..n_rows-1 (None: all), see ``DecodingGraph``."""
        return decoding_graph(self.bg, self.z, n_rows)


@dataclasses.dataclass(frozen=True)
class LiftedGraph:
    """Sparse lifted parity-check graph of one code (numpy arrays, built by ``lifted_graph``).

    Attributes:
      rows: int32 [D] base-graph row of each entry (sorted by row).
      cols: int32 [D] base-graph column.
      shifts: int32 [D] P_ij = V_ij mod Z.
      var_idx: int32 [D, Z] code-word position j Z + (z + P_ij) mod Z of the edge from
        check i Z + z.
      layers: for layered decoding, the base rows split into runs of consecutive rows, each
        ``(idx int32 [Mc, Dc, Z], mask bool [Mc, Dc])``: ``var_idx`` grouped by row and
        padded with Nf (a slot past the code word) to the run's largest degree Dc. Runs keep
        the padding small (BG1: 352 slots for 316 entries instead of 46 x 19 = 874).
      info_edges: int32 [Di] entries with column < Kb.
      core_b: net shift b of the first core parity column summed over rows 0..3.
      core_steps: ((row, column, shift, ((known column, shift), ...)), ...) solving core
        parity columns Kb+1..Kb+3 one row at a time.
      ext_edges: int32 [De] entries in rows >= 4 with a core parity column.
    """

    rows: np.ndarray
    cols: np.ndarray
    shifts: np.ndarray
    var_idx: np.ndarray
    layers: tuple
    info_edges: np.ndarray
    core_b: int
    core_steps: tuple
    ext_edges: np.ndarray


@functools.lru_cache(maxsize=64)
def lifted_graph(bg: int, z: int) -> LiftedGraph:
    """Builds the ``LiftedGraph`` of base graph ``bg`` at lifting size ``z`` (cached)."""
    g = base_graph(bg, set_index(z))
    m, nb, kb = BG_DIMS[bg]
    rows, cols = g.rows.astype(np.int32), g.cols.astype(np.int32)
    shifts = (g.shifts % z).astype(np.int32)
    zz = np.arange(z, dtype=np.int32)
    var_idx = (cols[:, None] * z + (zz[None, :] + shifts[:, None]) % z).astype(np.int32)

    layers = _layers(rows, var_idx, m, nb * z)
    core_b, core_steps = _core_structure(rows, cols, shifts, kb, z)
    # Rows >= 4: exactly one extension parity column Kb + i with shift 0 (checked here).
    for i in range(N_CORE, m):
        par = cols[(rows == i) & (cols >= kb + N_CORE)]
        sh = shifts[(rows == i) & (cols >= kb + N_CORE)]
        if par.tolist() != [kb + i] or sh.tolist() != [0]:
            raise ValueError(f"BG{bg} row {i}: expected one extension parity column {kb + i}")
    if np.any((rows < N_CORE) & (cols >= kb + N_CORE)):
        raise ValueError(f"BG{bg}: extension parity column in a core row")
    info_edges = np.nonzero(cols < kb)[0].astype(np.int32)
    ext_edges = np.nonzero((rows >= N_CORE) & (cols >= kb) & (cols < kb + N_CORE))[0].astype(np.int32)
    return LiftedGraph(rows=rows, cols=cols, shifts=shifts, var_idx=var_idx,
                       layers=tuple(layers), info_edges=info_edges,
                       core_b=core_b, core_steps=core_steps, ext_edges=ext_edges)


def _layers(rows: np.ndarray, var_idx: np.ndarray, m: int, pad: int) -> tuple:
    """Rows 0..m-1 grouped into runs for layered decoding (see ``LiftedGraph.layers``)."""
    deg = np.bincount(rows, minlength=m)[:m]
    layers = []
    for start, stop in _layer_runs(deg):
        idx = np.full((stop - start, int(deg[start:stop].max()), var_idx.shape[1]), pad, np.int32)
        mask = np.zeros(idx.shape[:2], bool)
        for i in range(start, stop):
            e = np.nonzero(rows == i)[0]
            idx[i - start, :e.size] = var_idx[e]
            mask[i - start, :e.size] = True
        layers.append((idx, mask))
    return tuple(layers)


@dataclasses.dataclass(frozen=True)
class DecodingGraph:
    """The checks a decoder runs: base rows 0..n_rows-1 of the lifted graph (numpy).

    Rows i >= 4 of an NR base graph each own one extension parity bit, column Kb + i, that
    no other row has. When rate matching never sent that bit its LLR is 0 for good, so the
    row's messages to every other bit are 0 (min-sum: exactly; sum-product: phi of the
    clipped magnitude, below 1e-6) and the row can be dropped: the decoder runs the
    remaining rows only (TS 38.212 rate matching reads the buffer from k0, so at rv 0 the
    unsent extension bits are a suffix). A hard decision that satisfies the kept rows is a
    code word once those private parity bits are filled in, so the zero-syndrome stop is
    the same test.

    Attributes:
      n_rows: base rows kept (4..M).
      rows: int32 [D'] base row of each kept entry.
      var_idx: int32 [D', Z] code-word position of each edge (as ``LiftedGraph.var_idx``).
      layers: the kept rows as runs for layered decoding (as ``LiftedGraph.layers``).
    """

    n_rows: int
    rows: np.ndarray
    var_idx: np.ndarray
    layers: tuple


@functools.lru_cache(maxsize=256)
def decoding_graph(bg: int, z: int, n_rows: int | None = None) -> DecodingGraph:
    """``DecodingGraph`` of base rows 0..n_rows-1 (None: all M rows) at lifting size ``z``."""
    g = lifted_graph(bg, z)
    m, nb, _ = BG_DIMS[bg]
    n = m if n_rows is None else int(n_rows)
    if not N_CORE <= n <= m:
        raise ValueError(f"decoder rows must be in [{N_CORE}, {m}] for BG{bg}, got {n_rows!r}")
    if n == m:
        return DecodingGraph(n_rows=m, rows=g.rows, var_idx=g.var_idx, layers=g.layers)
    keep = g.rows < n
    return DecodingGraph(n_rows=n, rows=g.rows[keep], var_idx=g.var_idx[keep],
                         layers=_layers(g.rows[keep], g.var_idx[keep], n, nb * z))


def rows_for_sent_bits(bg: int, z: int, sent) -> int:
    """Base rows a decoder needs when only the positions ``sent`` of d [N] were transmitted.

    Row i >= 4 is needed while its extension parity column Kb + i, i.e. d positions
    [(Kb + i - 2) Z, (Kb + i - 1) Z), holds a sent bit; rows past the last such column
    are dropped (the core rows 0..3 always stay).
    """
    m, _, kb = BG_DIMS[bg]
    sent = np.asarray(sent)
    if sent.size == 0:
        return m
    last_col = int(sent.max()) // z + 2  # d_p is code-word bit p + 2 Z
    return int(min(max(last_col - kb + 1, N_CORE), m))


def _layer_runs(deg: np.ndarray, run_cost: int = 16) -> list[tuple[int, int]]:
    """Splits rows 0..M-1 into runs of consecutive rows minimising padded slots.

    Cost of a run: rows * max degree + ``run_cost`` (a per-run overhead in slot units, so a
    handful of runs come out rather than one per degree change). Dynamic programming, O(M^2).
    """
    m = deg.size
    best = [0] + [0] * m
    cut = [0] * (m + 1)
    for j in range(1, m + 1):
        best[j], cut[j] = min((best[i] + (j - i) * int(deg[i:j].max()) + run_cost, i)
                              for i in range(j))
    runs, j = [], m
    while j > 0:
        runs.append((cut[j], j))
        j = cut[j]
    return runs[::-1]


def _core_structure(rows, cols, shifts, kb, z):
    """Net shift of the first core column and an order that solves the other three.

    Raises ValueError when the 4 x 4 core block is not solvable this way.
    """
    core = {}  # (row, col) -> shift, rows 0..3, core parity columns
    for r, c, s in zip(rows.tolist(), cols.tolist(), shifts.tolist()):
        if r < N_CORE and kb <= c < kb + N_CORE:
            core[(r, c)] = s
    # Sum over rows 0..3 of the first core column: a sum of circulants; it must reduce to one.
    count = {}
    for (r, c), s in core.items():
        if c == kb:
            count[s] = count.get(s, 0) + 1
    odd = [s for s, n in count.items() if n % 2]
    if len(odd) != 1:
        raise ValueError("LDPC core parity block is not of the dual-diagonal NR form")
    for c in range(kb + 1, kb + N_CORE):
        col_shifts = [s for (r, cc), s in core.items() if cc == c]
        if len(col_shifts) != 2 or col_shifts[0] != col_shifts[1]:
            raise ValueError("LDPC core parity columns Kb+1..Kb+3 must each appear twice")
    known = {kb}
    steps = []
    while len(known) < N_CORE:
        for r in range(N_CORE):
            unknown = [c for (rr, c) in core if rr == r and c not in known]
            if len(unknown) == 1:
                t = unknown[0]
                terms = tuple((c, core[(r, c)]) for (rr, c) in sorted(core) if rr == r and c != t)
                steps.append((r, t, core[(r, t)], terms))
                known.add(t)
                break
        else:
            raise ValueError("LDPC core parity block cannot be solved row by row")
    return int(odd[0]), tuple(steps)


def _circ(x, shift: int, z: int):
    """(P^shift x)[z] = x[(z + shift) mod Z] for x [..., Z] (P = identity shifted right)."""
    return jnp.roll(x, -shift, axis=-1) if shift % z else x


def _rows_xor(vals, seg_ids, n_seg: int):
    """XOR of the rows of vals [E, Z] grouped by seg_ids [E]: int32 [n_seg, Z]."""
    return jax.ops.segment_sum(vals, seg_ids, num_segments=n_seg, indices_are_sorted=True) & 1


def encode_full(code: LdpcCode, c):
    """Full code word [c; w] (TS 38.212 5.3.2) of one information block.

    Args:
      code: the LDPC code.
      c: int [K] information bits (filler bits as 0).

    Returns:
      int8 [Nf]: c followed by the M Z parity bits; H x = 0.
    """
    g = code.graph()
    z, kb, m = code.z, code.n_sys, code.n_rows
    c = jnp.asarray(c, jnp.int32)
    if c.shape[-1] != code.k:
        raise ValueError(f"encode: expected K = {code.k} bits, got {c.shape[-1]}")
    ie = g.info_edges
    lam = _rows_xor(c[g.var_idx[ie]], g.rows[ie], m)  # [M, Z]
    p = {kb: _circ(jnp.sum(lam[:N_CORE], axis=0) & 1, -g.core_b, z)}
    for r, t, s_t, terms in g.core_steps:
        acc = lam[r]
        for col, s in terms:
            acc = acc ^ _circ(p[col], s, z)
        p[t] = _circ(acc, -s_t, z)
    core = jnp.concatenate([p[kb + i] for i in range(N_CORE)])  # [4 Z]
    ee = g.ext_edges
    core_idx = g.var_idx[ee] - kb * z  # positions within the core block
    ext = lam[N_CORE:] ^ _rows_xor(core[core_idx], g.rows[ee] - N_CORE, m - N_CORE)
    return jnp.concatenate([c, core, ext.reshape(-1)]).astype(jnp.int8)


def encode(code: LdpcCode, c):
    """d_0..d_{N-1} (TS 38.212 5.3.2): the code word without its first 2 Z bits.

    Args:
      code: the LDPC code.
      c: int [K] information bits (filler bits as 0).

    Returns:
      int8 [N] encoded bits. Filler positions [K' - 2Z, K - 2Z) hold 0 (<NULL> in the spec;
      rate matching skips them).
    """
    return encode_full(code, c)[2 * code.z:]


def syndrome(code: LdpcCode, x):
    """H x mod 2 for a full code word x (int or bool [Nf]): int32 [M, Z]; all 0 on a code word."""
    g = code.graph()
    x = jnp.asarray(x, jnp.int32)
    return _rows_xor(x[g.var_idx], g.rows, code.n_rows)
