"""config/paper.yaml: the study the issue specifies, with a paper-scale value for every demo key."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator, Mapping
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import REPO
from sd_pipeline import save_tiny_pipeline
from study import PARAMS_CHANGED, merged, outputs, overlay, plan, rules, run
from toy_dataset import write_image

from cdga.core.registry import domains
from cdga.data.shards import TarShard

# Sections paper.yaml deliberately inherits from config.yaml, and why.
INHERITED = {
    "downloads": "the same DomainBed sources serve both studies",
    "demo_digits": "DemoDigits is not part of the paper study",
    "demo_ldm": "the paper study uses pretrained Stable Diffusion, not the demo LDM",
    "plugins": "a user's own classes serve both studies alike",
}


def load(name: str) -> dict:
    return yaml.safe_load((REPO / "config" / name).read_text())


def leaves(tree: Mapping, prefix: str = "") -> Iterator[str]:
    for key, value in tree.items():
        if isinstance(value, Mapping) and value:
            yield from leaves(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}"


@pytest.fixture(scope="module")
def paper() -> dict:
    return merged(REPO / "config" / "paper.yaml")


def test_every_demo_value_has_a_paper_value() -> None:
    demo, own = load("config.yaml"), load("paper.yaml")
    shared = {k: v for k, v in demo.items() if k not in INHERITED and k != "dataset_settings"}
    missing = sorted(set(leaves(shared)) - set(leaves(own)))
    assert not missing, f"config/paper.yaml lacks paper-scale values for {missing}"
    for section in INHERITED:
        assert section not in own or section == "downloads"


def test_datasets_domains_and_variants(paper: dict) -> None:
    assert paper["datasets"] == ["PACS", "VLCS", "OfficeHome", "TerraIncognita", "DomainNet"]
    for name in paper["datasets"]:
        ds = paper["dataset_settings"][name]
        assert sorted(ds["test_envs"]) == sorted(domains(name))
        assert "ig" in ds["variants"]
        if name in ("VLCS", "TerraIncognita"):
            assert ds["variants"] == ["ig"] and "descriptions" not in ds
        else:
            assert ds["variants"] == ["pg", "ig"]
            assert sorted(ds["descriptions"]) == sorted(domains(name))
            assert "{domain}" in ds["prompt_template"] and "{class_name}" in ds["prompt_template"]
        # the IG prompt names the class and none of the domains
        assert "{class_name}" in ds["class_prompt_template"]
        assert not any(d.lower() in ds["class_prompt_template"].lower() for d in domains(name))


def test_domainbed_training_protocol(paper: dict) -> None:
    t = paper["training"]
    assert (t["trials"], t["backbone"], t["weights"]) == (3, "resnet50", "IMAGENET1K_V1")
    assert (t["steps"], t["checkpoint_freq"], t["lr"], t["batch_size"]) == (5001, 300, 5e-5, 32)
    assert (t["resolution"], t["weight_decay"]) == (224, 0)
    assert [paper["dataset_settings"][d].get("checkpoint_freq") for d in paper["datasets"]] == [
        None, None, None, None, 1000]  # DomainBed evaluates DomainNet every 1000 steps
    assert t["augment"] == {"crop_scale": [0.7, 1.0], "hflip": True, "color_jitter": 0.3,
                            "grayscale": 0.1}
    assert paper["split"]["holdout_fraction"] == 0.2
    assert (t["freeze_bn"], t["mixup_alpha"]) == (True, 0.2)  # the published tables' BatchNorm
    assert {"erm", "mixup_inter"} <= set(paper["methods"])  # DomainBed's ERM and Mixup rows


def hub_cache(hf_home: Path, repo_id: str, pipeline_dir: Path) -> None:
    """Lay ``pipeline_dir`` out as the Hugging Face cache's snapshot of ``repo_id``."""
    repo = hf_home / "hub" / f"models--{repo_id.replace('/', '--')}"
    commit = "0" * 40
    shutil.copytree(pipeline_dir, repo / "snapshots" / commit)
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)


