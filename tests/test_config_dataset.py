"""A dataset from config alone: a DomainBed-layout folder the project has never seen, with a
digit and a hyphen in its name and its own domain and class names, runs the study's DAG."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from study import TEST_CONFIG, merged, overlay, planned_jobs, run
from toy_dataset import write_image

from cdga import config
from cdga.core import methods, registry

NAME = "Scans-2"
DOMAINS = ("ward_a", "ward_b", "ward_c")


def _study(tmp_path: Path, **settings: object) -> Path:
    """Images under tmp_path/data/Scans-2/<ward>/<class>/ and a config overlay naming them."""
    for d in DOMAINS:
        for c in ("benign", "tumour"):
            for k in range(6):
                write_image(tmp_path / "data" / NAME / d / c / f"{k}.png", seed=hash((d, c, k)) % 999,
                            size=16)
    block = {"domains": "every folder", "variants": ["ig"], "test_envs": ["ward_a"],
             "class_prompt_template": "a scan showing {class_name}"} | settings
    return overlay(tmp_path, "scans", {"datasets_root": str(tmp_path / "data"), "datasets": [NAME],
                                       "dataset_settings": {NAME: block}})


def test_every_folder_and_a_listed_order_resolve(tmp_path: Path) -> None:
    _study(tmp_path)
    root = tmp_path / "data"
    assert registry.resolve(NAME, {"domains": "every folder"}, root).domains == DOMAINS
    assert registry.resolve(NAME, {"domains": ["ward_c", "ward_a", "ward_b"]}, root).domains == (
        "ward_c", "ward_a", "ward_b")
    assert registry.resolve("PACS", {}, root) == registry.DATASETS["PACS"]
    with pytest.raises(ValueError, match=r"dataset_settings\.Other\.domains: missing"):
        registry.resolve("Other", {}, root)
    with pytest.raises(ValueError, match="bad dataset name 'a/b'"):
        registry.resolve("a/b", {"domains": ["x", "y"]}, root)


def test_config_checks_name_the_new_datasets_domains(tmp_path: Path) -> None:
    cfg = {"datasets_root": str(tmp_path / "data"), "datasets": [NAME],
           "dataset_settings": {NAME: {"domains": "every folder", "variants": ["pg"],
                                       "test_envs": ["ward_z"]}}}
    _study(tmp_path)
    errors = "\n".join(config.registry_errors(cfg))
    assert "unknown domain 'ward_z'" in errors and "needs a description" in errors


def test_a_config_only_dataset_runs_through_training_and_the_tables(tmp_path: Path) -> None:
    scans = _study(tmp_path)
    every = planned_jobs(tmp_path, configs=(TEST_CONFIG, scans))
    # held out on ward_a: the IG pairs between the other 2 wards plus their within-ward pairs
    # (no run reads a pair with ward_a); no prepare rule, no DemoDigits
    assert every["generate"] == 2 + 2 and every["split_dataset"] == 1
    study = merged(TEST_CONFIG)
    ig_only = [m for m in study["methods"] if methods.runs_on(m, ["ig"])]
    assert set(study["methods"]) - set(ig_only) == {"cdga_pg", "cdga_pg_filtered"}  # need PG
    assert every["train"] == len(ig_only) * study["training"]["trials"] and "tables" in every
    assert not any(rule.startswith("prepare_") for rule in every)

    real_only = overlay(tmp_path, "real_only", {"methods": ["erm", "mixup_inter"]})
    accuracy = "results/summary/accuracy.csv"
    run(tmp_path, accuracy, configs=(TEST_CONFIG, scans, real_only))
    acc = pd.read_csv(tmp_path / accuracy)
    assert set(acc["dataset"]) == {NAME} and set(acc["test_env"]) == {"ward_a"}
    assert set(acc["method"]) == {"erm", "mixup_inter"} and acc["acc"].between(0, 1).all()
    split = pd.read_csv(tmp_path / f"results/splits/{NAME}.csv")
    assert set(split["domain"]) == set(DOMAINS) and set(split["class_name"]) == {"benign", "tumour"}
