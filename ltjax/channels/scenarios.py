"""Channel scenarios: one table of names -> (TDL model, RMS delay spread).

A scenario is what experiments and sweep files name (``channel = "TDL-C200"``): a TR 38.901
scalable TDL profile (Tables 7.7.2-1/2/3) scaled to an RMS delay spread (clause 7.7.3), or
AWGN. The maximum Doppler is separate (a traced parameter of ``ChannelParams``).

Accepted names (case-insensitive):

- ``"AWGN"``: flat, time-invariant, H = I_{Nr x Nt} (``ltjax.channels.fading.awgn_matrix``); with
  2 x 4 antennas and a rank-1 Type I precoder the UE collects |H w|^2 = 1/2 (SNR - 3 dB);
- ``"AWGN-EQ"``: the equal-array-gain reference, flat H = sqrt(max(Nr, Nt)) I_{Nr x Nt} with the
  squared Frobenius norm Nr Nt of a unit-gain TDL channel, so the same precoder and receiver see
  the TDL channels' average array gain (|H w|^2 = Nr: SNR + 3 dB at 2 x 4);
- ``"AWGN-SISO"``: one transmit port, one receive antenna, H = 1 (SINR = SNR): the textbook curve;
- ``"TDL-A30"``, ``"TDL-B50"``, ``"TDL-C200"``, or any ``"TDL-<A|B|C><ns>"``: the profile with
  the RMS delay spread in nanoseconds in the name;
- ``"TDL-A"`` / ``"TDL-B"`` / ``"TDL-C"`` with ``delay_spread_ns`` given separately (e.g.
  ``channel = "TDL-C"``, ``delay_spread_ns = 300`` in a sweep file).

TR 38.901 Table 7.7.3-1 names the example delay spreads: very short 10 ns, short 30 ns,
nominal 100 ns, long 300 ns, very long 1000 ns. ltjax evaluates the channel at one sample
per RB, which resolves it while the coherence bandwidth 1/(5 DS) is at least one RB
(``max_delay_spread_s``: 555 ns at 30 kHz); longer spreads are refused.
"""

from __future__ import annotations

import dataclasses
import re

from ltjax.channels.tdl import TDL_NAMES

# The scenarios the papers and ltjax's reference results use (LightTune Table III / Fig. 4-5).
NAMED = ("AWGN", "TDL-A30", "TDL-B50", "TDL-C200")
# The flat references: name -> (awgn_matrix, antennas (Nr, Nt) or None = the link's own).
FLAT_REFERENCES = {"AWGN": ("identity", None), "AWGN-EQ": ("equal_gain", None), "AWGN-SISO": ("identity", (1, 1))}
_NAME_RE = re.compile(r"^TDL[-_ ]?([ABC])(\d+(?:\.\d+)?)?$")


@dataclasses.dataclass(frozen=True)
class Scenario:
    """A channel scenario.

    Attributes:
      model: "A" | "B" | "C" (TR 38.901 TDL) | "AWGN" (``ChannelConfig.model``).
      delay_spread_s: RMS delay spread [s] (0 for AWGN).
      awgn_matrix: ``ChannelConfig.awgn_matrix`` of a flat reference ("identity" or "equal_gain").
      antennas: (Nr, Nt) the scenario imposes (AWGN-SISO: (1, 1)), or None: the link's own.
    """

    model: str
    delay_spread_s: float
    awgn_matrix: str = "identity"
    antennas: tuple[int, int] | None = None

    @property
    def name(self) -> str:
        """Canonical name, e.g. ``"TDL-C200"``, ``"AWGN"`` or ``"AWGN-SISO"``."""
        if self.model == "AWGN":
            return next(n for n, v in FLAT_REFERENCES.items() if v == (self.awgn_matrix, self.antennas))
        ns = self.delay_spread_s * 1e9
        return f"TDL-{self.model}{int(round(ns)) if abs(ns - round(ns)) < 1e-6 else ns:g}"


def scenario(channel: str, delay_spread_ns: float | None = None) -> Scenario:
    """The :class:`Scenario` of a channel name (see the module docstring).

    Args:
      channel: "AWGN", "AWGN-EQ", "AWGN-SISO", "TDL-C200", "TDL-C", ...
      delay_spread_ns: RMS delay spread [ns] for a name without one; if the name has one,
        it must be None or equal.

    Raises:
      ValueError: one line saying what is allowed.
    """
    text = str(channel).strip().upper().replace("_", "-")
    if text in FLAT_REFERENCES:
        if delay_spread_ns not in (None, 0, 0.0):
            raise ValueError(f"{text} has no delay spread; got delay_spread_ns = {delay_spread_ns!r}")
        matrix, antennas = FLAT_REFERENCES[text]
        return Scenario("AWGN", 0.0, matrix, antennas)
    m = _NAME_RE.match(text)
    if m is None or m.group(1) not in TDL_NAMES:
        raise ValueError(f"unknown channel {channel!r}; allowed: AWGN, AWGN-EQ, AWGN-SISO, TDL-A/B/C with the RMS delay spread "
                         f"in ns (e.g. {', '.join(NAMED[1:])}), or TDL-A/B/C with delay_spread_ns")
    model, ns_text = m.group(1), m.group(2)
    if ns_text is not None:
        ns = float(ns_text)
        if delay_spread_ns is not None and abs(float(delay_spread_ns) - ns) > 1e-9:
            raise ValueError(f"channel {channel!r} names {ns:g} ns but delay_spread_ns = {delay_spread_ns!r}")
    elif delay_spread_ns is None:
        raise ValueError(f"channel {channel!r} needs a delay spread: write e.g. TDL-{model}100, or set "
                         "delay_spread_ns")
    else:
        ns = float(delay_spread_ns)
    if not ns > 0.0:
        raise ValueError(f"the RMS delay spread must be > 0 ns, got {ns!r}")
    return Scenario(model, ns / 1e9)  # ns / 1e9 == the literal 30e-9 (30 * 1e-9 is not)


__all__ = ["FLAT_REFERENCES", "NAMED", "Scenario", "scenario"]
