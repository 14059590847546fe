"""One-call PHY abstraction: the error rate of a transport block at a given SINR.

:func:`tb_bler` chains the pieces a link simulator needs for one PDSCH transport block
(TB) of MCS table 1:

1. TBS and code-block segmentation (TS 38.214 5.1.3.2, TS 38.212 5.2.2 / 7.2.2) for
   ``n_rb`` RBs, ``layers`` layers and ``n_dmrs`` DMRS symbols in a 13-symbol PDSCH
   (``ltjax.phy.tbs``);
2. the effective SINR of the allocation, MIESM (mutual-information) or EESM
   (exponential) compression of the per-(RB, layer) SINRs (``ltjax.phy.effective_sinr``);
3. the code-block error rate at that SINR, from the finite-length normal approximation
   with the decoder's loss (``ltjax.phy.bler.code_block_bler``);
4. the TB error rate, 1 - (1 - BLER_cb)^C over its C code blocks.

It is the same computation the link engine runs for every transmission, available as a
single function for library users::

    import jax, jax.numpy as jnp
    from ltjax.phy import tb_bler

    r = tb_bler(jnp.float32(8.0), mcs=16, n_rb=52)                 # flat SINR, one TB
    curve = jax.vmap(lambda s: tb_bler(s, mcs=16, n_rb=52).bler)(jnp.linspace(0, 15, 31))
    per_rb = tb_bler(sinr_db_per_rb, mcs=16, n_rb=52)              # sinr_db_per_rb: [52]

Letters: R allocated resource blocks (``n_rb``), V layers (``layers`` <= 2).
The function is pure, jit/vmap/grad-safe in ``sinr_db`` and ``mcs`` (``mcs`` may be
traced); ``n_rb``, ``layers``, ``n_dmrs``, ``esm`` and ``bler_model`` are static (they set
shapes and table slices). It does not call ``jax.jit``.
"""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp
import numpy as np

from ltjax.numerics import db_to_lin
from ltjax.phy.bler import BLER_MODELS, DEFAULT_BLER_MODEL, code_block_bler, transport_block_bler
from ltjax.phy.effective_sinr import eesm_beta, eesm_db, miesm_db
from ltjax.phy.tables import MCS_QM, MCS_RATE_X1024, N_MCS
from ltjax.phy.tbs import tbs_tables

ESMS = ("miesm", "eesm")
MAX_RB = 275  # the widest NR carrier (TS 38.101-1 Table 5.3.2-1)
# Tables are built for at least this many RBs, so that every allocation of a 106-RB carrier
# (the engine's default) shares one cached table.
_TABLE_RB = 106


class TbBlerResult(NamedTuple):
    """What :func:`tb_bler` returns (all for one TB; leading axes of a vmap added in front).

    Attributes:
      bler: float32 [] TB error probability of the first transmission.
      tbs: int32 [] transport block size [bits].
      sinr_eff_db: float32 [] effective SINR of the allocation [dB].
      n_cb: int32 [] number of LDPC code blocks C.
    """

    bler: jnp.ndarray
    tbs: jnp.ndarray
    sinr_eff_db: jnp.ndarray
    n_cb: jnp.ndarray


