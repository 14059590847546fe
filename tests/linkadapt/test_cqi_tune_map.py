"""The CQI back-off map: its cells, its sweep files, and the bound property on the committed results
(the map's cells and the reference-size Fig. 5 points).

The bound property: the hindsight rule keeps, in every period, the better of the two CQIs
CQI-Tune chooses between (ltjax.linkadapt.genie), so CQI-Tune's gain over OLLA may not
exceed the hindsight's by more than the two paired 95 % CIs together (the CIs come from the
64 UEs of each cell, 256 per Fig. 5 point). The genie is the same scheme with a perfect predictor of the event
CQI-Tune acts on; CQI-Tune may exceed it only by backing off where the event did not occur
and that paid, which the tau precision then shows."""

import csv
import math
import tomllib
from pathlib import Path

import pytest

from ltjax.experiments.cqi_tune_map import BASELINES, CELLS, LEVELS, cell_levels, cell_setup

ROOT = Path(__file__).resolve().parents[2]
# The map and the reference-size Fig. 5 runs (cqi_throughput with its bounds on).
RESULT_DIRS = [ROOT / "results" / d for d in ("cqi_tune_map", "cqi_tune_map_legacy", "fig5a_full", "fig5b_full",
                                                 "fig5a_full_margin", "fig5b_full_margin")]


def test_cells_are_unique_and_parse():
    assert len(set(CELLS)) == len(CELLS)
    for c in CELLS:
        baseline, lv = cell_levels(c)
        assert baseline in BASELINES and set(lv) == set(LEVELS)
        cell_setup(c)  # builds a valid LinkConfig


@pytest.mark.parametrize("bad", ["old", "new/table=magic", "new/speed=3", "legacy/snr"])
def test_bad_cells_are_refused(bad):
    with pytest.raises(ValueError, match="cell"):
        cell_levels(bad)


def test_one_factor_at_a_time_cells_change_one_thing():
    for c in CELLS:
        baseline, lv = cell_levels(c)
        _, base = cell_levels(baseline)
        changed = {k for k in lv if lv[k] != base[k]}
        named = {p.partition("=")[0] for p in c.partition("/")[2].split("+") if p}
        assert changed == named, c


def test_the_sweep_files_run_every_cell_once():
    cells = []
    for name in ("cqi_tune_map.toml", "cqi_tune_map_legacy.toml"):
        cells += tomllib.loads((ROOT / "sweeps" / name).read_text())["params"]["cell"]
    assert sorted(cells) == sorted(CELLS)


def _rows():
    out = []
    for d in RESULT_DIRS:
        if (d / "data.csv").exists():
            out += list(csv.DictReader(open(d / "data.csv")))
    return out


def _gain(r, scheme):
    return float(r[f"gain_{scheme}_pct"]), float(r[f"gain_{scheme}_ci_pct"])


@pytest.mark.parametrize("scheme", ["tune_uniform", "tune_hard"])
def test_cqi_tune_against_the_bounds(scheme):
    rows = _rows()
    if not rows:
        pytest.skip("no committed map results")
    for r in rows:
        where = r.get("cell") or f"{r['channel']} {r['snr_db']} dB"
        (g, ci), (h, ci_h), (gg, ci_g) = _gain(r, scheme), _gain(r, "hindsight"), _gain(r, "genie")
        assert g - h <= ci + ci_h, (where, g, h)  # never beyond the hindsight bound
        if g - gg > ci + ci_g:  # beyond the genie: it must have backed off where the label was < tau
            prec = float(r[f"tau_precision_{scheme}"])
            assert float(r[f"backoff_{scheme}"]) > 0 and (math.isnan(prec) or prec < 1.0), where
