"""Stage 1 through Snakemake: config validation at start and the DemoDigits data jobs."""

import tomllib
from pathlib import Path

import pandas as pd
import yaml
from conftest import REPO
from study import overlay, planned_jobs, run

from cdga.core import layout


def test_dry_run_lists_data_jobs(tmp_path: Path) -> None:
    jobs = planned_jobs(tmp_path, "results/splits/DemoDigits.csv")
    assert jobs == {"make_demo_digits": 1, "split_dataset": 1}


def test_invalid_config_stops_before_any_job(tmp_path: Path) -> None:
    bad = overlay(tmp_path, "bad", {"split": {"holdout_fraction": "lots"}})
    proc = run(tmp_path, configs=(bad,), check=False)  # over the demo config
    assert proc.returncode != 0
    assert "config key split.holdout_fraction: bad value 'lots'" in proc.stdout + proc.stderr
    assert not (tmp_path / "results").exists()


def test_data_rules_build_demo_digits(tmp_path: Path) -> None:
    run(tmp_path, "results/splits/DemoDigits.csv")
    table = pd.read_csv(tmp_path / "results" / "splits" / "DemoDigits.csv")
    assert table.groupby("domain")["class_name"].nunique().to_dict() == {
        "art_painting": 10, "cartoon": 10, "photo": 10, "sketch": 10}
    assert set(table["split"]) == {"train", "val"}
    assert (tmp_path / "results" / "data" / "DemoDigits_pretrain" / "captions.csv").is_file()
    assert (tmp_path / layout.log("split_dataset", dataset="DemoDigits")).read_text()
    assert "Nothing to be done" in run(tmp_path, "results/splits/DemoDigits.csv").stderr


def test_workflow_passes_snakemakes_linter(tmp_path: Path) -> None:
    """Every rule has a log and the conda env; input functions live in common.smk."""
    proc = run(tmp_path, "--lint", check=False)
    assert proc.returncode == 0 and "Congratulations" in proc.stdout + proc.stderr, proc.stdout[-3000:]


def test_rule_env_holds_the_packages_dependencies() -> None:
    env = yaml.safe_load((REPO / "workflow" / "envs" / "cdga.yaml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert pip == project["dependencies"]
