"""Generation quality: classifier-based rates, near-duplicates and the grid figure."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch
from PIL import Image
from synthetic_shards import write_shard
from toy_dataset import tiny_split_table

from cdga.core.io import write_csv
from cdga.generation import quality as gq

OPTS = {"backbone": "small_cnn", "epochs": 1, "batch_size": 8, "lr": 1e-3, "shift": 2, "seed": 0,
        "near_duplicate_ssim": 0.9, "grid_examples": 2, "max_images_per_pair": None,
        "max_real_per_domain": None}


def fake_shard(tmp_path: Path, table: pd.DataFrame, variant: str, src: str, tgt: str, copy: bool,
               size: int | None = None) -> Path:
    """A shard whose images are their sources (copy) or the sources' colour negatives, at
    ``size`` px (the generated size) when given."""
    return write_shard(tmp_path / f"{variant}_{src}_{tgt}.tar", table, variant, src, tgt,
                       copy=copy, size=size, dataset="Tiny")


def test_random_shift_moves_each_image_within_bounds() -> None:
    x = torch.arange(2 * 3 * 8 * 8, dtype=torch.float32).view(2, 3, 8, 8)
    out = gq.random_shift(x, 2, torch.Generator().manual_seed(0))
    assert out.shape == x.shape
    assert torch.equal(gq.random_shift(x, 0, torch.Generator()), x)


def test_rates_near_duplicates_and_grid(tmp_path: Path) -> None:
    table = tiny_split_table(tmp_path, per_class=4)
    manifests = [fake_shard(tmp_path, table, "pg", "photo", "sketch", copy=True),
                 fake_shard(tmp_path, table, "ig", "photo", "sketch", copy=False)]
    manifest = gq.read_manifests(manifests)
    summary, scores = gq.evaluate(table, manifest, ["photo", "sketch"], OPTS, resolution=16)
    assert list(summary.columns) == gq.SUMMARY_COLUMNS
    assert len(summary) == 2 and (summary["n"] == 6).all()
    by = summary.set_index("variant")
    assert by.loc["pg", "near_duplicate_rate"] == 1.0 and by.loc["pg", "mean_ssim"] > 0.99
    assert by.loc["ig", "near_duplicate_rate"] == 0.0
    rates = summary[["target_domain_rate", "class_kept_rate", "domain_classifier_val_acc"]].to_numpy()
    assert ((rates >= 0) & (rates <= 1)).all()
    # a copy of the source is classified like the source: the rate is the classifier's view of x
    assert np.isclose(by.loc["pg", "target_domain_rate"], (scores.query("variant == 'pg'")["domain_pred"] == "sketch").mean())
    picked = gq.example_sources(manifest[manifest["variant"] == "pg"], 2)
    assert len(picked) == 2 and manifest.set_index("source_path").loc[picked, "class_index"].nunique() == 2
    gq.grid_figure(manifest, tmp_path / "grid.png", tmp_path / "grid.pdf", examples=2, resolution=16)
    with Image.open(tmp_path / "grid.png") as im:
        assert im.size[0] > 100
    assert (tmp_path / "grid.pdf").stat().st_size > 0


def test_caps_sample_each_pair_and_domain_with_the_seed(tmp_path: Path) -> None:
    table = tiny_split_table(tmp_path, per_class=4)
    manifest = gq.read_manifests([fake_shard(tmp_path, table, "pg", "photo", "sketch", copy=True),
                                  fake_shard(tmp_path, table, "ig", "photo", "sketch", copy=False)])
    assert gq.capped(manifest, gq.PAIR_KEYS, None, 0) is manifest
    some = gq.capped(manifest, gq.PAIR_KEYS, 4, seed=0)
    assert some.groupby("variant").size().to_dict() == {"ig": 4, "pg": 4}
    assert some.equals(gq.capped(manifest, gq.PAIR_KEYS, 4, seed=0))
    assert not some.equals(gq.capped(manifest, gq.PAIR_KEYS, 4, seed=1))
    assert gq.capped(manifest, gq.PAIR_KEYS, 100, seed=0).equals(manifest)  # fewer than the cap: all, in order
    opts = {**OPTS, "max_images_per_pair": 3, "max_real_per_domain": 2}
    summary, scores = gq.evaluate(table, manifest, ["photo", "sketch"], opts, resolution=16)
    assert (summary["n"] == 3).all() and len(scores) == 6


def test_scores_at_its_own_size_whatever_the_generated_and_source_sizes(tmp_path: Path) -> None:
    """Paper shapes: 512 px generated vs 64 px scored, here non-square 23x17 sources, 40 px
    synthetic images and 12 px scoring; the copies stay near-duplicates at the scoring size."""
    table = tiny_split_table(tmp_path, per_class=4)
    for path in table["path"]:
        with Image.open(path) as im:
            im.convert("RGB").resize((23, 17)).save(path)
    manifest = gq.read_manifests([fake_shard(tmp_path, table, "pg", "photo", "sketch", copy=True, size=40),
                                  fake_shard(tmp_path, table, "ig", "photo", "sketch", copy=False, size=40)])
    assert {a.shape for a in gq.synthetic_images(manifest, 12)} == {(12, 12, 3)}
    summary, _ = gq.evaluate(table, manifest, ["photo", "sketch"], OPTS, resolution=12)
    by = summary.set_index("variant")
    assert by.loc["pg", "near_duplicate_rate"] == 1.0 and by.loc["ig", "near_duplicate_rate"] == 0.0
    gq.grid_figure(manifest, tmp_path / "grid.png", tmp_path / "grid.pdf", examples=2, resolution=12)


def big_manifests(tmp_path: Path, files: int, rows: int = 5_000) -> list[Path]:
    """``files`` generation manifests of ``rows`` rows each, every pair of 2 variants x 2
    pairs in each file, with the manifest's columns (no shard behind them: sampling reads none)."""
    paths = []
    for f in range(files):
        k = np.arange(rows)
        frame = pd.DataFrame({
            "member": [f"src__c{c}__img{f:03d}_{i:05d}.png" for i, c in zip(k, k % 7, strict=True)],
            "shard": f"results/synthetic/shard{f}.tar", "dataset": "Big",
            "source_path": [f"data/Big/a/c{c}/img{f:03d}_{i:05d}.jpg" for i, c in zip(k, k % 7, strict=True)],
            "source_domain": "a", "target_domain": np.where(k % 2, "b", "c"), "class_index": k % 7,
            "class_name": [f"c{c}" for c in k % 7], "guide_path": "", "lam": "",
            "prompt": "a photo of a thing in the style of somewhere", "seed": k,
            "variant": np.where(k % 4 < 2, "pg", "ig"), "rep": 0})
        paths.append(tmp_path / f"m{f}.csv")
        write_csv(paths[-1], frame)
    return paths


