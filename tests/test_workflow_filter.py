"""The filter stage through Snakemake: its jobs per (dataset, variant, test domain), a tiny run
to the filtered methods' manifests, and a threshold edit that replans only the filter."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from study import INPUT_UPDATED, PARAMS_CHANGED, TEST_CONFIG, overlay, plan, planned_jobs, run

from cdga.core import layout

SUMMARY = ["results/summary/filtering_pairs.csv", "results/summary/filtering_classes.csv"]
ASSEMBLY = "results/assembly/DemoDigits/{}/photo/scale1.csv"


def test_one_scorer_per_test_domain_one_filter_per_variant(tmp_path: Path) -> None:
    jobs = planned_jobs(tmp_path, *SUMMARY)
    assert (jobs["filter_scorer"], jobs["filter_synthetic"], jobs["filter_summary"]) == (1, 2, 1)
    every = overlay(tmp_path, "every", {"dataset_settings": {"DemoDigits": {
        "test_envs": ["photo", "art_painting", "cartoon", "sketch"], "variants": ["ig"]}}})
    jobs = planned_jobs(tmp_path, *SUMMARY, configs=(TEST_CONFIG, every))
    assert (jobs["filter_scorer"], jobs["filter_synthetic"]) == (4, 4)  # IG only: no PG filter
    unfiltered = overlay(tmp_path, "unfiltered", {"methods": ["erm", "cdga_pg", "cdga_ig"]})
    jobs = planned_jobs(tmp_path, configs=(TEST_CONFIG, unfiltered))
    assert not {"filter_scorer", "filter_synthetic", "filter_summary"} & set(jobs)


def test_filter_then_the_filtered_manifests(tmp_path: Path) -> None:
    """PG only (half the generation jobs; the IG filter takes the same code path)."""
    pg = overlay(tmp_path.parent, f"{tmp_path.name}-pg", {"dataset_settings": {"DemoDigits": {"variants": ["pg"]}}})
    configs = (TEST_CONFIG, pg)
    targets = [*SUMMARY, ASSEMBLY.format("cdga_pg_filtered"), ASSEMBLY.format("cdga_pg")]
    run(tmp_path, *targets, configs=configs)
    results = tmp_path / "results"
    split = pd.read_csv(results / "splits/DemoDigits.csv")
    rows = pd.read_csv(results / "filter/DemoDigits/photo/scorer_rows.csv")
    expected = split[(split["domain"] != "photo") & (split["split"] == "train")]
    assert sorted(rows["path"]) == sorted(expected["path"])  # no test-domain, no validation image
    assert not (results / "filter/DemoDigits/photo/ig.csv").exists()
    decisions = pd.read_csv(results / "filter/DemoDigits/photo/pg.csv", keep_default_na=False)
    pairs = set(zip(decisions["source_domain"], decisions["target_domain"], strict=True))
    assert len(pairs) == 6 and not any("photo" in p for p in pairs)
    assert (decisions["keep"] == (decisions["source_prob"] > 0.05)).all()
    assert 0 < decisions["keep"].sum()
    manifest = pd.read_csv(tmp_path / ASSEMBLY.format("cdga_pg_filtered"), keep_default_na=False)
    synthetic = manifest[manifest["origin"] == "synthetic"]
    kept = decisions[decisions["keep"]]
    assert sorted(synthetic["path"] + synthetic["shard"]) == sorted(kept["member"] + kept["shard"])
    unfiltered = pd.read_csv(tmp_path / ASSEMBLY.format("cdga_pg"), keep_default_na=False)
    assert (unfiltered["origin"] == "synthetic").sum() == len(decisions)  # the twin: every image
    shares = pd.read_csv(results / "summary/filtering_pairs.csv")
    assert len(shares) == 6 and shares["kept_share"].between(0, 1).all()
    assert (results / "summary/figures/filtering_examples_DemoDigits.png").stat().st_size > 0
    assert (results.parent / layout.log("filter_scorer", dataset="DemoDigits", test_env="photo")).read_text()

    edit = plan(tmp_path, {"filtering": {"threshold": 0.1},
                           "dataset_settings": {"DemoDigits": {"variants": ["pg"]}}}, targets)
    assert {(j.rule, j.wildcards.get("method", j.wildcards.get("variant"))) for j in edit} == {
        ("filter_synthetic", "pg"), ("filter_summary", None), ("assemble", "cdga_pg_filtered")}
    assert all(j.reason.startswith(PARAMS_CHANGED) for j in edit if j.rule == "filter_synthetic")
    assert all(INPUT_UPDATED in j.reason for j in edit if j.rule != "filter_synthetic")


def test_a_keep_list_that_keeps_nothing_leaves_the_tables_and_the_report_whole(
        tmp_path: Path) -> None:
    """A threshold no image passes: the filtered method trains on real images only, the filter
    summary and the accuracy tables' note say so, and the whole study and its report build."""
    empty = overlay(tmp_path.parent, f"{tmp_path.name}-empty", {
        "methods": ["erm", "cdga_pg_filtered"],
        "dataset_settings": {"DemoDigits": {"variants": ["pg"]}},
        "filtering": {"rule": "threshold", "threshold": 0.999999},
        "analyses": {"methods": ["erm"]},
        "scaling": {"levels": [], "methods": ["cdga_pg_filtered"]}})
    configs = (TEST_CONFIG, empty)
    run(tmp_path, configs=configs)
    run(tmp_path, "--report", "results/report.html", configs=configs)
    results = tmp_path / "results"
    decisions = pd.read_csv(results / "filter/DemoDigits/photo/pg.csv", keep_default_na=False)
    assert len(decisions) and not decisions["keep"].any()  # the premise: nothing kept
    none = pd.read_csv(results / "summary/filtering_empty.csv")
    assert len(none) == 6 and set(none["rep"]) == {0} and none["n"].sum() == len(decisions)
    manifest = pd.read_csv(tmp_path / ASSEMBLY.format("cdga_pg_filtered"), keep_default_na=False)
    assert set(manifest["origin"]) == {"real"}
    accuracy = pd.read_csv(results / "summary/accuracy.csv")
    assert {"erm", "cdga_pg_filtered"} <= set(accuracy["method"])
    md = (results / "summary/accuracy.md").read_text()
    assert "cdga_pg_filtered, DemoDigits, test domain photo: the filter kept no" in md
    assert "the filter kept no" in (results / "summary/accuracy.tex").read_text()
    assert (results / "report.html").stat().st_size > 0
