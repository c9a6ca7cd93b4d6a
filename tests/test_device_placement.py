"""Every GPU rule computes on the configured device: its model and its batches go there.

Each test runs a GPU rule's real script (workflow/scripts/) in this process on tiny inputs,
with a stand-in Snakemake object whose config names a device, and ``cdga.core.device.resolve``
answering torch's meta device for it (tests/meta_device.py). The stage must read the config's
device and run every forward pass with the weights and the inputs on it: a missing
``.to(device)`` leaves weights or inputs on the CPU, which the record of module calls shows
(or torch's own device check stops the stage first).
"""

from __future__ import annotations

import logging
import math
import runpy
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from conftest import REPO
from meta_device import META, Record, assert_all_on_meta, on_meta
from PIL import Image
from sd_pipeline import SETTINGS, save_tiny_pipeline
from snakemake.iocontainers import Namedlist
from snakemake.utils import update_config
from study import training_config
from synthetic_shards import make_shard
from toy_dataset import split_table, tiny_split_table

from cdga.analyses import probe
from cdga.core import device, hparams
from cdga.core.io import write_csv
from cdga.filtering import keep as filtering
from cdga.training import assembly
from cdga.training.networks import Classifier, save_model

SCRIPTS = REPO / "workflow" / "scripts"
CONFIGURED = "cuda:3"  # what the stand-in config names; resolve answers the meta device for it


def merged_config() -> dict:
    """config.yaml with test.yaml merged over it, as the test study runs."""
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    update_config(config, yaml.safe_load((REPO / "config" / "test.yaml").read_text()))
    return config


def config_block(*keys: str) -> dict:
    """The test config's block at ``keys``, without ``threads`` (as the rules pass it)."""
    config = merged_config()
    for key in keys:
        config = config[key]
    return {k: v for k, v in config.items() if k != "threads"}


class Job:
    """The ``snakemake`` object a rule script sees (the attributes cdga's scripts read)."""

    def __init__(self, rule: str, input: Mapping, output: Mapping, params: Mapping,
                 wildcards: Mapping | None = None) -> None:
        self.rule, self.threads, self.log = rule, 1, []
        self.input = Namedlist(fromdict={k: str(v) if isinstance(v, Path) else v
                                         for k, v in input.items()})
        self.output = Namedlist(fromdict={k: str(v) for k, v in output.items()})
        self.params = Namedlist(fromdict=dict(params))
        self.wildcards = Namedlist(fromdict={k: str(v) for k, v in (wildcards or {}).items()})
        self.resources = Namedlist(fromdict={"_cores": 1})
        self.config = merged_config() | {"device": CONFIGURED}


@pytest.fixture
def run_script(monkeypatch: pytest.MonkeyPatch) -> Iterator:
    """run(script, job) -> the record of its module calls, run on the meta device."""
    asked: list[str] = []

    def resolve(value: str):
        asked.append(value)
        return META

    monkeypatch.setattr(device, "resolve", resolve)
    monkeypatch.syspath_prepend(str(SCRIPTS))
    handlers, level, hook = logging.root.handlers[:], logging.root.level, sys.excepthook

    def run(script: str, job: Job) -> Record:
        with on_meta() as record:
            runpy.run_path(str(SCRIPTS / script), init_globals={"snakemake": job})
        assert asked and set(asked) == {CONFIGURED}, f"{script} did not resolve config['device']"
        return record

    yield run
    logging.root.handlers[:], sys.excepthook = handlers, hook
    logging.root.setLevel(level)


# ---------------------------------------------------------------- the config value
def test_resolve_auto_cpu_and_visible_gpus(monkeypatch: pytest.MonkeyPatch,
                                           caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="cdga.core.device")
    assert device.resolve("cpu") == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert device.resolve("auto") == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda d: f"Fake GPU {d}")
    assert device.resolve("auto") == torch.device("cuda")
    assert device.resolve("cuda:1") == torch.device("cuda", 1)
    # every job's log names where it computes (benchmarks/gpu_check.sh gathers these lines)
    assert [r.getMessage().split(" (")[0] for r in caplog.records] == [
        "device: cpu", "device: cpu", "device: cuda", "device: cuda:1"]
    assert "Fake GPU cuda:1" in caplog.records[-1].getMessage()


