"""Partial reruns: on a finished test-config study, a config edit plans exactly the jobs it affects.

Each test edits one value (an extra config file over config/test.yaml) and reads the plan of
`snakemake -n`: every planned job's rule, wildcards and reason. The finished study is shared with
the other whole-DAG tests (tests/study.py) and only dry runs touch it here.
"""

from __future__ import annotations

from pathlib import Path

from study import INPUT_UPDATED, PARAMS_CHANGED, TEST_CONFIG, merged, outputs, plan, rules


def merged_test_config() -> dict:
    """config/config.yaml with config/test.yaml merged over it, as the study ran."""
    return merged(TEST_CONFIG)


def test_finished_study_plans_nothing(finished_study: Path) -> None:
    assert plan(finished_study) == []


def test_device_and_threads_are_execution_settings_that_rerun_nothing(finished_study: Path) -> None:
    threads = {"threads": 2}
    assert plan(finished_study, {"device": "cpu", "demo_ldm": threads, "generation": threads,
                                 "generation_quality": threads, "training": threads,
                                 "analyses": threads, "filtering": threads}) == []


def test_pg_guidance_scale_reruns_pg_generation_and_downstream(finished_study: Path) -> None:
    jobs = plan(finished_study, {"generation": {"pg": {"guidance_scale": 7.5}}})
    generate = [j for j in jobs if j.rule == "generate"]
    assert generate and {j.wildcards["variant"] for j in generate} == {"pg"}
    assert all(j.reason.startswith(PARAMS_CHANGED) for j in generate)
    trained = {j.wildcards["method"] for j in jobs if j.rule == "train"}
    assert "cdga_pg" in trained
    assert not trained & {"erm", "mixup_within", "mixup_inter", "cdga_ig"}
    assert not {"train_demo_ldm", "make_demo_digits", "split_dataset"} & set(rules(jobs))
    downstream = [j for j in jobs if j.rule not in ("generate", "all")]
    assert all(INPUT_UPDATED in j.reason for j in downstream)


def test_image_format_reruns_every_generation_job_and_png_ignores_the_quality(finished_study: Path) -> None:
    """image_format changes the shard bytes (not an execution setting); PNG has no quality."""
    assert plan(finished_study, {"generation": {"image_quality": 40}}) == []
    jobs = plan(finished_study, {"generation": {"image_format": "jpeg"}})
    generate = [j for j in jobs if j.rule == "generate"]
    assert len(generate) == outputs(finished_study, "synthetic/**/shard*.tar")
    assert all(j.reason.startswith(PARAMS_CHANGED) for j in generate)
    assert {"generation_quality", "assemble", "train"} <= set(rules(jobs))
    assert not {"train_demo_ldm", "make_demo_digits", "split_dataset"} & set(rules(jobs))


def test_training_lr_reruns_training_and_downstream_only(finished_study: Path) -> None:
    jobs = plan(finished_study, {"training": {"lr": 0.004}})
    planned = rules(jobs)
    assert planned["train"] == outputs(finished_study, "train/**/results.jsonl")
    assert all(j.reason.startswith(PARAMS_CHANGED) for j in jobs if j.rule == "train")
    assert not {"generate", "train_demo_ldm", "assemble", "make_demo_digits", "split_dataset",
                "generation_quality", "filter_scorer", "filter_synthetic"} & set(planned)
    assert {"tables", "adversarial", "landscape"} <= set(planned)


def test_new_trial_plans_only_that_trial_and_tables(finished_study: Path) -> None:
    trials = merged_test_config()["training"]["trials"]
    jobs = plan(finished_study, {"training": {"trials": trials + 1}})
    train = [j for j in jobs if j.rule == "train"]
    assert train and {j.wildcards["trial"] for j in train} == {str(trials)}
    assert all(j.reason.startswith("Missing output files") for j in train)
    assert set(rules(jobs)) - {"train"} <= {"tables", "scaling_figure"}
    assert "tables" in rules(jobs)


def test_adversarial_eps_reruns_only_the_adversarial_analysis(finished_study: Path) -> None:
    eps = merged_test_config()["analyses"]["adversarial"]["eps_255"]
    jobs = plan(finished_study, {"analyses": {"adversarial": {"eps_255": [*eps, max(eps) + 8]}}})
    planned = rules(jobs)
    assert set(planned) == {"adversarial", "summarize_adversarial"}
    assert planned["adversarial"] == outputs(finished_study, "analyses/adversarial/**/*.csv")
    assert all(j.reason.startswith(PARAMS_CHANGED) for j in jobs if j.rule == "adversarial")
