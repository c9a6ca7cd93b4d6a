"""The analysis rules through Snakemake, on stand-in trained models (tests/trained_runs.py).

The training stage's outputs are fabricated, and only the analysis rules may run
(--allowed-rules), so this exercises the analyses stage alone: its jobs, tables, figures,
the HTML report, and that editing one analysis's settings reruns only that analysis.
"""

import subprocess
from pathlib import Path

import pandas as pd
import pytest
from study import TEST_CONFIG, overlay, run
from trained_runs import make_assembly, make_runs

from cdga.core.io import write_csv

RULES = ["adversarial", "landscape", "shift", "tsne", "summarize_adversarial",
         "summarize_landscape", "summarize_shift", "scaling_figure"]
SUMMARY = ["results/summary/adversarial.csv", "results/summary/landscape.csv",
           "results/summary/shift.csv", "results/summary/figures/scaling.png",
           "results/summary/figures/tsne_DemoDigits_sketch.png"]


def analyse(workdir: Path, *args: str, edit: Path | None = None) -> subprocess.CompletedProcess:
    """Snakemake on the analysis targets, analysis rules only, test config for one test domain."""
    configs = [TEST_CONFIG, workdir / "one_env.yaml", *([edit] if edit else [])]
    return run(workdir, "--allowed-rules", *RULES, *args, "--", *SUMMARY, configs=configs)


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    workdir = tmp_path_factory.mktemp("analyses")
    run(workdir, "results/splits/DemoDigits.csv")
    overlay(workdir, "one_env", {"dataset_settings": {"DemoDigits": {"test_envs": ["sketch"]}}})
    make_runs(workdir, "DemoDigits", ["erm", "cdga_pg", "cdga_ig"], ["sketch"], trials=1,
              level=1, resolution=16, steps=5)
    make_assembly(workdir, "DemoDigits", "cdga_pg", "sketch", level=1)
    write_csv(workdir / "results" / "summary" / "scaling.csv", pd.DataFrame(
        {"dataset": "DemoDigits", "method": ["erm", "cdga_pg", "cdga_pg"], "level": [0, 1, 2],
         "test_env": "sketch", "trial": 0, "selection": "training_domain",
         "acc": [0.5, 0.6, 0.65]}))
    analyse(workdir)
    return workdir


def test_analyses_write_tables_figures_and_report(study: Path) -> None:
    summary = study / "results" / "summary"
    adv = pd.read_csv(summary / "adversarial.csv")
    assert set(adv["method"]) == {"erm", "cdga_pg", "cdga_ig"}
    assert set(adv["eps"] * 255) == {0, 8} and set(adv["attack"]) == {"fgsm", "pgd"}
    clean = adv[adv["eps"] == 0].groupby("method")["acc"].nunique()
    assert (clean == 1).all()  # eps = 0 is the clean accuracy for both attacks
    land = pd.read_csv(summary / "landscape.csv")
    assert set(land["data"]) == {"train domains", "test domain"} and len(land) == 6
    assert land["hessian_top_eig"].notna().all()
    shift = pd.read_csv(summary / "shift.csv")
    assert len(shift) == 3 and shift[["transfer", "diversity", "correlation"]].notna().all().all()
    assert (shift["transfer"] >= shift["gap_at_head"] - 1e-9).all()
    for stem in ("adversarial", "landscape_1d", "landscape_2d", "shift", "scaling",
                 "tsne_DemoDigits_sketch"):
        assert (summary / "figures" / f"{stem}.png").stat().st_size > 0
        assert (summary / "figures" / f"{stem}.pdf").stat().st_size > 0
    points = pd.read_csv(study / "results" / "analyses" / "tsne" / "DemoDigits" / "sketch.csv")
    assert set(points["origin"]) == {"real", "synthetic"}
    assert not points.loc[points["origin"] == "synthetic", "group"].str.contains("sketch").any()
    analyse(study, "--report", "results/report.html")
    html = (study / "results" / "report.html").read_text()
    assert "adversarial.csv" in html and "tsne_DemoDigits_sketch.png" in html


def test_editing_one_analysis_reruns_only_it(study: Path) -> None:
    assert "Nothing to be done" in analyse(study).stderr
    edit = overlay(study, "edit", {"analyses": {"landscape": {"points_1d": 5}}})
    plan = analyse(study, "-n", "--quiet", "rules", edit=edit).stdout
    jobs = {line.split()[0]: int(line.split()[1]) for line in plan.splitlines()
            if len(line.split()) == 2 and line.split()[1].isdigit() and line.split()[0] != "total"}
    assert jobs == {"landscape": 3, "summarize_landscape": 1}