@pytest.mark.parametrize(("value", "gpus", "message"), [
    ("cuda", 0, r"config key device: 'cuda' asks for a GPU torch cannot see \(0 visible"),
    ("cuda:2", 2, r"config key device: 'cuda:2' asks for a GPU torch cannot see \(2 visible"),
    ("gpu", 1, r"config key device: bad value 'gpu'; use auto, cpu, cuda or cuda:N"),
    ("mps", 1, r"config key device: bad value 'mps'"),
    (0, 1, r"config key device: bad value 0"),
])
def test_resolve_names_the_key_and_value(monkeypatch: pytest.MonkeyPatch, value: object,
                                         gpus: int, message: str) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: gpus > 0)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: gpus)
    with pytest.raises(ValueError, match=message):
        device.resolve(value)


# ---------------------------------------------------------------- inputs
@pytest.fixture
def toy_split(tiny_dataset: Path) -> Path:
    """The Toy dataset's split table (domains a, b, c; 8 px images) as a CSV."""
    path = tiny_dataset / "split.csv"
    write_csv(path, split_table(tiny_dataset))
    return path


def toy_model(path: Path, seed: int = 0) -> Path:
    """An untrained small_cnn for the Toy classes, saved as training saves a selected model."""
    torch.manual_seed(seed)
    save_model(path, Classifier("small_cnn", 2))
    return path


def analysis_params(name: str) -> dict:
    """As the rule passes them: batch_size is an execution setting, read from the config."""
    settings = {k: v for k, v in config_block("analyses", name).items() if k != "batch_size"}
    return {"settings": settings, "resolution": 8}


RUN = {"dataset": "Toy", "method": "erm", "test_env": "c", "level": 0, "trial": 0}


# ---------------------------------------------------------------- the GPU rules
@pytest.mark.parametrize("variant", ["pg", "ig"])
def test_generate(run_script, tmp_path: Path, variant: str) -> None:
    table = tiny_split_table(tmp_path, per_class=2)
    write_csv(tmp_path / "split.csv", table)
    model = save_tiny_pipeline(tmp_path / "pipe")
    generation = {**config_block("generation"), "resolution": 16, "batch_size": 2, "steps": 2}
    shard = tmp_path / "shard0.tar"
    job = Job("generate", {"split": tmp_path / "split.csv", "model": model},
              {"tar": shard, "manifest": shard.with_suffix(".csv")},
              {"settings": SETTINGS, "generation": generation, "shards": 1,
               "ldm": {**config_block("ldm"), "model": str(model)}},
              {"dataset": "Tiny", "variant": variant, "src": "photo", "tgt": "sketch", "rep": 0,
               "shard": 0})
    record = run_script("generate.py", job)
    assert_all_on_meta(record, "Encoder", "Decoder", "CLIPTextModel", "UNet2DConditionModel")
    assert len(pd.read_csv(shard.with_suffix(".csv"))) == 2


def test_train(run_script, tiny_dataset: Path) -> None:
    table = split_table(tiny_dataset)
    manifest = tiny_dataset / "erm.csv"
    write_csv(manifest, assembly.assemble(table, "c", None, [], None, 0))
    out = tiny_dataset / "run"
    training = hparams.job_settings(training_config(), "ERM", False, 0, 0)
    job = Job("train", {"manifest": manifest}, {"results": out / "results.jsonl"},
              {"training": training, "hparams_seed": 0, "holdout_fraction": 0.2},
              RUN | {"draw": ""})
    record = run_script("train.py", job)
    assert_all_on_meta(record, "Classifier")
    assert (out / "model_training_domain.pt").is_file()


