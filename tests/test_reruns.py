"""Partial reruns: on a finished test-config study, a config edit plans exactly the jobs it affects.

Each test edits one value (an extra config file over config/test.yaml) and reads the plan of
`snakemake -n`: every planned job's rule, wildcards and reason. The finished study is shared with
the other whole-DAG tests (tests/study.py) and only dry runs touch it here.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml
from snakemake.utils import update_config

from workflow import SNAKEFILE, TEST_CONFIG

PARAMS_CHANGED = "Params have changed since last execution"
INPUT_UPDATED = "Input files updated by another job"
NEW_INPUT = "Set of input files has changed since last execution"


@dataclass(frozen=True)
class Job:
    rule: str
    wildcards: dict[str, str]
    reason: str


def plan(workdir: Path, edit: dict | None = None, targets: Sequence[str] = ()) -> list[Job]:
    """The jobs `snakemake -n` plans in ``workdir`` (for ``targets``, default all) with ``edit``
    merged over the test config."""
    configs = [str(TEST_CONFIG)]
    if edit is not None:
        configs.append(str(workdir.parent / f"{workdir.name}-edit.yaml"))
        Path(configs[-1]).write_text(yaml.safe_dump(edit))
    proc = subprocess.run([sys.executable, "-m", "snakemake", "-s", str(SNAKEFILE), "--directory",
                           str(workdir), "--configfile", *configs, "--cores", "2", "-n",
                           *targets],
                          capture_output=True, text=True, cwd=workdir, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    jobs = []
    for block in re.split(r"^(?=(?:local)?rule \w+:$)", out, flags=re.MULTILINE)[1:]:
        rule = re.match(r"(?:local)?rule (\w+):", block)[1]
        reason = re.search(r"^\s+reason: (.*)$", block, re.MULTILINE)[1]
        found = re.search(r"^\s+wildcards: (.*)$", block, re.MULTILINE)
        wildcards = dict(kv.split("=", 1) for kv in found[1].split(", ")) if found else {}
        jobs.append(Job(rule, wildcards, reason))
    if not jobs:
        assert "Nothing to be done" in out, out[-4000:]
    return jobs


def merged_test_config() -> dict:
    """config/config.yaml with config/test.yaml merged over it, as the study ran."""
    config = yaml.safe_load((TEST_CONFIG.parent / "config.yaml").read_text())
    update_config(config, yaml.safe_load(TEST_CONFIG.read_text()))
    return config


def rules(jobs: list[Job]) -> Counter:
    return Counter(j.rule for j in jobs if j.rule != "all")


def outputs(workdir: Path, pattern: str) -> int:
    """How many files of the finished study match ``pattern`` under results/."""
    return sum(1 for _ in (workdir / "results").glob(pattern))


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
