"""The README's two quickstart commands and .ci/run must agree.

CI runs `.ci/run`; a newcomer runs the README. If they drift apart, CI would
test something other than what users are told to run.
"""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _quickstart_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    return [b.strip() for b in re.findall(r"```bash\n(.*?)```", section, flags=re.S)]


def test_readme_has_exactly_two_quickstart_commands():
    cmds = _quickstart_commands()
    assert len(cmds) == 2, cmds
    assert all("\n" not in c for c in cmds), "each quickstart command is a single line"
    assert "ltjax run sweeps/quickstart.toml" in cmds[0]
    assert "pytest" in cmds[1]


def test_ci_runs_the_readme_test_command_verbatim():
    test_cmd = _quickstart_commands()[1]
    ci_lines = [ln.strip() for ln in (ROOT / ".ci/run").read_text().splitlines()]
    assert test_cmd in ci_lines
    assert "set -euo pipefail" in ci_lines  # a failing test fails CI


def test_quickstart_sweep_exists_and_validates():
    """The first command is the LightTune demo: fine-tuning the shipped model on TDL-B50."""
    from ltjax.data.shipped import FF_BLER_MODEL
    from ltjax.sweep import load_sweep

    cfg = load_sweep(ROOT / "sweeps/quickstart.toml")
    assert cfg.experiment.name == "lighttune_bler_error" and cfg.points()
    assert {k: cfg.fixed[k] for k in ("channel", "doppler_hz", "n_ue", "n_periods", "model_path")} == {
        "channel": "TDL-B50", "doppler_hz": 30.0, "n_ue": 352, "n_periods": 20, "model_path": FF_BLER_MODEL}
    # a few SNRs, about 1,000 UEs in all, each UE count a multiple of the 32-UE micro-batch
    assert cfg.axes["snr_db"] == [5.0, 20.0, 35.0] and cfg.fixed["n_ue"] * len(cfg.axes["snr_db"]) >= 1000
    assert cfg.fixed["n_ue"] % 32 == 0
    load_sweep(ROOT / "sweeps/link_curves_quickstart.toml")  # the link curves it replaced


def test_quickstart_writes_to_a_directory_git_ignores():
    """The README's first command must leave the checkout clean (no --force on committed results)."""
    import shutil
    import subprocess

    from ltjax.sweep import load_sweep
    from ltjax.sweep.runner import output_dir

    cmd = _quickstart_commands()[0]
    assert "--force" not in cmd and "--out" not in cmd
    out = output_dir(load_sweep(ROOT / "sweeps/quickstart.toml"))
    assert out == ROOT / "runs" / "quickstart"
    if shutil.which("git") and (ROOT / ".git").exists():
        r = subprocess.run(["git", "check-ignore", "-q", str(out / "data.csv")], cwd=ROOT)
        assert r.returncode == 0, "runs/quickstart/ must be ignored by git"