def test_train_demo_ldm(run_script, tmp_path: Path) -> None:
    corpus = tmp_path / "pretrain"
    corpus.mkdir()
    rng = np.random.default_rng(0)
    for k in range(4):
        Image.fromarray(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)).save(corpus / f"{k}.png")
    write_csv(corpus / "captions.csv", pd.DataFrame(
        {"file": [f"{k}.png" for k in range(4)], "caption": ["a photo of the digit one"] * 4}))
    out = tmp_path / "demo_ldm"
    job = Job("train_demo_ldm", {"corpus": corpus}, {"model": out},
              {"options": config_block("demo_ldm"), "work_dir": str(tmp_path / "work")})
    record = run_script("train_demo_ldm.py", job)
    assert_all_on_meta(record, "Encoder", "Decoder", "CLIPTextModel", "UNet2DConditionModel")
    assert (out / "model_index.json").is_file()


def test_generation_quality(run_script, tmp_path: Path) -> None:
    table = tiny_split_table(tmp_path, per_class=3)
    write_csv(tmp_path / "split.csv", table)
    manifest = make_shard(tmp_path, table, "Tiny", "pg", "photo", "sketch", 0)
    write_csv(manifest, pd.read_csv(manifest).assign(dataset="Tiny"))  # as generation writes it
    figures = tmp_path / "figures"
    job = Job("generation_quality",
              {"split": tmp_path / "split.csv", "shards": [str(manifest.with_suffix(".tar"))],
               "manifests": [str(manifest)]},
              {"summary": tmp_path / "summary.csv", "scores": tmp_path / "scores.csv",
               "png": figures / "grid.png", "pdf": figures / "grid.pdf"},
              {"domains": ["photo", "sketch"], "options": config_block("generation_quality")})
    record = run_script("generation_quality.py", job)
    classifiers = [c for c in record.calls if c.module == "Classifier"]
    # two scorers (domain, class): training batches, then validation and synthetic images
    assert len(classifiers) > 4
    assert_all_on_meta(record, "Classifier")


def filter_scorer_job(toy_split: Path) -> Job:
    root = toy_split.parent
    scorer = {**config_block("filtering", "scorer"), "resolution": 8, "epochs": 1, "batch_size": 4}
    return Job("filter_scorer", {"split": toy_split},
               {"model": root / "scorer.pt", "rows": root / "scorer_rows.csv"},
               {"scorer": scorer}, {"dataset": "Toy", "test_env": "c"})


def test_filter_scorer(run_script, toy_split: Path) -> None:
    record = run_script("filter_scorer.py", filter_scorer_job(toy_split))
    table = pd.read_csv(toy_split)
    val = int(((table["domain"] != "c") & (table["split"] == "val")).sum())
    assert val > 0
    # 16 training images in batches of 4, then the validation split's accuracy pass
    val_batches = math.ceil(val / config_block("filtering")["eval_batch_size"])
    assert sum(c.module == "Classifier" for c in record.calls) == 4 + val_batches
    assert_all_on_meta(record, "Classifier")
    rows = pd.read_csv(toy_split.parent / "scorer_rows.csv")
    assert "c" not in set(rows["domain"]) and set(rows["split"]) == {"train"}


