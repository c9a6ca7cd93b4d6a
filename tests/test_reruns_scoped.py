"""Reruns scoped to what a job reads: an algorithm's own hyperparameter reruns that algorithm's
runs, synthetic_ratio the synthetic methods' runs, and an execution setting nothing
(cdga.core.hparams.job_settings; same finished study and dry-run plans, tests/study.py, as tests/test_reruns.py)."""

from __future__ import annotations

from pathlib import Path

from study import INPUT_UPDATED, PARAMS_CHANGED, outputs, plan, rules


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
    # erm and the Mixups have none
    assert _trained(jobs) == {"cdga_pg", "cdga_ig", "ldm_within", "cdga_pg_filtered",
                              "cdga_ig_filtered"}
    assert all(j.reason.startswith(PARAMS_CHANGED) for j in jobs if j.rule == "train")
    assert not {"generate", "assemble", "generation_quality", "train_demo_ldm", "filter_scorer",
                "filter_synthetic"} & set(rules(jobs))


def test_execution_settings_rerun_nothing(finished_study: Path) -> None:
    edit = {"device": "cpu",
            "training": {"eval_batch_size": 7, "cache_images": False, "num_workers": 1,
                         "prefetch_factor": 3, "persistent_workers": False, "jpeg_draft": True,
                         "decode": "device"},
            "generation": {"batch_size": 3, "workers": "auto", "compile": True, "auto_batch_size": True,
                           "compile_mode": "reduce-overhead", "compile_vae": True,
                           "compile_cache": "/tmp/cdga compile cache", "memory_format": "channels_last",
                           "attention": "math", "sync_free_steps": True},
            "filtering": {"eval_batch_size": 5, "num_workers": 1, "threads": 2},
            "analyses": {name: {"batch_size": 3} for name in ("adversarial", "landscape", "shift",
                                                               "tsne")}}
    assert plan(finished_study, edit) == []


def test_filter_threshold_reruns_only_the_filter_the_filtered_runs_and_their_readers(
        finished_study: Path) -> None:
    jobs = plan(finished_study, {"filtering": {"threshold": 0.1}})
    assert set(rules(jobs)) == {"filter_synthetic", "assemble", "train", "tables",
                                "scaling_figure", "filter_summary"}
    filtered = {"cdga_pg_filtered", "cdga_ig_filtered"}
    assert _trained(jobs) == filtered  # the scorer, generation and the other runs stay
    assert {j.wildcards["method"] for j in jobs if j.rule == "assemble"} == filtered
    assert {j.wildcards["variant"] for j in jobs if j.rule == "filter_synthetic"} == {"pg", "ig"}
    assert all(j.reason.startswith(PARAMS_CHANGED) for j in jobs if j.rule == "filter_synthetic")
    assert all(INPUT_UPDATED in j.reason for j in jobs
               if j.rule not in ("filter_synthetic", "all"))


def test_the_inactive_filter_rules_value_reruns_nothing(finished_study: Path) -> None:
    assert plan(finished_study, {"filtering": {"top_share": 0.5, "class_share": 0.5}}) == []  # threshold


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
