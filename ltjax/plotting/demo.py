"""Plot for the ``awgn_ber`` experiment."""

from pathlib import Path

from ltjax.plotting.common import column, plt, read_csv, save


def plot_awgn_ber(result_dir: Path) -> list[Path]:
    rows = sorted(read_csv(result_dir), key=lambda r: r["snr_db"])
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.semilogy(column(rows, "snr_db"), column(rows, "ber_theory"), "k-", label="Q(sqrt(SNR))")
    ax.semilogy(column(rows, "snr_db"), column(rows, "ber"), "o", label="Monte-Carlo")
    ax.set_xlabel("Es/N0 [dB]")
    ax.set_ylabel("BER")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    return [save(fig, Path(result_dir) / "ber.png")]
