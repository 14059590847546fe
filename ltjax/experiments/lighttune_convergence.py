"""``lighttune_convergence``: Theorem 1 of the LightTune paper, measured.

Theorem 1 (Sec. III-D): assuming (1) boundedness of the data and the model, (2) at least one
active neuron in the final layer, (3) stationarity and (4) uniform negative sampling,
LightTune trained with SGD for ReLU MLPs satisfies lim_t Pr(|y_hat(t) - y+(t)| >= delta) = 0
(eq. 10). The paper states the four assumptions in these words only (the proof is deferred).

Setting. One grid point is a stationary scenario: one channel profile, Doppler and average
SNR, link physics at the engine defaults (``LinkConfig()``), no dynamics, the gNB following
the reported CQI. ``n_ue`` UEs run ``n_periods`` CSI-RS periods each; every UE starts at t = 0
from the offline model (``model_path``) and fine-tunes its own copy with Alg. 1 (delta, uniform
negatives). The UE's link and its predictors are those of ``lighttune_bler_error`` (its
per-UE kernel, batched by ``ltjax.batching.map_ues``): one feature/label sequence per UE,
fed to four predictors on the same keys (common random numbers):

- ``frozen``: the offline model, never updated (SGD with alpha = 0: the update is exactly
  zero, and the kernel reports the trigger, which here is the theorem's event);
- ``sgd``: plain SGD, theta <- theta - ``sgd_lr`` * g, the optimiser the theorem assumes;
- ``standard``: Adam with persistent moments (eq. 8), alpha_f = ``lr``;
- ``one_step``: Adam reset before every update (eq. 9), alpha_f = ``lr``.

Per period t the experiment records the fraction of UEs with |y_hat - y+| >= delta (the
event of eq. 10 with y+ the period's quantised BLER and the trigger's float32 slack, so it is
exactly Alg. 1's trigger indicator) and the mean |P_hat - P| (eq. 12, unquantised P). UEs are
independent, so at each t the fraction is a binomial proportion over ``n_ue`` UEs.

Label noise. The label is not a function of the features: the features are measured before
the period (the CSI report 4-9 ms before it, the PDSCH SNRs of the last 4 slots), the label
is made by the channel over the next 80 ms, the RB position and the per-slot ACK/NACK draws.
At the start of period ``probe_period`` every UE's period is replayed ``n_rep`` times with the
same ``LinkState`` and the same inputs, hence identical features (checked:
``probe_features_identical``), in two modes (``ltjax.link.replay``):

- ``redraw``: the channel drawn from its conditional law given its taps at the six instants
  the features were measured (and given the arrival angles), other period keys;
- ``known``: the UE's own channel, other period keys (RB start and ACK/NACK draws only).

For each probe the replayed labels y_r give, for the best constant class c of that probe,
rho = min_c Pr(|c - y| >= delta | probe). Whatever a predictor does with the features, at
that probe it is wrong by >= delta with probability >= rho, so E[rho] is a floor on
Pr(|y_hat - y+| >= delta) for every predictor of the features (conditioning on more than the
features, as the replay does, can only lower the floor: it is a lower bound). Two estimates
bracket E[rho]: ``floor_event_lo`` takes the minimum over c on all n_rep replays (biased
low: E[min] <= min E) and ``floor_event_hi`` picks c on the first half and scores it on the
second (the error of a realisable rule: biased high). ``floor_err_lo`` / ``_hi`` do the same
for |P_hat - P| with class-valued predictions. ``pair_event_<mode>`` is the probability that
two replays of the same probe give classes >= delta apart, ``label_std_<mode>`` the mean
standard deviation of P over a probe's replays.

The replays condition on more than the features, so they bound the floor from below. From
above, ``fit_reference`` fits a small softmax MLP to the run's own features and labels by
backpropagation (even UEs) and scores it on the odd UEs: a rate reachable from the features
alone. The floor given the features lies between the two.

What is measured (sweeps/lighttune_convergence.toml; numbers and discussion in
docs/lighttune.md, "Theorem 1, measured"): the probability does not go to 0. It is flat from
the first periods on and settles, for every optimiser, at or above the frozen offline model's
rate (about 0.45-0.6 at delta = 0.3), well above the fitted MLP's held-out rate (about 0.3),
which is itself well above the replay floor (lower estimate 0.06-0.08, more than 4 standard
errors above 0). Two reasons: (i) label noise given the features: replays with identical
features land >= delta apart in about 20 % of pairs, mostly because the channel over the
80 ms is not in the features (with the channel known the floor is 0.02-0.1); (ii) the learner:
every period whose label misses by >= delta (about half of them) moves the weights a fixed
step towards that one noisy label, so they follow the noise instead of averaging it out.
Stationarity (assumption 3) holds here (``bler_drift``, the mean label of the second half of
the run minus the first, is 0 within its standard error); label noise given the features is
not excluded by any of the four assumptions as the paper states them, and with it eq. 10
cannot hold for any predictor. The theorem needs an assumption the paper does not list:
labels determined by the features to within delta.

Metrics per variant v in ``VARIANTS``: ``p_event_head_<v>`` / ``p_event_tail_<v>`` the event
rate over the first / last ``tail_periods`` periods (``_se``: standard error over UEs of the
per-UE rates), ``drift_<v>`` the rate over the last tail_periods/2 periods minus that over
the tail_periods/2 before (``drift_se_<v>``), ``err_head_<v>`` / ``err_tail_<v>`` (``_se``),
``updates_<v>`` fine-tuning updates per UE over the run. Label noise: ``floor_event_lo`` /
``floor_event_hi``, ``floor_event_known_lo`` / ``_hi``, ``floor_err_lo`` / ``floor_err_hi``,
``pair_event_redraw`` / ``pair_event_known``, ``label_std_redraw`` / ``label_std_known``
(each with ``_se`` over UEs), ``probe_mean_bler_redraw`` / ``probe_mean_bler_known`` (mean
replayed label; equal to the stationary mean label within noise if the redraw is the channel's
law) and ``probe_features_identical``. Fitted reference: ``fit_event`` / ``fit_err`` on the odd
(held-out) UEs (``_se``), ``fit_event_train`` / ``fit_err_train`` on the even ones.
``mean_bler``: the mean label of the run; ``bler_drift`` (``_se``) as above.
Series: ``p_event_t`` [V, T], ``err_t`` [V, T] (over UEs per period), ``bler_t`` [T].

Keys: UE u uses k_u = fold_in(point_key, u); its link ``fold_in(k_u, 0)``, its negatives
``fold_in(fold_in(k_u, 1), t)`` (both as in ``lighttune_bler_error``), its replays
``fold_in(k_u, 2)``; the fitted MLP's initial weights ``split(point_key)[0]``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import struct

from ltjax.batching import map_ues
from ltjax.channels import TDL_NAMES, NAMED_SCENARIOS, scenario
# The Fig. 4 experiment's per-UE kernel: one link per UE, then every predictor on it.
from ltjax.experiments.lighttune_bler_error import _ue_kernel as link_and_predictors
from ltjax.lighttune import BLER_CLASSES, LightTuneParams, quantize
from ltjax.lighttune.dataset import check_scenario
from ltjax.lighttune.model import load_model
from ltjax.lighttune.step import TRIGGER_SLACK
from ltjax.link import LinkConfig, LinkParams, allocate, follow_cqi, link_params_for_scenario, link_period, run_ue
from ltjax.link.replay import redraw_channel
from ltjax.params import field
from ltjax.plotting.lighttune_convergence import plot_convergence
from ltjax.sweep.registry import register_experiment

VARIANTS = ("frozen", "sgd", "standard", "one_step")
MODES = ("redraw", "known")
# data.csv columns of label_noise's floors per replay mode (the |P_hat - P| floor for "redraw" only).
FLOOR_COLUMNS = {"redraw": ("floor_event_lo", "floor_event_hi", "floor_err_lo", "floor_err_hi"),
                 "known": ("floor_event_known_lo", "floor_event_known_hi")}
# The fitted features-only reference (fit_reference): a 12-16-16-11 softmax MLP, 300 full-batch Adam
# steps. Chosen among six sizes / step counts on a pilot run (seed 0, TDL-A30 10 Hz, 4 dB, 64 UEs x 60
# periods) as the best held-out one; sweeps/lighttune_convergence.toml runs seed 1, other data.
FIT_HIDDEN, FIT_STEPS, FIT_LR = 16, 300, 0.01
# TDL profiles only: the replay redraws a fading channel (an AWGN link has none to redraw).
CHANNELS = tuple(n for n in NAMED_SCENARIOS if scenario(n).model in TDL_NAMES)


def variant_params(delta, lr, sgd_lr) -> tuple[LightTuneParams, ...]:
    """The four predictors of ``VARIANTS`` (uniform negatives), delta / lr / sgd_lr traced."""
    d, a, s = (jnp.float32(v) for v in (delta, lr, sgd_lr))
    return (LightTuneParams(delta=d, lr=jnp.float32(0.0), variant="sgd"),  # frozen: a zero step
            LightTuneParams(delta=d, lr=s, variant="sgd"),
            LightTuneParams(delta=d, lr=a, variant="standard"),
            LightTuneParams(delta=d, lr=a, variant="one_step"))


def _replay_kernel(ue_key, params: LinkParams, *, probe_period: int, n_rep: int):
    """One UE: its link up to the start of period ``probe_period``, then that period replayed
    ``n_rep`` times per mode. Returns bler [2, R] (MODES order) and features [2, R, 12]."""
    state, _ = run_ue(jax.random.fold_in(ue_key, 0), params, probe_period, follow_cqi, return_state=True)
    k = jax.random.fold_in(ue_key, 2)
    # One allocation for all replays: RB and DMRS counts are features, so they are held.
    inputs = follow_cqi(state.report)
    tb = allocate(tuple(jax.random.split(jax.random.fold_in(k, 0), 3)), state.report, inputs, params.cfg)
    inputs = inputs.replace(n_rb=tb.n_rb, n_dmrs=tb.n_dmrs)

    def replay(r):
        k_r = jax.random.fold_in(jax.random.fold_in(k, 1), r)  # the same period key in both modes
        redrawn = redraw_channel(jax.random.fold_in(k_r, 1), state, params)
        outs = [link_period(jax.random.fold_in(k_r, 0), s, inputs, params)[1] for s in (redrawn, state)]
        return jnp.stack([o.bler for o in outs]), jnp.stack([o.features for o in outs])

    bler, feats = jax.vmap(replay, out_axes=1)(jnp.arange(n_rep))
    return {"bler": bler, "features": feats}


def label_noise(bler_rep: np.ndarray, delta: float, labels=BLER_CLASSES) -> dict[str, np.ndarray]:
    """Per-probe label-noise statistics from replayed labels (host, numpy).

    Args:
      bler_rep: [U, R] replayed period BLERs P of U probes (R >= 2 replays each).
      delta: the event threshold.
    Returns per-probe arrays [U]: ``floor_event_lo`` (min over classes c of the in-sample
    rate of |c - y| >= delta), ``floor_event_hi`` (c chosen on the first R // 2 replays,
    rate on the rest), ``floor_err_lo`` / ``floor_err_hi`` (the same for mean |c - P|),
    ``pair_event`` (rate over replay pairs r != r' of |y_r - y_r'| >= delta), ``label_std``
    (standard deviation of P over the replays, ddof 1).
    """
    p = np.asarray(bler_rep, np.float32)
    n_rep = p.shape[1]
    lab = np.asarray(labels, np.float32)
    y = lab[np.asarray(quantize(p, labels))]  # [U, R] class values
    # The event exactly as Alg. 1's trigger computes it: float32 |difference| + slack >= delta.
    miss = (np.abs(lab[None, :, None] - y[:, None, :]) + np.float32(TRIGGER_SLACK)) >= np.float32(delta)  # [U, K, R]
    dist = np.abs(lab[None, :, None] - p[:, None, :]).astype(np.float64)  # [U, K, R]
    half = n_rep // 2
    rows = np.arange(p.shape[0])

    def bracket(score):  # (in-sample min, chosen on the first half and scored on the rest)
        best = np.argmin(score[:, :, :half].mean(-1), axis=1)
        return score.mean(-1).min(axis=1), score[rows, best, half:].mean(-1)

    ev_lo, ev_hi = bracket(miss.astype(np.float64))
    er_lo, er_hi = bracket(dist)
    pair = (np.abs(y[:, :, None] - y[:, None, :]) + np.float32(TRIGGER_SLACK)) >= np.float32(delta)  # [U, R, R]
    pair_rate = (pair.sum(axis=(1, 2)) - np.trace(pair, axis1=1, axis2=2)) / (n_rep * (n_rep - 1))
    return {"floor_event_lo": ev_lo, "floor_event_hi": ev_hi, "floor_err_lo": er_lo, "floor_err_hi": er_hi,
            "pair_event": pair_rate, "label_std": p.astype(np.float64).std(axis=1, ddof=1)}


def fit_reference(key, features: np.ndarray, bler: np.ndarray, delta: float, labels=BLER_CLASSES,
                  hidden: int = FIT_HIDDEN, steps: int = FIT_STEPS, lr: float = FIT_LR) -> dict[str, np.ndarray]:
    """A features-only predictor fitted offline on the run's own stationary data (host side).

    A softmax MLP [12, hidden, hidden, K] (ReLU, Adam, full batch, cross-entropy on the
    classes of P) is trained by backpropagation on the even UEs' periods and scored on the odd
    UEs' (UEs are independent, so the score is a held-out one). For the event it predicts the
    class c maximising the predicted mass of the classes within delta of c (the rule that
    minimises Pr(|c - y| >= delta) if the predicted probabilities were exact), for
    |P_hat - P| the class minimising the predicted mean |c - y|. What it reaches is reachable
    from the features alone, so it bounds the floor given the features from above, as the
    replays bound it from below.

    Args:
      key: typed key (the MLP's initial weights).
      features: [U, T, 12] raw features (U >= 2). bler: [U, T] labels P.
    Returns per-UE arrays: ``event_test`` / ``err_test`` over the odd UEs, ``event_train`` /
    ``err_train`` over the even ones (rates over each UE's T periods).
    """
    lab = np.asarray(labels, np.float32)
    x = np.asarray(features, np.float32)
    p = np.asarray(bler, np.float32)
    y = np.asarray(quantize(p, labels))
    mean = x[0::2].reshape(-1, x.shape[-1]).mean(0)
    std = np.maximum(x[0::2].reshape(-1, x.shape[-1]).std(0), 1e-6 * np.maximum(np.abs(mean), 1.0))
    z = (x - mean) / std
    sizes = (x.shape[-1], hidden, hidden, lab.size)
    keys = jax.random.split(key, len(sizes) - 1)
    init = [{"w": jax.random.normal(k, (a, b)) * np.sqrt(2.0 / a), "b": jnp.zeros((b,))}
            for k, a, b in zip(keys, sizes[:-1], sizes[1:])]

    def logits(params, inp):
        for layer in params[:-1]:
            inp = jax.nn.relu(inp @ layer["w"] + layer["b"])
        return inp @ params[-1]["w"] + params[-1]["b"]

    opt = optax.adam(lr)

    @jax.jit
    def train(params, inp, target):
        def loss(ps):
            return optax.softmax_cross_entropy_with_integer_labels(logits(ps, inp), target).mean()

        def body(carry, _):
            ps, st = carry
            g = jax.grad(loss)(ps)
            upd, st = opt.update(g, st, ps)
            return (optax.apply_updates(ps, upd), st), None

        return jax.lax.scan(body, (params, opt.init(params)), None, length=steps)[0][0]

    params = train(init, jnp.asarray(z[0::2].reshape(-1, z.shape[-1])), jnp.asarray(y[0::2].reshape(-1)))
    prob = np.asarray(jax.nn.softmax(jax.jit(logits)(params, jnp.asarray(z)), axis=-1))  # [U, T, K]
    dist = np.abs(lab[:, None] - lab[None, :])  # [K, K]
    near = (dist + np.float32(TRIGGER_SLACK)) < np.float32(delta)
    c_event = np.argmax(prob @ near.T.astype(np.float32), axis=-1)
    c_err = np.argmin(prob @ dist.T, axis=-1)
    event = (np.abs(lab[c_event] - lab[y]) + np.float32(TRIGGER_SLACK)) >= np.float32(delta)
    err = np.abs(lab[c_err] - p)
    return {"event_train": event[0::2].mean(-1), "event_test": event[1::2].mean(-1),
            "err_train": err[0::2].mean(-1), "err_test": err[1::2].mean(-1)}


def _mean_se(a) -> tuple[float, float]:
    """Mean over UEs and its standard error (UEs are independent)."""
    a = np.asarray(a, np.float64)
    return float(a.mean()), float(a.std(ddof=1) / np.sqrt(a.size)) if a.size > 1 else 0.0


def _check(p):
    if not str(p.model_path).strip():
        return "model_path", "must name the offline model file (results/bler_offline_model/ff_model.msgpack)"
    if p.tail_periods > p.n_periods:
        return "tail_periods", f"must be <= n_periods ({p.n_periods}), got {p.tail_periods}"
    return check_scenario(p.channel, p.doppler_hz)


@struct.dataclass
class LightTuneConvergenceParams:
    """Parameters of the experiment (units in each field's schema)."""

    channel: str = field("TDL-A30", "channel profile (stationary: fixed for the whole run)", choices=CHANNELS)
    doppler_hz: float = field(10.0, "maximum Doppler (fixed)", unit="Hz", lo=0.0, hi=200.0)
    snr_db: float = field(0.0, "average SNR per receive antenna and RE (fixed)", unit="dB", lo=-20.0, hi=50.0)
    n_ue: int = field(200, "UEs per grid point (each its own model copy)", lo=2, hi=10**6)
    n_periods: int = field(100, "CSI-RS periods (80 ms) per UE", lo=2, hi=100_000)
    tail_periods: int = field(25, "periods at the start and at the end of the run averaged into the head and "
                              "tail (plateau) rates", lo=2, hi=100_000)
    model_path: str = field("results/bler_offline_model/ff_model.msgpack", "offline FF model the UEs start from; "
                            "make it with `ltjax run sweeps/bler_offline.toml`", kind="path", role="input")
    delta: float = field(0.3, "fine-tuning threshold delta, also the event's (Table IV)", lo=0.0, hi=1.0,
                         lo_open=True)
    lr: float = field(0.03, "Adam learning rate alpha_f of the standard and one-step variants (Table IV)", lo=0.0,
                      hi=10.0, lo_open=True)
    sgd_lr: float = field(0.3, "SGD learning rate: theta <- theta - sgd_lr * g (g: eq. 7 with the 1/M_l mean)",
                          lo=0.0, hi=100.0, lo_open=True)
    probe_period: int = field(4, "period whose start state is replayed for the label-noise floor", lo=1,
                              hi=100_000)
    n_rep: int = field(16, "replays of the probed period per UE and mode", lo=2, hi=4096)


@register_experiment(
    name="lighttune_convergence",
    description="LightTune Theorem 1 measured: Pr(|y_hat - y+| >= delta) vs period for SGD / Adam, and the "
                "label-noise floor",
    params=LightTuneConvergenceParams,
    plots=(plot_convergence,),
    check=_check,
)
def lighttune_convergence(key, p):
    model, meta = load_model(p.model_path)
    params = link_params_for_scenario(p.channel, p.snr_db, p.doppler_hz, LinkConfig())
    o = map_ues(link_and_predictors, key, p.n_ue, params, model, variant_params(p.delta, p.lr, p.sgd_lr),
                static={"n_periods": int(p.n_periods)})
    event = o["upd"].astype(np.float64)  # [U, V, T]: |y_hat - y+| + slack >= delta (frozen: alpha = 0)
    err = o["err"].astype(np.float64)  # [U, V, T]
    n_t, w = event.shape[2], int(p.tail_periods)
    res = {"mean_bler": float(o["bler"].mean()), "model_config_hash": str(meta.get("config_hash", ""))}
    # Stationarity (assumption 3): the mean label of the second half of the run minus the first's.
    half_t = n_t // 2
    res["bler_drift"], res["bler_drift_se"] = _mean_se(o["bler"][:, half_t:].mean(-1) - o["bler"][:, :half_t].mean(-1))
    for j, v in enumerate(VARIANTS):
        res[f"p_event_head_{v}"], res[f"p_event_head_se_{v}"] = _mean_se(event[:, j, :w].mean(-1))
        res[f"p_event_tail_{v}"], res[f"p_event_tail_se_{v}"] = _mean_se(event[:, j, n_t - w:].mean(-1))
        h = w // 2
        res[f"drift_{v}"], res[f"drift_se_{v}"] = _mean_se(
            event[:, j, n_t - h:].mean(-1) - event[:, j, n_t - 2 * h:n_t - h].mean(-1))
        res[f"err_head_{v}"], res[f"err_head_se_{v}"] = _mean_se(err[:, j, :w].mean(-1))
        res[f"err_tail_{v}"], res[f"err_tail_se_{v}"] = _mean_se(err[:, j, n_t - w:].mean(-1))
        res[f"updates_{v}"] = 0.0 if v == "frozen" else float(event[:, j].sum(-1).mean())

    fit = fit_reference(jax.random.split(key)[0], o["features"], o["bler"], p.delta)
    for name in ("event", "err"):
        res[f"fit_{name}"], res[f"fit_{name}_se"] = _mean_se(fit[f"{name}_test"])
        res[f"fit_{name}_train"] = float(np.mean(fit[f"{name}_train"]))

    rep = map_ues(_replay_kernel, key, p.n_ue, params,
                  static={"probe_period": int(p.probe_period), "n_rep": int(p.n_rep)})
    for m, mode in enumerate(MODES):
        stats = label_noise(rep["bler"][:, m], p.delta)
        for src, col in zip(("floor_event_lo", "floor_event_hi", "floor_err_lo", "floor_err_hi"), FLOOR_COLUMNS[mode]):
            res[col], res[f"{col}_se"] = _mean_se(stats[src])
        res[f"pair_event_{mode}"], res[f"pair_event_{mode}_se"] = _mean_se(stats["pair_event"])
        res[f"label_std_{mode}"], res[f"label_std_{mode}_se"] = _mean_se(stats["label_std"])
        res[f"probe_mean_bler_{mode}"], res[f"probe_mean_bler_{mode}_se"] = _mean_se(rep["bler"][:, m].mean(-1))
    feats = rep["features"]  # [U, 2, R, 12]
    res["probe_features_identical"] = float(np.mean(np.all(feats == feats[:, :1, :1], axis=(1, 2, 3))))
    res["p_event_t"] = event.mean(axis=0).astype(np.float32)  # [V, T]
    res["err_t"] = err.mean(axis=0).astype(np.float32)  # [V, T]
    res["bler_t"] = o["bler"].mean(axis=0).astype(np.float32)  # [T]
    return res
