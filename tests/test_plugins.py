"""A new generation variant and a new algorithm, each written here as one class plus its config
(a plugin file, config key ``plugins``), run through the study's DAG on the test config."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import REPO
from PIL import Image, ImageOps
from sd_pipeline import SETTINGS, save_tiny_pipeline
from study import PARAMS_CHANGED, TEST_CONFIG, overlay, plan, planned_jobs, run
from toy_dataset import tiny_split_table

from cdga import config
from cdga.core import methods, plugins
from cdga.data.shards import TarShard
from cdga.generation import generate as generation
from cdga.generation import variants
from cdga.generation.ldm import load_pipeline

MIRROR = '''
"""img2img from the mirrored source image, prompted with the class only."""
from PIL import ImageOps

from cdga.core import methods
from cdga.generation import variants


@variants.register
class Mirrored(variants.Variant):
    name = "mirror"
    TEMPLATE = "mirror_prompt_template"
    PLACEHOLDERS = frozenset({"class_name"})
    SCHEMA = {"flip": {"enum": ["horizontal", "vertical"]}}
    DATASET_SCHEMA = {"mirror_prompt_template": {"type": "string", "pattern": "\\\\{class_name\\\\}"}}

    @classmethod
    def options(cls, own):
        return {"flip": own["flip"]}

    @classmethod
    def pipeline_image(cls, pipe, batch, sources, options, resolution):
        turn = ImageOps.mirror if options["flip"] == "horizontal" else ImageOps.flip
        return [turn(s) for s in sources]


methods.METHODS["cdga_mirror"] = methods.Method("ERM", synthetic="cross", variant="mirror")
'''

SMOOTH = '''
"""ERM with label smoothing: one class plus its hyperparameter."""
import torch
import torch.nn.functional as F

from cdga.training import algorithms
from cdga.core import hparams
from cdga.core import methods


class SmoothERM(algorithms.Algorithm):
    def loss(self, minibatches, rng):
        x = torch.cat([x for x, _ in minibatches])
        y = torch.cat([y for _, y in minibatches])
        return F.cross_entropy(self.predict(x), y, label_smoothing=self.hparams["label_smoothing"])


algorithms.ALGORITHMS["SmoothERM"] = SmoothERM
hparams.ALGORITHM_HPARAMS["SmoothERM"] = (
    hparams.HParam("label_smoothing", large=lambda r: r.uniform(0, 0.2)),)
methods.METHODS["erm_smooth"] = methods.Method("SmoothERM")
'''

ACCURACY = "results/summary/accuracy.csv"


def _overlay(tmp_path: Path, name: str, source: str, block: dict) -> Path:
    (tmp_path / f"{name}.py").write_text(source)
    return overlay(tmp_path, name, {"plugins": [str(tmp_path / f"{name}.py")], **block})


def _mirror_overlay(tmp_path: Path) -> Path:
    return _overlay(tmp_path, "mirror", MIRROR, {
        "methods": ["cdga_mirror"],
        "generation": {"mirror": {"strength": 0.6, "guidance_scale": 2.0, "flip": "horizontal"}},
        "dataset_settings": {"DemoDigits": {"variants": ["mirror"],
                                            "mirror_prompt_template": "the digit {class_name}"}},
    })


@pytest.fixture
def mirror(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> type[variants.Variant]:
    """The plugin's variant, registered in copies of the registries for this test only."""
    monkeypatch.setattr(variants, "VARIANTS", dict(variants.VARIANTS))
    monkeypatch.setattr(methods, "METHODS", dict(methods.METHODS))
    _mirror_overlay(tmp_path)
    try:
        plugins.load([str(tmp_path / "mirror.py")])
        yield variants.get("mirror")
    finally:
        sys.modules.pop("cdga_plugin_mirror", None)


def test_a_plugin_variant_joins_the_schema_and_the_config_checks(mirror, tmp_path: Path) -> None:
    schema = config.load_schema(REPO / "workflow" / "schemas" / "config.schema.yaml")
    assert schema["$defs"]["variant"]["enum"] == ["pg", "ig", "mirror"]
    assert "flip" in schema["properties"]["generation"]["properties"]["mirror"]["required"]
    cfg = {"datasets": ["DemoDigits"], "generation": {"mirror": {"flip": "horizontal"}},
           "dataset_settings": {"DemoDigits": {"variants": ["mirror"], "test_envs": ["photo"]}}}
    assert ("config key dataset_settings.DemoDigits.mirror_prompt_template: required by variant "
            "'mirror'") in config.registry_errors(cfg)
    with pytest.raises(ValueError, match="config key plugins: .*nowhere.py' is not a file"):
        plugins.load([str(tmp_path / "nowhere.py")])


