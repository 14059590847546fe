# Characterisation of the CSI estimators (docs/channels.md): JAX_PLATFORMS=cpu python docs/channels_estimators.py
import jax, jax.numpy as jnp, numpy as np
from ltjax.channels import ChannelConfig, ChannelParams, channel_freq_response, init_channel
from ltjax.csi import (DEFAULT_DOPPLER_LAG_S as LAG, csi_snr_estimate, csi_snr_true,
                       estimate_delay_spread, estimate_doppler, select_ri_pmi)
U = 400
print("profile  corr   SNRdB | DS est ns mean(sd) | fD est Hz mean(sd) | SNR err dB mean(sd) | P(RI=2) | capacity b/s/Hz")
for m, ds, fd, corr, snr_db in [("A", 30e-9, 10, "low", 10), ("B", 50e-9, 30, "low", 10), ("C", 200e-9, 50, "low", 10),
                                ("A", 30e-9, 10, "low", 0), ("B", 50e-9, 30, "low", 0), ("C", 200e-9, 50, "low", 0),
                                ("A", 30e-9, 10, "low", 20), ("B", 50e-9, 30, "low", 20), ("C", 200e-9, 50, "low", 20),
                                ("C", 200e-9, 10, "medium", 10), ("C", 200e-9, 10, "high", 10)]:
    cfg = ChannelConfig(model=m, correlation=corr)
    p = ChannelParams(jnp.float32(ds), jnp.float32(fd))
    nv = 10 ** (-snr_db / 10)
    def one(k):
        ks = jax.random.split(k, 4)
        st = init_channel(ks[0], cfg)
        h0 = channel_freq_response(st, 1.0, cfg, p); h1 = channel_freq_response(st, 1.0 + LAG, cfg, p)
        rep = select_ri_pmi(h0, nv)
        return (estimate_delay_spread(ks[1], h0, nv), estimate_doppler(ks[2], h0, h1, LAG, nv),
                csi_snr_estimate(ks[3], h0, nv) - csi_snr_true(h0, nv), rep.ri, rep.capacity)
    keys = jax.vmap(lambda u: jax.random.fold_in(jax.random.key(1), u))(jnp.arange(U))
    d, f, e, ri, cap = [np.asarray(x) for x in jax.jit(jax.vmap(one))(keys)]
    print(f"{m}{ds*1e9:.0f} {fd:>3.0f}Hz {corr:6s} {snr_db:3d} | {d.mean()*1e9:6.1f} ({d.std()*1e9:5.1f}) | "
          f"{f.mean():5.1f} ({f.std():4.1f}) | {e.mean():+.2f} ({e.std():.2f}) | {(ri==2).mean():.2f} | {cap.mean():.2f}", flush=True)