def traced_peak(fn: object, *args: object) -> tuple[object, int]:
    import tracemalloc

    tracemalloc.start()
    try:
        out = fn(*args)  # type: ignore[operator]
        return out, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_read_sample_is_the_capped_sample_read_in_bounded_memory(tmp_path: Path) -> None:
    """The sample read one manifest at a time is exactly ``capped`` of all rows, and its peak
    memory stays flat as the manifests grow from 10 k to 100 k rows past a cap of 50 per pair;
    reading every row at once grows with them."""
    small, large = big_manifests(tmp_path / "s", 2), big_manifests(tmp_path / "l", 20)
    everything = gq.read_manifests(small)
    sample, grid = gq.read_sample(small, 50, seed=3, batch_rows=10_000)
    assert sample.equals(gq.capped(everything, gq.PAIR_KEYS, 50, seed=3).reset_index(drop=True))
    assert sample.groupby(gq.PAIR_KEYS).size().tolist() == [50] * 4
    assert not sample.equals(gq.read_sample(small, 50, seed=4)[0])
    assert grid.equals(gq.grid_candidates(everything).sort_index().reset_index(drop=True))
    assert gq.read_sample(small, None, seed=3)[0].equals(everything)

    _, flat_small = traced_peak(gq.read_sample, small, 50, 3, 10_000)
    (sample, _), flat_large = traced_peak(gq.read_sample, large, 50, 3, 10_000)
    _, all_small = traced_peak(gq.read_manifests, small)
    _, all_large = traced_peak(gq.read_manifests, large)
    assert len(sample) == 200
    assert flat_large < 1.5 * flat_small, (flat_small, flat_large)
    assert all_large > 5 * all_small  # the measurement sees growth where there is some