def test_the_pipeline_gets_the_variants_input(mirror, tmp_path: Path) -> None:
    """run_batch hands the variant's input to the one pipeline call: the mirror variant's
    images are those of the plain call on mirrored copies of the sources, same seeds."""
    pipe = load_pipeline(str(save_tiny_pipeline(tmp_path / "pipe")), device="cpu")
    table = tiny_split_table(tmp_path, per_class=3)
    cfg = {"steps": 3, "scheduler": "ddim", "resolution": 16, "seed": 0, "batch_size": 4,
           "mirror": {"strength": 0.7, "guidance_scale": 2.0, "flip": "horizontal"}}
    params = generation.GenerationParams.from_config(cfg, "mirror")
    settings = {**SETTINGS, "mirror_prompt_template": "the digit {class_name}"}
    rows = generation.plan_shard(table, "Tiny", settings, params, "photo", "sketch", 0, 0, 1)
    assert set(rows["prompt"]) == {"the digit one", "the digit two"} and len(rows) == 4
    mirrored = []
    (tmp_path / "mirrored").mkdir()
    for k, path in enumerate(rows["source_path"]):
        mirrored.append(str(tmp_path / "mirrored" / f"{k}.png"))
        ImageOps.mirror(Image.open(path).convert("RGB")).save(mirrored[-1])
    made = generation.run_batch(pipe, rows, params)
    plain = generation.run_batch(pipe, rows.assign(source_path=mirrored), replace(params, variant="pg", options={}))
    unmirrored = generation.run_batch(pipe, rows, replace(params, variant="pg", options={}))
    diff = [np.abs(np.asarray(a, int) - np.asarray(b, int)).max() for a, b in zip(made, plain)]
    assert max(diff) == 0
    assert any(np.abs(np.asarray(a, int) - np.asarray(b, int)).max() > 1 for a, b in zip(made, unmirrored))


def test_a_new_variant_runs_through_generation_assembly_and_training(tmp_path: Path) -> None:
    configs = (TEST_CONFIG, _mirror_overlay(tmp_path))
    jobs = planned_jobs(tmp_path, ACCURACY, configs=configs)
    # held out on photo: the 6 ordered pairs of the other three domains, one variant
    assert jobs["generate"] == 6 and jobs["train"] == 2 and jobs["assemble"] == 1
    run(tmp_path, ACCURACY, configs=configs)
    shards = sorted((tmp_path / "results/synthetic/DemoDigits").glob("*/*/rep0/shard0.csv"))
    assert len(shards) == 6 and {p.parts[-4] for p in shards} == {"mirror"}
    manifest = pd.read_csv(shards[0], keep_default_na=False)
    assert set(manifest["variant"]) == {"mirror"} and manifest["prompt"][0].startswith("the digit ")
    assert TarShard(shards[0].with_suffix(".tar")).names() == list(manifest["member"])
    assembly = pd.read_csv(tmp_path / "results/assembly/DemoDigits/cdga_mirror/photo/scale1.csv",
                           keep_default_na=False)
    assert set(assembly.loc[assembly["origin"] == "synthetic", "variant"]) == {"mirror"}
    acc = pd.read_csv(tmp_path / ACCURACY)
    assert set(acc["method"]) == {"cdga_mirror"} and acc["acc"].between(0, 1).all()
    # its own option reaches its jobs' params: editing it reruns the generation, then the rest
    flip = overlay(tmp_path, "flip", {"generation": {"mirror": {"flip": "vertical"}}})
    again = planned_jobs(tmp_path, ACCURACY, configs=(*configs, flip))
    assert again["generate"] == 6 and again["train"] == 2


def test_a_new_algorithm_runs_through_training_and_the_tables(tmp_path: Path) -> None:
    smooth = _overlay(tmp_path, "smooth", SMOOTH, {"methods": ["erm", "erm_smooth"],
                                                   "training": {"label_smoothing": 0.1}})
    run(tmp_path, ACCURACY, configs=(TEST_CONFIG, smooth))
    acc = pd.read_csv(tmp_path / ACCURACY)
    assert set(acc["method"]) == {"erm", "erm_smooth"} and acc["acc"].between(0, 1).all()
    record = (tmp_path / "results/train/DemoDigits/erm_smooth/photo/scale0/trial0/results.jsonl")
    assert '"label_smoothing": 0.1' in record.read_text()
    # its hyperparameter is in its own runs' params only: an edit reruns those runs alone
    edit = {**yaml.safe_load(smooth.read_text()), "training": {"label_smoothing": 0.2}}
    jobs = [j for j in plan(tmp_path, edit) if j.rule == "train"]
    assert {j.wildcards["method"] for j in jobs} == {"erm_smooth"} and len(jobs) == 2
    assert all(j.reason.startswith(PARAMS_CHANGED) for j in jobs)

