"""Validation covers what runs: every parameter combination a sweep file may hold runs to the end.

For each registered experiment, hypothesis draws parameter values from the experiment's
own schema (``ltjax.params.schema``: choices, booleans, numbers within their bounds,
lists), with the size-like parameters held tiny (the ``TINY`` table below, plus a generic
rule for size-like integers it does not name) and the path parameters pointed at
temporary directories or at the committed model files. A draw the parser refuses is
discarded; a draw it accepts must run through ``run_sweep`` to a complete result with
finite metrics (no exception, no NaN). Examples are derandomised, so every run tries the
same draws.
"""

from __future__ import annotations

import csv
import os
import tempfile
from pathlib import Path

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, Phase, given, reject, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import ltjax.experiments  # noqa: E402,F401  (registers ltjax's experiments)
from ltjax.errors import InputError  # noqa: E402
from ltjax.sweep import parse_sweep, run_sweep  # noqa: E402
from ltjax.sweep.registry import all_experiments  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SHARED = tempfile.TemporaryDirectory(prefix="ltjax-validation-")  # removed when the module is released
RESULTS = ROOT / "results"
MNIST = ROOT.parent / "shared" / "data" / "mnist"

# Per experiment: parameters held tiny (a value or a strategy) and where paths point
# ("{tmp}" is a fresh temporary directory per example; "{shared}" one directory for the whole
# module, for the beam-model cache: the models are keyed by their training config, so the
# experiments that use the same tiny models train them once and then load them, which is the
# path every later run of a sweep takes; beam_train's own example trains into a fresh one).
TINY: dict[str, dict] = {
    "awgn_ber": {"n_symbols": st.integers(1, 64), "n_ues": st.integers(1, 3)},
    "link_bler_curves": {"n_ue": 2, "n_periods": 1, "n_rb": st.sampled_from([1, 24, 106]),
                         "channel": st.sampled_from(["AWGN", "TDL-A30", "TDL-B50", "TDL-C200", "TDL-C"])},
    "beam_train": {"width": 2, "epochs": 1, "n_per_region": 100, "n_eval": 10, "cache_dir": "{tmp}/beam_models"},
    "lcm_adaptation": {"n_ue": 1, "n_steps": 60, "t_lcm_s": 0.12, "n_seeds": 1, "width": 2, "epochs": 1,
                       "n_per_region": 100, "n_eval": 10, "gamma_sweep_db": st.lists(st.floats(0.0, 60.0), max_size=2),
                       "cache_dir": "{shared}/beam_models"},
    "bler_offline": {"n_samples": 8, "n_val": 2, "periods_per_ue": 1, "epochs": 2, "eval_every": 1,
                     "model_dir": "{tmp}/model", "reuse_dataset": ""},
    "ml_baseline_offline": {"dataset": str(RESULTS / "bler_offline_model" / "dataset.npz"),
                            "model_out": "{tmp}/ml/ml_model.msgpack", "epochs": 1,
                            "batch_size": st.integers(1, 64), "cycle_epochs": st.integers(1, 3),
                            "max_samples": st.integers(0, 64)},
    "lighttune_bler_error": {"n_ue": 2, "n_periods": 1, "floor_ue": st.sampled_from([0, 2]), "floor_epochs": 1,
                             "model_path": str(RESULTS / "bler_offline_model" / "ff_model.msgpack")},
    "ff_class_histogram": {"n_samples": 2, "periods_per_ue": 1,
                           "model_path": str(RESULTS / "bler_offline_model" / "ff_model.msgpack")},
    "cqi_throughput": {"n_ue": 2, "n_periods": 1, "ff_model": str(RESULTS / "bler_offline_model" / "ff_model.msgpack"),
                       "ml_model": str(RESULTS / "ml_baseline_offline_model" / "ml_model.msgpack")},
    "cqi_tune_map": {"n_ue": 2, "n_periods": 2, "early_periods": 1,
                     "ff_model": str(RESULTS / "bler_offline_model" / "ff_model.msgpack"),
                     "ff_model_legacy": str(RESULTS / "bler_offline_model_legacy" / "ff_model.msgpack")},
    "mnist_ff_loss": {"steps_per_layer": 1, "n_train": 10, "sizes": st.sampled_from([[784, 4], [784, 8, 8]]),
                      "replicate": st.integers(0, 3), "data_dir": str(MNIST)},
    "beam_family": {"width": 2, "epochs": 1, "n_per_region": 100, "n_eval": 10, "cache_dir": "{shared}/beam_models"},
    "beam_capacity": {"widths": [2], "epochs": 1, "set_b_ids": [0], "regions": [0], "ceiling_width": 2,
                      "ceiling_depth": 1, "ceiling_data": 1, "ceiling_epochs": 1, "control_width": 2},
    "ldpc_bler": {"k_prime": 200, "max_iter": 5, "min_errors": 10, "max_blocks": 64, "batch": 32},
    "ldpc_fading_validation": {"n_prb": 1, "n_rx": 1, "n_tb": 4, "batch": 4,
                               "channel": st.sampled_from(["AWGN", "TDL-C200"])},
    "olla_offsets": {"n_ue": 2, "n_periods": 2, "warmup_periods": 1},
    "lighttune_convergence": {"n_ue": 2, "n_periods": 2, "tail_periods": 2, "probe_period": 1, "n_rep": 2,
                              "model_path": str(RESULTS / "bler_offline_model" / "ff_model.msgpack")},
    "ff_memory": {"sizes": st.sampled_from([[13, 4], [13, 4, 4]]), "n_ue": st.sampled_from([1, 3])},
}
_LCM = {"n_ue": 1, "n_steps": 60, "t_lcm_s": 0.12, "n_seeds": 1, "width": 2, "epochs": 1, "n_per_region": 100,
        "n_eval": 10, "cache_dir": "{shared}/beam_models"}
