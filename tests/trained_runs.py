"""Stand-ins for the training stage's outputs, for the analysis workflow tests.

Models are small_cnn classifiers trained for a few steps on the real training images (with
the training normalisation), saved where the training contract puts the selected model.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import pandas as pd
import torch
import torch.nn.functional as F
from synthetic_shards import make_pairs

from cdga.analyses import probe
from cdga.analyses.adversarial import Normalized
from cdga.core import layout
from cdga.core.io import write_csv
from cdga.core.methods import METHODS, synthetic_pairs, variant
from cdga.core.registry import domains
from cdga.training import assembly
from cdga.training.loader import IMAGENET_MEAN, IMAGENET_STD
from cdga.training.networks import Classifier, save_model


def quick_model(split: pd.DataFrame, test_env: str, resolution: int, steps: int,
                seed: int) -> Classifier:
    """A small_cnn trained for ``steps`` full-batch Adam steps on 20 images per training domain."""
    torch.manual_seed(seed)
    train_envs = sorted(set(split["domain"]) - {test_env})
    rows = probe.sample(probe.real_rows(split, train_envs, "train"), 20, seed)
    (x, y), = probe.load(rows, resolution, len(rows))
    model = Classifier("small_cnn", int(split["class_index"].max()) + 1)
    net = Normalized(model, IMAGENET_MEAN, IMAGENET_STD)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(steps):
        opt.zero_grad()
        F.cross_entropy(net(x), y).backward()
        opt.step()
    return model.eval()


def make_runs(workdir: Path, dataset: str, methods: list[str], test_envs: list[str], trials: int,
              level: int, resolution: int, steps: int = 10) -> None:
    """Selected models for every (method, test domain, trial) at the methods' main level."""
    split = pd.read_csv(workdir / layout.split_table(dataset))
    for m, method in enumerate(methods):
        lv = 0 if METHODS[method].synthetic is None else level
        for t in test_envs:
            for k in range(trials):
                with contextlib.chdir(workdir):  # the split table's paths are relative to it
                    model = quick_model(split, t, resolution, steps, seed=100 * m + k)
                save_model(workdir / layout.run_model(dataset, method, t, lv, k), model)


def make_assembly(workdir: Path, dataset: str, method: str, test_env: str, level: int) -> Path:
    """Fake generation shards of the method's pairs and its assembled training manifest."""
    split = pd.read_csv(workdir / layout.split_table(dataset))
    used = variant(method, ["pg", "ig"])
    pairs = synthetic_pairs(method, domains(dataset), test_env)
    with contextlib.chdir(workdir):  # the split table's image paths are relative to it
        manifests = make_pairs(Path("."), split, dataset, used, pairs, level)
        synthetic = assembly.read_synthetic(manifests)
        manifest = assembly.assemble(split, test_env, synthetic, pairs, used, level)
    path = workdir / layout.assembly_manifest(dataset, method, test_env, level)
    write_csv(path, manifest)
    return path
