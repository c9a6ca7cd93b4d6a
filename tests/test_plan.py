"""cdga.plan without Snakemake: which jobs a config asks for, what each reads, its params."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from cdga import config
from cdga.analyses import registry as analysis
from cdga.core import execution, layout, methods
from cdga.generation import variants
from cdga.plan import Plan, gpu_rules

REPO = Path(__file__).resolve().parents[1]
SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"


def demo(**edits) -> dict:
    """config/config.yaml (the demo, every test domain) with top-level blocks updated."""
    cfg = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    for key, value in edits.items():
        cfg[key] = value if not isinstance(value, dict) else {**cfg[key], **value}
    return cfg


def reads(plan: Plan) -> set[str]:
    """Every shard manifest some assembly or filter job reads."""
    out = set()
    for run in plan.runs():
        out |= set(plan.assembly_synthetic(run["dataset"], run["method"], run["test_env"],
                                           run["level"]))
    for job in plan.filter_jobs:
        out |= set(plan.filter_manifests(*job))
    return out


def families(manifests: set[str]) -> set[tuple[str, str]]:
    """(variant, 'src--tgt') of shard manifests results/synthetic/<ds>/<variant>/<pair>/..."""
    return {tuple(m.split("/")[3:5]) for m in manifests}


@pytest.mark.parametrize("chosen", [["erm", "cdga_pg"], ["cdga_ig_filtered"], ["ldm_within"],
                                    ["erm", "cdga_pg", "cdga_ig", "ldm_within"]])
def test_only_the_pairs_a_run_reads_are_generated(chosen: list[str]) -> None:
    plan = Plan(demo(methods=chosen, scaling={"levels": [2], "methods": []}))
    generated = {layout.manifest_of(t) for t in plan.generation_shards("DemoDigits")}
    assert reads(plan) <= generated
    # the (variant, pair) families: exactly those read; each with images_per_pair reps
    assert families(generated) == families(reads(plan))
    assert len(generated) == len(families(generated)) * plan.config["generation"]["images_per_pair"]
    pairs = {tuple(pair.split("--")) for _, pair in families(generated)}
    within = {(src, tgt) for src, tgt in pairs if src == tgt}
    assert bool(within) == ("ldm_within" in chosen)
    if chosen == ["ldm_within"]:
        assert within == pairs


def test_real_only_methods_generate_nothing() -> None:
    plan = Plan(demo(methods=["erm", "mixup_inter"]))
    assert plan.generation_shards("DemoDigits") == [] and plan.generated_datasets() == []
    assert plan.filter_jobs == []


def test_pairs_never_touch_the_test_domain_and_shards_multiply() -> None:
    cfg = demo(methods=["cdga_pg"], generation={"shards": 3, "images_per_pair": 2},
               dataset_settings={"DemoDigits": {**demo()["dataset_settings"]["DemoDigits"],
                                                "test_envs": ["photo"]}})
    plan = Plan(cfg)
    manifests = plan.assembly_synthetic("DemoDigits", "cdga_pg", "photo", 1)
    assert len(manifests) == 6 * 1 * 3  # 3 training domains: 6 ordered pairs, rep 0, 3 shards
    assert not any("photo" in m for m in manifests)
    assert len(plan.generation_shards("DemoDigits")) == 6 * 2 * 3  # reps 0..images_per_pair-1
    with pytest.raises(ValueError, match="exceeds generation.images_per_pair 2"):
        plan.assembly_synthetic("DemoDigits", "cdga_pg", "photo", 3)
    with pytest.raises(ValueError, match="runs at scale level 0, not 1"):
        plan.assembly_synthetic("DemoDigits", "erm", "photo", 1)


def test_runs_enumerate_methods_levels_trials_and_draws() -> None:
    cfg = demo(methods=["erm", "cdga_pg", "cdga_ig"], training={"trials": 2, "hparam_draws": 3},
               scaling={"default_level": 1, "levels": [2], "methods": ["cdga_pg"]})
    plan = Plan(cfg)
    runs = plan.runs()
    # per test domain (4) and trial (2): erm at 0, cdga_pg at 1 and 2, cdga_ig at 1; 4 draws each
    assert len(runs) == 4 * 2 * (1 + 2 + 1) * 4
    assert len(plan.runs(main_only=True)) == 4 * 2 * 3 * 4
    assert {r["draw"] for r in runs} == {"", "_hparams1", "_hparams2", "_hparams3"}
    assert {(r["method"], r["level"]) for r in runs} == {("erm", 0), ("cdga_pg", 1), ("cdga_pg", 2),
                                                         ("cdga_ig", 1)}
    assert len(set(plan.training_results())) == len(runs)
    # the draws differ from the defaults and from each other, and are reproducible
    drawn = [plan.training_params("DemoDigits", "erm", 0, layout.draw_part(k))["lr"] for k in range(4)]
    assert drawn[0] == cfg["training"]["lr"] and len(set(drawn)) == 4
    assert drawn == [Plan(cfg).training_params("DemoDigits", "erm", 0, layout.draw_part(k))["lr"]
                     for k in range(4)]


def test_each_jobs_params_hold_only_what_it_reads() -> None:
    cfg = demo()
    plan = Plan(cfg)
    pg = plan.generate_params("DemoDigits", "pg", "sketch")
    assert "pg" in pg["generation"] and "ig" not in pg["generation"]
    assert not set(execution.keys("generation")) & set(pg["generation"])
    assert "image_quality" not in pg["generation"]  # PNG ignores it
    assert pg["settings"] == variants.get("pg").prompt_settings(plan.settings("DemoDigits"), "sketch")
    erm = plan.training_params("DemoDigits", "erm", 0, "")
    assert not {"mixup_alpha", "synthetic_ratio", *execution.keys("training")} & set(erm)
    assert {"synthetic_ratio"} <= set(plan.training_params("DemoDigits", "cdga_pg", 0, ""))
    for name in plan.analyses():
        assert "batch_size" not in plan.analysis_params(name)
        assert plan.analysis_params(name) == {k: v for k, v in cfg["analyses"][name].items()
                                              if k != "batch_size"}
    rule = cfg["filtering"]["rule"]
    assert plan.filter_params() == {"rule": rule, rule: cfg["filtering"][rule]}


def test_execution_settings_change_no_params() -> None:
    base = demo()
    edited = copy.deepcopy(base)
    for block, keys in execution.EXECUTION.items():
        values = edited
        for part in filter(None, block.split(".")):
            values = values[part]
        for key in keys:
            values[key] = "changed"
    before, after = Plan(base), Plan(edited)
    assert before.generate_params("DemoDigits", "ig", "photo") == after.generate_params("DemoDigits", "ig", "photo")
    assert before.training_params("DemoDigits", "mixup_inter", 1, "_hparams2") == \
        after.training_params("DemoDigits", "mixup_inter", 1, "_hparams2")
    for name in before.analyses():
        assert before.analysis_params(name) == after.analysis_params(name)


def test_every_execution_key_is_a_key_of_its_block_in_the_schema() -> None:
    schema = config.load_schema(SCHEMA)
    for block, keys in execution.EXECUTION.items():
        node = schema
        for part in filter(None, block.split(".")):
            node = node["properties"][part]
        assert set(keys) <= set(node["properties"]), block
    for block, keys in execution.SHAPE.items():
        assert set(keys) <= set(schema["properties"][block]["properties"]), block


def test_analysed_runs_and_gpu_rules() -> None:
    plan = Plan(demo(analyses={"methods": ["erm", "cdga_ig"], "trials": 5}))
    runs = plan.analysed_runs()
    assert len(runs) == 2 * 4 * 2  # methods x test domains x min(analyses, training trials)
    assert plan.analysis_jobs("shift") == [{"dataset": "DemoDigits", "test_env": t}
                                           for t in plan.test_envs("DemoDigits")]
    assert plan.analysis_jobs("adversarial") == runs
    assert {"train", "generate", *analysis.ANALYSES} <= set(gpu_rules())
    assert methods.method(runs[0]["method"]).synthetic is None


def test_each_analysis_names_the_params_its_jobs_get() -> None:
    plan = Plan(demo())
    for name in plan.analyses():
        spec = analysis.get(name)
        for job in plan.analysis_jobs(name)[:2]:
            assert set(spec.job_params(plan, job)) == set(spec.param_names()), name
            assert set(spec.job_inputs(plan, job)) >= {"model", "split"}, name