def test_filter_synthetic(run_script, toy_split: Path) -> None:
    root = toy_split.parent
    table = pd.read_csv(toy_split)
    torch.manual_seed(0)  # an untrained scorer, saved as rule filter_scorer saves it
    save_model(root / "scorer.pt", Classifier("small_cnn", 2), resolution=8, test_env="c")
    write_csv(root / "scorer_rows.csv", filtering.scorer_rows(table, "c", None, 0))
    manifests = [str(make_shard(root, table, "Toy", "ig", s, t, 0)) for s, t in (("a", "b"), ("b", "a"))]
    job = Job("filter_synthetic",
              {"split": toy_split, "model": root / "scorer.pt", "rows": root / "scorer_rows.csv",
               "shards": [m[:-4] + ".tar" for m in manifests], "manifests": manifests},
              {"decisions": root / "ig.csv"}, {"rule": {"rule": "threshold", "threshold": 0.5}},
              {"dataset": "Toy", "variant": "ig", "test_env": "c"})
    job.config["filtering"] = job.config["filtering"] | {"eval_batch_size": 3}
    record = run_script("filter_synthetic.py", job)
    assert len([c for c in record.calls if c.module == "Classifier"]) == 6  # 16 images, batches of 3
    assert_all_on_meta(record, "Classifier")
    assert len(pd.read_csv(root / "ig.csv")) == 16


def test_adversarial(run_script, toy_split: Path) -> None:
    out = toy_split.parent / "adversarial.csv"
    job = Job("adversarial", {"model": toy_model(toy_split.parent / "m.pt"), "split": toy_split},
              {"table": out}, analysis_params("adversarial"), RUN)
    record = run_script("analysis.py", job)
    assert_all_on_meta(record, "Normalized", "Classifier")
    assert set(pd.read_csv(out)["attack"]) == {"fgsm", "pgd"}


def test_landscape(run_script, toy_split: Path) -> None:
    root = toy_split.parent
    job = Job("landscape", {"model": toy_model(root / "m.pt"), "split": toy_split},
              {"table": root / "summary.csv", "surface": root / "surface.csv"},
              analysis_params("landscape"), RUN)
    record = run_script("analysis.py", job)
    assert_all_on_meta(record, "Normalized", "Classifier")
    assert len(pd.read_csv(root / "summary.csv")) == 2


def test_shift(run_script, toy_split: Path) -> None:
    root = toy_split.parent
    runs = [RUN, {**RUN, "method": "cdga_ig", "level": 1}]
    models = [str(toy_model(root / f"m{k}.pt", seed=k)) for k in range(2)]
    job = Job("shift", {"model": models, "split": toy_split}, {"table": root / "shift.csv"},
              {"runs": runs, **analysis_params("shift")}, {"dataset": "Toy", "test_env": "c"})
    record = run_script("analysis.py", job)
    assert_all_on_meta(record, "Sequential", "Conv2d")  # the featurizer (Classifier.features)
    assert len(pd.read_csv(root / "shift.csv")) == 2


def test_tsne(run_script, toy_split: Path) -> None:
    root = toy_split.parent
    table = pd.read_csv(toy_split)
    pairs = [("a", "b"), ("b", "a")]
    synthetic = assembly.read_synthetic([make_shard(root, table, "Toy", "ig", s, t, 0)
                                         for s, t in pairs])
    manifest = root / "assembly.csv"
    write_csv(manifest, assembly.assemble(table, "c", synthetic, pairs, "ig", 1))
    job = Job("tsne", {"model": toy_model(root / "m.pt"), "split": toy_split, "assembly": manifest},
              {"points": root / "points.csv", "png": root / "tsne.png", "pdf": root / "tsne.pdf"},
              {**analysis_params("tsne"), "synthetic_method": "cdga_ig"},
              {"dataset": "Toy", "test_env": "c"})
    record = run_script("analysis.py", job)
    assert_all_on_meta(record, "Sequential", "Conv2d")  # the featurizer (Classifier.features)
    assert set(pd.read_csv(root / "points.csv")["origin"]) == {"real", "synthetic"}


def test_probe_sets_and_models_load_onto_the_device(toy_split: Path) -> None:
    rows = probe.real_rows(pd.read_csv(toy_split), ["a"], None)
    assert {t.device for batch in probe.load(rows, 8, 4, META) for t in batch} == {META}
    model = probe.pixel_model(toy_model(toy_split.parent / "m.pt"), META)
    assert {p.device for p in model.parameters()} | {b.device for b in model.buffers()} == {META}