for _name in ("lcm_global_model", "lcm_monitoring", "lcm_latency"):
    TINY[_name] = dict(_LCM)
# Examples per experiment: each may compile afresh (a new channel model, scheme, ...), so
# they are few; hypothesis's first example is its simplest (lower bounds, first choices).
# Those whose tiny run still compiles the whole link engine or trains the beam models get
# one. LTJAX_VALIDATION_EXAMPLES=N runs N examples of every experiment (a deeper search).
EXAMPLES = 2
CHEAP = ("awgn_ber", "mnist_ff_loss", "ml_baseline_offline", "ldpc_bler")


def _examples(name: str) -> int:
    deeper = os.environ.get("LTJAX_VALIDATION_EXAMPLES")
    return int(deeper) if deeper else (EXAMPLES if name in CHEAP else 1)
SIZE_WORDS = ("n_", "epochs", "steps", "width", "size", "samples", "periods", "every")


def _size_like(name: str) -> bool:
    return any(w in name for w in SIZE_WORDS)


def _strategy(name: str, p):
    """A hypothesis strategy for one schema entry (see the module docstring)."""
    if p.choices is not None:
        return st.sampled_from(list(p.choices))
    if p.kind == "path" and p.role in ("output", "dir"):
        raise AssertionError(f"{name}: a path the run writes needs a temporary path in TINY")
    if p.kind in ("str", "path"):  # free text checked by the experiment, an input: the default
        return st.just(p.default)
    if p.kind == "bool":
        return st.booleans()
    if p.kind in ("int", "int_list"):
        lo = int(p.lo) if p.lo is not None else -1000
        hi = int(p.hi) if p.hi is not None else lo + 1000
        if _size_like(name):  # a size the TINY table does not name: the smallest few
            hi = min(hi, max(lo, 1) + 2)
        elem = st.integers(lo, hi)
    elif p.kind in ("float", "float_list"):
        lo = p.lo if p.lo is not None else -1e6
        hi = p.hi if p.hi is not None else 1e6
        elem = st.floats(lo, hi, exclude_min=p.lo_open, allow_nan=False, allow_infinity=False)
    else:
        raise AssertionError(f"{name}: a {p.kind} parameter has no strategy")
    if p.kind.endswith("_list"):
        empty_ok = isinstance(p.default, tuple) and not p.default
        return st.lists(elem, min_size=0 if empty_ok else 1, max_size=3)
    return elem


def _experiments() -> list[str]:
    """ltjax's own experiments (not those other tests of this worker registered: examples, fixtures)."""
    return [n for n, e in all_experiments().items() if e.module.startswith("ltjax.")]


def test_every_experiment_has_a_tiny_entry():
    """A new experiment (or a renamed parameter) must be given tiny sizes here."""
    for name in _experiments():
        assert name in TINY, f"add {name!r} to TINY"
        unknown = set(TINY[name]) - set(all_experiments()[name].params)
        assert not unknown, f"{name}: TINY names unknown parameters {sorted(unknown)}"


@pytest.mark.slow
@pytest.mark.parametrize("name", _experiments())
def test_valid_options_run_to_the_end(name):
    exp = all_experiments()[name]
    if name not in TINY:
        pytest.fail(f"add {name!r} to TINY")
    if name == "mnist_ff_loss" and not MNIST.is_dir():
        pytest.skip(f"MNIST files not found at {MNIST}")
    tiny = TINY[name]
    drawn = {k: v if isinstance(v, st.SearchStrategy) else st.just(v) for k, v in tiny.items()}
    for k, p in exp.params.items():
        if k not in drawn:
            drawn[k] = _strategy(k, p)

    @settings(max_examples=_examples(name), deadline=None, derandomize=True, database=None,
              phases=(Phase.explicit, Phase.generate),  # no shrinking: every example is a full run
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
    @given(st.fixed_dictionaries(drawn))
    def runs(values):
        with tempfile.TemporaryDirectory() as tmp:
            values = {k: v.replace("{tmp}", tmp).replace("{shared}", SHARED.name) if isinstance(v, str) else v
                      for k, v in values.items()}
            try:
                cfg = parse_sweep({"experiment": name, "params": values}, f"<{name}>", base_dir=tmp)
            except InputError:
                reject()  # validation refused it: nothing to run
            out = run_sweep(cfg, out=Path(tmp) / "res", progress=False)
            rows = list(csv.DictReader(open(out / "data.csv")))  # NaN/inf would have raised NumericalError
            assert len(rows) == 1 and (out / "meta.json").is_file()

    runs()