def _check_static(n_rb, layers, n_dmrs, esm, bler_model) -> None:
    """Clear one-line errors for the static arguments (they set shapes)."""
    for name, value, lo, hi in (("n_rb", n_rb, 1, MAX_RB), ("layers", layers, 1, 2), ("n_dmrs", n_dmrs, 1, 4)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise TypeError(f"tb_bler: {name} must be a Python int (it sets shapes), got {type(value).__name__}")
        if not lo <= value <= hi:
            raise ValueError(f"tb_bler: {name} = {value} out of range; allowed [{lo}, {hi}]")
    if esm not in ESMS:
        raise ValueError(f"tb_bler: esm = {esm!r}; allowed: {', '.join(ESMS)}")
    if bler_model not in BLER_MODELS:
        raise ValueError(f"tb_bler: bler_model = {bler_model!r}; allowed: {', '.join(BLER_MODELS)}")


def sinr_grid(sinr_db, n_rb: int, layers: int) -> jnp.ndarray:
    """The linear SINR on every (RB, layer) of the allocation, float32 [R, V].

    ``sinr_db`` [dB]: a scalar (the same SINR everywhere, "flat"), ``[R]`` (per RB, the
    same on every layer) or ``[R, V]`` (per RB and layer). Anything else raises a
    ValueError that names the shapes allowed.
    """
    s = jnp.asarray(sinr_db, jnp.float32)
    if s.shape == ():
        s = jnp.full((n_rb, layers), s)
    elif s.shape == (n_rb,):
        s = jnp.broadcast_to(s[:, None], (n_rb, layers))
    elif s.shape != (n_rb, layers):
        raise ValueError(f"tb_bler: sinr_db has shape {tuple(s.shape)}; allowed: () flat, ({n_rb},) per RB or "
                         f"({n_rb}, {layers}) per RB and layer for n_rb={n_rb}, layers={layers} "
                         "(batch several TBs with jax.vmap)")
    return db_to_lin(s)


def tb_bler(sinr_db, mcs, n_rb: int, layers: int = 1, n_dmrs: int = 2, esm: str = "miesm", *,
            bler_model: str = DEFAULT_BLER_MODEL) -> TbBlerResult:
    """TB error rate of one PDSCH transport block (see the module docstring).

    Args:
      sinr_db: post-equaliser SINR [dB]: float [] flat, [R] per RB or [R, V] per RB and
        layer.
      mcs: MCS index of MCS table 1 (TS 38.214 Table 5.1.3.1-1), 0..28; an int or a traced
        int32 [] (values outside are clipped to the table).
      n_rb: allocated resource blocks R (1..275). Static.
      layers: MIMO layers V (1 or 2). Static.
      n_dmrs: DMRS symbols per slot (1..4), which set the REs left for data. Static.
      esm: effective-SINR mapping, "miesm" (mutual information, the default) or "eesm"
        (exponential, with the MCS's calibration factor beta). Static.
      bler_model: code-block error model of ``ltjax.phy.bler.code_block_bler``: "margin"
        (the default) or "ldpc" (calibrated on the NR LDPC decoder). Static.

    Returns:
      :class:`TbBlerResult` ``(bler, tbs, sinr_eff_db, n_cb)`` of the TB.

    Raises:
      ValueError / TypeError: one line naming the argument and what is allowed (wrong
        SINR shape, a range, an unknown ``esm`` or ``bler_model``).
    """
    _check_static(n_rb, layers, n_dmrs, esm, bler_model)
    if isinstance(mcs, (int, np.integer)) and not isinstance(mcs, bool) and not 0 <= mcs < N_MCS:
        raise ValueError(f"tb_bler: mcs = {mcs} out of range; allowed [0, {N_MCS - 1}] (MCS table 1)")
    if jnp.ndim(mcs) != 0:
        raise ValueError(f"tb_bler: mcs must be a scalar, got shape {jnp.shape(mcs)} (batch with jax.vmap)")
    sinr = sinr_grid(sinr_db, n_rb, layers)  # [R, V]
    mcs = jnp.clip(jnp.asarray(mcs, jnp.int32), 0, N_MCS - 1)
    tables = tbs_tables(max(_TABLE_RB, n_rb))
    idx = (mcs, layers - 1, n_dmrs - 1, n_rb)
    if esm == "eesm":
        eff_db = eesm_db(sinr, eesm_beta(mcs))
    else:
        eff_db = miesm_db(sinr, jnp.asarray(MCS_QM)[mcs])
    bler_cb = code_block_bler(eff_db, jnp.asarray(MCS_QM)[mcs], jnp.asarray(MCS_RATE_X1024)[mcs],
                              jnp.asarray(tables.k_cb)[idx], jnp.asarray(tables.n_sym_cb)[idx], model=bler_model)
    n_cb = jnp.asarray(tables.n_cb)[idx]
    return TbBlerResult(bler=transport_block_bler(bler_cb, n_cb), tbs=jnp.asarray(tables.tbs)[idx],
                        sinr_eff_db=eff_db, n_cb=n_cb)


__all__ = ["ESMS", "TbBlerResult", "sinr_grid", "tb_bler"]
