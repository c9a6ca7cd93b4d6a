"""Stage 2 through Snakemake: the demo LDM trained in the DAG and generation jobs per pair."""

from pathlib import Path

import pandas as pd
from study import TEST_CONFIG, overlay, planned_jobs, run

from cdga.core import layout
from cdga.data.shards import TarShard

QUALITY = "results/summary/generation_quality.csv"


def test_one_generation_job_per_variant_pair_rep_and_shard(tmp_path: Path) -> None:
    jobs = planned_jobs(tmp_path, QUALITY)
    # DemoDigits held out on photo (config/test.yaml): the 6 ordered pairs of the other three
    # domains x (pg, ig) + their 3 within-domain pairs (pg), 1 rep, 1 shard
    assert jobs["generate"] == 15 and jobs["train_demo_ldm"] == 1
    more = overlay(tmp_path, "more", {"generation": {"images_per_pair": 2, "shards": 3}})
    assert planned_jobs(tmp_path, QUALITY, configs=(TEST_CONFIG, more))["generate"] == 15 * 2 * 3
    own = overlay(tmp_path, "own", {"generation": {"shards": 3},  # a dataset's own count wins
                                    "dataset_settings": {"DemoDigits": {"shards": 2}}})
    assert planned_jobs(tmp_path, QUALITY, configs=(TEST_CONFIG, own))["generate"] == 15 * 2
    every = overlay(tmp_path, "every", {"dataset_settings": {"DemoDigits": {
        "test_envs": ["photo", "art_painting", "cartoon", "sketch"]}}})
    assert planned_jobs(tmp_path, QUALITY, configs=(TEST_CONFIG, every))["generate"] == 12 * 2 + 4


def test_a_hub_model_is_not_trained_in_the_dag(tmp_path: Path) -> None:
    hub = overlay(tmp_path, "hub", {"ldm": {"model": "org/model"}})
    jobs = planned_jobs(tmp_path, QUALITY, configs=(hub,))  # over the demo config, not test.yaml
    assert "train_demo_ldm" not in jobs and jobs["generate"] > 0


def test_demo_ldm_then_pg_and_ig_shards(tmp_path: Path) -> None:
    base = "results/synthetic/DemoDigits"
    targets = [f"{base}/pg/photo--sketch/rep0/shard0.tar", f"{base}/ig/sketch--cartoon/rep0/shard0.tar"]
    run(tmp_path, *targets)
    assert (tmp_path / "results/models/demo_ldm/model_index.json").is_file()
    split = pd.read_csv(tmp_path / "results/splits/DemoDigits.csv")
    for tar, (variant, src, tgt) in zip(targets, [("pg", "photo", "sketch"), ("ig", "sketch", "cartoon")]):
        manifest = pd.read_csv(tmp_path / tar.replace(".tar", ".csv"), keep_default_na=False)
        sources = split[(split["domain"] == src) & (split["split"] == "train")]
        assert sorted(manifest["source_path"]) == sorted(sources["path"])
        assert list(manifest["member"]) == TarShard(tmp_path / tar).names()
        assert set(manifest["variant"]) == {variant} and set(manifest["target_domain"]) == {tgt}
        assert set(manifest["model"]) == {"results/models/demo_ldm"}
        assert TarShard(tmp_path / tar).image(manifest["member"][0]).size == (16, 16)
    assert manifest["prompt"][0].startswith("the digit ")  # IG: class-only prompt
    assert (tmp_path / layout.log("train_demo_ldm")).read_text()
    assert "Nothing to be done" in run(tmp_path, *targets).stderr
