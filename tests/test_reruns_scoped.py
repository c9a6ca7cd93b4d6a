"""Reruns scoped to what a job reads: an algorithm's own hyperparameter reruns that algorithm's
runs, synthetic_ratio the synthetic methods' runs, and an execution setting nothing
(cdga.hparams.job_settings; same finished study and dry-run plans as tests/test_reruns.py)."""

from __future__ import annotations

from pathlib import Path

from test_reruns import INPUT_UPDATED, PARAMS_CHANGED, outputs, plan, rules


def _trained(jobs) -> set[str]:
    return {j.wildcards["method"] for j in jobs if j.rule == "train"}


def test_mixup_alpha_reruns_only_the_mixup_runs_and_their_tables(finished_study: Path) -> None:
    jobs = plan(finished_study, {"training": {"mixup_alpha": 0.4}})
    assert _trained(jobs) == {"mixup_within", "mixup_inter"}
    assert all(j.reason.startswith(PARAMS_CHANGED) for j in jobs if j.rule == "train")
    assert set(rules(jobs)) == {"train", "tables", "scaling_figure"}
    assert all(INPUT_UPDATED in j.reason for j in jobs if j.rule in ("tables", "scaling_figure"))


def test_synthetic_ratio_reruns_only_the_synthetic_methods(finished_study: Path) -> None:
    jobs = plan(finished_study, {"training": {"synthetic_ratio": 0.25}})
    assert _trained(jobs) == {"cdga_pg", "cdga_ig", "ldm_within"}  # erm and the Mixups have none
    assert all(j.reason.startswith(PARAMS_CHANGED) for j in jobs if j.rule == "train")
    assert not {"generate", "assemble", "generation_quality", "train_demo_ldm"} & set(rules(jobs))


def test_execution_settings_rerun_nothing(finished_study: Path) -> None:
    edit = {"device": "cpu",
            "training": {"eval_batch_size": 7, "cache_images": False, "num_workers": 1},
            "generation": {"batch_size": 3, "workers": 0, "compile": True, "auto_batch_size": True}}
    assert plan(finished_study, edit) == []


def test_a_dataset_shard_count_regenerates_that_dataset(finished_study: Path) -> None:
    """dataset_settings.<D>.shards re-cuts the dataset's source images into jobs: every
    generate job of it reruns (a new shard holds other images), and what reads the shards."""
    before = outputs(finished_study, "synthetic/**/shard*.tar")
    jobs = plan(finished_study, {"dataset_settings": {"DemoDigits": {"shards": 2}}})
    generate = [j for j in jobs if j.rule == "generate"]
    assert len(generate) == 2 * before
    assert all(j.reason.startswith(PARAMS_CHANGED) for j in generate if j.wildcards["shard"] == "0")
    assert {"assemble", "generation_quality", "train"} <= set(rules(jobs))
    assert not {"train_demo_ldm", "make_demo_digits", "split_dataset"} & set(rules(jobs))