@pytest.mark.slow
def test_generation_rule_loads_the_paper_checkpoint_offline(tmp_path: Path, paper: dict) -> None:
    """The paper config's generate job, with SD v1.5's hub id resolved from a pre-filled cache.

    The cache holds a tiny random SD-architecture pipeline under the paper's model id; only
    the data root and the image size are overridden, so model loading (hub id, offline cache,
    dtype choice, scheduler swap), prompts and generation take the cluster's code path.
    """
    model_id = paper["ldm"]["model"]
    assert model_id == "stable-diffusion-v1-5/stable-diffusion-v1-5"
    hub_cache(tmp_path / "hf", model_id, save_tiny_pipeline(tmp_path / "tiny", resolution=16))
    for d in domains("PACS"):
        for c in ("dog", "horse"):
            for k in range(5):
                write_image(tmp_path / "data" / "PACS" / d / c / f"{k}.png", seed=k, size=16)
    override = overlay(tmp_path, "override", {
        "datasets_root": str(tmp_path / "data"),
        "generation": {"resolution": 16},
    })
    work = tmp_path / "work"
    work.mkdir()
    target = "results/synthetic/PACS/pg/photo--sketch/rep0/shard0.tar"
    env = {**os.environ, "HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "1"}
    proc = run(work, target, configs=(REPO / "config" / "paper.yaml", override), env=env)
    manifest = pd.read_csv(work / target.replace(".tar", ".csv"))
    assert len(manifest) >= 1
    assert set(manifest["model"]) == {model_id}
    assert set(manifest["resolution"]) == {16}
    assert set(manifest["steps"]) == {paper["generation"]["steps"]}
    assert set(manifest["strength"]) == {paper["generation"]["pg"]["strength"]}
    assert set(manifest["prompt"]) <= {"a black and white sketch of a dog",
                                       "a black and white sketch of a horse"}
    assert TarShard(work / target).image(manifest["member"].iloc[0]).size == (16, 16)
    assert "train_demo_ldm" not in proc.stderr


@pytest.mark.slow
def test_paper_dag_plans_every_dataset_pair_and_run(tmp_path: Path, paper: dict) -> None:
    """`snakemake -n` over config/paper.yaml plans the whole study (counts derived here)."""
    proc = run(tmp_path, "-n", "--quiet", "rules", configs=(REPO / "config" / "paper.yaml",))
    counts = {}
    for line in (proc.stdout + proc.stderr).split("Job stats:", 1)[-1].splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            counts[parts[0]] = int(parts[1])
    gen, scaling, trials = paper["generation"], paper["scaling"], paper["training"]["trials"]
    jobs = runs = 0
    for name in paper["datasets"]:
        n, ds = len(domains(name)), paper["dataset_settings"][name]
        families = len(ds["variants"]) * n * (n - 1) + n  # ordered pairs per variant + within
        jobs += families * gen["images_per_pair"] * ds.get("shards", gen["shards"])
        levels = {"erm": 1, "mixup_within": 1, "mixup_inter": 1, "ldm_within": 1,
                  "cdga_ig": 1 + len(scaling["levels"]),
                  "cdga_pg": (1 + len(scaling["levels"])) if "pg" in ds["variants"] else 0,
                  "cdga_ig_filtered": 1, "cdga_pg_filtered": int("pg" in ds["variants"])}
        runs += sum(levels[m] for m in paper["methods"]) * len(ds["test_envs"]) * trials
    assert counts["generate"] == jobs
    assert counts["train"] == runs
    assert all(counts[f"prepare_{name}"] == 1 for name in paper["datasets"])
    assert counts["split_dataset"] == len(paper["datasets"])
    assert counts["tsne"] == sum(len(paper["dataset_settings"][n]["test_envs"]) for n in paper["datasets"])
    # the filter: a scorer per test domain, a keep list per (variant, test domain)
    assert counts["filter_scorer"] == counts["tsne"]
    assert counts["filter_synthetic"] == sum(len(paper["dataset_settings"][n]["test_envs"])
                                             * len(paper["dataset_settings"][n]["variants"])
                                             for n in paper["datasets"])
    assert "train_demo_ldm" not in counts and "make_demo_digits" not in counts


def test_dataset_checkpoint_freq_reaches_only_training(finished_study: Path) -> None:
    """dataset_settings.<D>.checkpoint_freq (DomainNet's 1000 in the paper) is a train param."""
    jobs = plan(finished_study, {"dataset_settings": {"DemoDigits": {"checkpoint_freq": 7}}})
    train = [j for j in jobs if j.rule == "train"]
    assert len(train) == outputs(finished_study, "train/**/results.jsonl")
    assert all(j.reason.startswith(PARAMS_CHANGED) for j in train)
    assert not {"generate", "assemble", "split_dataset", "generation_quality"} & set(rules(jobs))
