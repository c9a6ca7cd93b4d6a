"""Probe sets: seeded per-domain samples and [0, 1] pixel loading."""

from pathlib import Path

import pandas as pd
import pytest
import torch
from torch.utils.data import DataLoader

from cdga.analyses import probe
from cdga.analyses.adversarial import Normalized
from cdga.data import datasets
from cdga.training.loader import IMAGENET_MEAN, IMAGENET_STD, ImageRows, eval_transform
from cdga.training.networks import Classifier, save_model


def test_sample_caps_each_domain_and_is_seeded(tiny_dataset: Path) -> None:
    table = datasets.index_dataset(tiny_dataset, "Toy", None, 0.2, seed=0)
    rows = probe.real_rows(table, ["a", "b"], "train")
    picked = probe.sample(rows, 3, seed=1)
    assert picked.groupby("domain").size().to_dict() == {"a": 3, "b": 3}
    assert set(picked["split"]) == {"train"}
    pd.testing.assert_frame_equal(picked, probe.sample(rows.sample(frac=1, random_state=0), 3, 1))
    assert not picked.equals(probe.sample(rows, 3, seed=2))
    with pytest.raises(ValueError, match=r"lacks domain\(s\) \['z'\]"):
        probe.real_rows(table, ["z"], None)


def test_load_gives_pixels_and_pixel_model_normalises(tiny_dataset: Path, tmp_path: Path) -> None:
    table = datasets.index_dataset(tiny_dataset, "Toy", None, 0.2, seed=0)
    batches = probe.load(table.head(7), resolution=8, batch_size=4)
    x = torch.cat([b[0] for b in batches])
    assert x.shape == (7, 3, 8, 8) and 0 <= x.min() and x.max() <= 1
    assert torch.cat([b[1] for b in batches]).tolist() == table.head(7)["class_index"].tolist()
    model = Classifier("small_cnn", 2).eval()
    save_model(tmp_path / "m.pt", model)
    wrapped = probe.pixel_model(tmp_path / "m.pt")
    with torch.no_grad():
        expected = Normalized(model, IMAGENET_MEAN, IMAGENET_STD)(x)
        torch.testing.assert_close(wrapped(x), expected)


def test_pixel_pipeline_reproduces_the_training_evaluation(tiny_dataset: Path,
                                                           tmp_path: Path) -> None:
    """Normalised-inside-the-model pixels give the logits training's eval_transform gives."""
    table = datasets.index_dataset(tiny_dataset, "Toy", None, 0.2, seed=0).head(6)
    torch.manual_seed(0)
    model = Classifier("small_cnn", 2).eval()
    save_model(tmp_path / "m.pt", model)
    evaluated = DataLoader(ImageRows(table, eval_transform(12)), batch_size=6)
    (x_eval, _), = list(evaluated)
    (x_pix, _), = probe.load(table, resolution=12, batch_size=6)
    with torch.no_grad():
        torch.testing.assert_close(probe.pixel_model(tmp_path / "m.pt")(x_pix), model(x_eval))
