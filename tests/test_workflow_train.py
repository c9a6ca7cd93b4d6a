"""Assembly, training and tables through Snakemake for method erm (no synthetic data needed)."""

from pathlib import Path

import pandas as pd
from study import TEST_CONFIG, overlay, planned_jobs, run

OUTPUTS = ["results/summary/accuracy.csv", "results/summary/accuracy.md",
           "results/summary/accuracy.tex", "results/summary/overview.md",
           "results/summary/scaling.csv"]


def test_erm_runs_end_to_end(tmp_path: Path) -> None:
    small = overlay(tmp_path, "erm", {"methods": ["erm"],
                                      "dataset_settings": {"DemoDigits": {"test_envs": ["photo"]}}})
    configs = (TEST_CONFIG, small)
    assert planned_jobs(tmp_path, *OUTPUTS, configs=configs) == {
        "make_demo_digits": 1, "split_dataset": 1, "assemble": 1, "train": 2, "tables": 1}
    run(tmp_path, *OUTPUTS, configs=configs)

    acc = pd.read_csv(tmp_path / OUTPUTS[0])
    assert list(acc.columns) == ["dataset", "method", "test_env", "selection", "trial",
                                 "hparams_seed", "acc"]
    assert len(acc) == 2 * 2 and acc["acc"].between(0, 1).all()
    manifest = pd.read_csv(tmp_path / "results/assembly/DemoDigits/erm/photo/scale0.csv")
    assert "photo" not in set(manifest.loc[manifest["role"] == "train", "domain"])
    trial = tmp_path / "results/train/DemoDigits/erm/photo/scale0/trial1"
    assert (trial / "model_training_domain.pt").is_file() and (trial / "model_oracle.pt").is_file()
    md = (tmp_path / OUTPUTS[1]).read_text()
    assert "| method | photo | Avg |" in md and "| erm |" in md
    assert "Nothing to be done" in run(tmp_path, *OUTPUTS, configs=configs).stderr


def test_methods_without_their_variant_are_skipped(tmp_path: Path) -> None:
    ig_only = overlay(tmp_path, "ig", {"training": {"trials": 1}, "dataset_settings": {
        "DemoDigits": {"variants": ["ig"], "test_envs": ["photo"]}}})
    out = run(tmp_path, OUTPUTS[0], "-n", configs=(TEST_CONFIG, ig_only)).stdout
    trained = {line.split("method=")[1].split(",")[0] for line in out.splitlines()
               if "wildcards:" in line and "method=" in line and "trial=" in line}
    assert trained == {"erm", "cdga_ig", "ldm_within", "mixup_within", "mixup_inter",
                       "cdga_ig_filtered"}
    assert "results/synthetic/DemoDigits/ig/cartoon--cartoon/rep0/shard0.csv" in out
    assert "/pg/" not in out and "photo--" not in out and "--photo" not in out
