"""5G NR LDPC channel coding in JAX (TS 38.212): CRC (5.1), segmentation (5.2.2), base
graphs and encoding (5.3.2), rate matching (5.4.2), base-graph choice (7.2.2), and
min-sum / sum-product decoders on a sparse lifted graph.

Per-code-word kernels are pure; the ``*_batch`` decoders and ``tb_decode_batch`` are the
batched entry points. Sizes are static (frozen dataclasses); LLRs are log P(0) / P(1).
See docs/ldpc_reference.md.

Letters: A TB bits, B = A + TB CRC, C code blocks, K' / K code-block bits without / with
filler, Z lifting size, N = 66 Z (BG1) / 50 Z (BG2) encoded bits, E rate-matched bits,
G coded bits of a TB, Qm bits per symbol.
"""

from ltjax.fec.basegraph import LIFTING_SETS, LIFTING_SIZES, base_graph, set_index
from ltjax.fec.crc import crc_attach, crc_check, crc_parity
from ltjax.fec.decoders import (DecodeResult, decode_flooding, decode_flooding_batch,
                                decode_layered, decode_layered_batch)
from ltjax.fec.dlsch import (DecoderConfig, TbCodingConfig, TbDecodeResult, code_block_llrs,
                             decode_code_blocks, tb_check, tb_decode, tb_decode_batch, tb_encode)
from ltjax.fec.ldpc import (DecodingGraph, LdpcCode, decoding_graph, encode, encode_full,
                            rows_for_sent_bits, syndrome)
from ltjax.fec.ratematch import (RateMatchConfig, code_block_e, k0, n_cb_lbrm, rate_match,
                                 rate_recover)
from ltjax.fec.segmentation import (CodeBlockSegmentation, code_block_segmentation, desegment,
                                    segment, select_base_graph, tb_crc_poly)

__all__ = [
    "LIFTING_SETS", "LIFTING_SIZES", "CodeBlockSegmentation", "DecodeResult", "DecoderConfig",
    "DecodingGraph",
    "LdpcCode", "RateMatchConfig", "TbCodingConfig", "TbDecodeResult", "base_graph",
    "code_block_e", "code_block_llrs", "code_block_segmentation", "crc_attach", "crc_check",
    "crc_parity", "decode_code_blocks", "decode_flooding", "decode_flooding_batch",
    "decode_layered", "decode_layered_batch", "decoding_graph", "desegment", "encode", "encode_full", "k0",
    "n_cb_lbrm", "rate_match", "rate_recover", "rows_for_sent_bits", "segment", "select_base_graph", "set_index",
    "syndrome", "tb_check", "tb_crc_poly", "tb_decode", "tb_decode_batch", "tb_encode",
]
