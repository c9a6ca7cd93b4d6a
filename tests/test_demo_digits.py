"""DemoDigits: disjoint pretraining corpus, four styled domains, DomainBed layout."""

from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image
from sklearn.datasets import load_digits

from cdga.core.registry import DEMO_CLASSES
from cdga.data import demo_digits
from cdga.data.datasets import list_images

DESCRIPTIONS = {"photo": "a photo", "art_painting": "an oil painting",
                "cartoon": "a cartoon", "sketch": "a pencil sketch"}


def test_pretraining_digits_are_disjoint_and_stratified() -> None:
    labels = load_digits().target
    dg, pre = demo_digits.split_digits(labels, 0.34, seed=0)
    assert not set(dg) & set(pre)
    assert len(dg) + len(pre) == len(labels)
    assert abs(len(pre) / len(labels) - 0.34) < 0.01
    share = np.bincount(labels[pre], minlength=10) / np.bincount(labels, minlength=10)
    assert np.all(np.abs(share - 0.34) < 0.03)


def test_domains_are_balanced_per_class() -> None:
    labels = np.repeat(np.arange(10), 21)
    assigned = demo_digits.assign_domains(labels, seed=1)
    counts = pd.crosstab(labels, assigned)
    assert list(counts.columns) == sorted(demo_digits.DOMAINS)
    assert counts.values.max() - counts.values.min() <= 1


def test_styles_differ_in_colour_statistics() -> None:
    digit = load_digits().images[0]
    stats = {}
    for domain in demo_digits.DOMAINS:
        rng = np.random.default_rng(0)
        px = np.stack([np.asarray(demo_digits.render(digit, domain, 32, rng), float) / 255
                       for _ in range(20)])
        saturation = (px.max(-1) - px.min(-1)).mean()
        stats[domain] = (px.mean(), saturation)
    assert stats["sketch"][1] < 0.05 < stats["cartoon"][1]          # grey pencil vs saturated
    assert stats["sketch"][0] > max(v[0] for k, v in stats.items() if k != "sketch")
    assert stats["cartoon"][1] > stats["photo"][1]


def test_build_writes_domainbed_layout_and_captions(tmp_path: Path) -> None:
    demo_digits.build(tmp_path / "DemoDigits", tmp_path / "DemoDigits_pretrain", DESCRIPTIONS,
                      "{domain} of the digit {class_name}", resolution=16, seed=0)
    frame = list_images(tmp_path, "DemoDigits", demo_digits.DOMAINS)
    assert sorted(frame["class_name"].unique()) == sorted(DEMO_CLASSES)
    assert frame.groupby("domain").size().between(280, 310).all()
    with Image.open(frame["path"].iloc[0]) as im:
        assert im.size == (16, 16) and im.mode == "RGB"
    captions = pd.read_csv(tmp_path / "DemoDigits_pretrain" / "captions.csv")
    assert len(captions) == 4 * (1797 - len(frame))
    assert (captions.groupby("file").size() == 1).all()
    row = captions[(captions.domain == "sketch") & (captions.class_name == "seven")].iloc[0]
    assert row.caption == "a pencil sketch of the digit seven"
    assert (tmp_path / "DemoDigits_pretrain" / row.file).is_file()
    assert not list(tmp_path.glob(".*tmp"))


def test_build_is_deterministic(tmp_path: Path) -> None:
    for run in ("a", "b"):
        demo_digits.build(tmp_path / run / "DemoDigits", tmp_path / run / "pre", DESCRIPTIONS,
                          "{domain} of {class_name}", resolution=8, seed=5)
    files = sorted((tmp_path / "a" / "DemoDigits").rglob("*.png"))
    assert files
    for f in files[::50]:
        twin = tmp_path / "b" / f.relative_to(tmp_path / "a")
        assert f.read_bytes() == twin.read_bytes()
