"""Minibatch sampling (deterministic per step, resumable), the synthetic ratio, workers."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image
from synthetic_shards import make_pairs
from toy_dataset import split_table

from cdga import assembly, data, methods
from cdga.shards import IMAGE_FORMATS, image_bytes, write_tar


def test_step_sampler_is_a_function_of_seed_and_step() -> None:
    streams = [data.Stream(np.arange(10), 3), data.Stream(np.arange(10, 17), 2)]
    full = list(zip(range(12), data.StepSampler(streams, seed=5), strict=False))
    resumed = list(zip(range(7, 12), data.StepSampler(streams, seed=5, start_step=7),
                       strict=False))
    assert [b for _, b in full[7:]] == [b for _, b in resumed]
    other = next(iter(data.StepSampler(streams, seed=6)))
    assert other != full[0][1]
    # without replacement within an epoch: the first 10 draws of stream 0 are a permutation
    sampler = data.StepSampler(streams, seed=5)
    first = [r for s in range(4) for r in sampler.rows_at(s)[:3]][:10]
    assert sorted(first) == list(range(10))
    assert all(10 <= r < 17 for s in range(5) for r in sampler.rows_at(s)[3:])


def test_step_sampler_rejects_empty_stream() -> None:
    with pytest.raises(ValueError, match="stream 1 must draw 2 rows but is empty"):
        data.StepSampler([data.Stream(np.arange(3), 1), data.Stream(np.arange(0), 2)], seed=0)


def test_split_counts() -> None:
    assert data.split_counts(32, 0.5, True) == (16, 16)
    assert data.split_counts(32, 0.25, True) == (24, 8)
    assert data.split_counts(32, 0.5, False) == (32, 0)
    with pytest.raises(ValueError, match="synthetic_ratio"):
        data.split_counts(32, 1.0, True)


def test_minibatches_mix_real_and_synthetic_by_ratio(tiny_dataset: Path) -> None:
    from cdga.train import _streams

    table = split_table(tiny_dataset)
    pairs = methods.synthetic_pairs("cdga_pg", ["a", "b", "c"], "c")
    synthetic = assembly.read_synthetic(make_pairs(tiny_dataset, table, "Toy", "pg", pairs, 1))
    manifest = assembly.assemble(table, "c", synthetic, pairs, "pg", 1)
    counts = data.split_counts(8, 0.25, True)
    sampler = data.StepSampler(_streams(manifest, ["a", "b"], counts), seed=0)
    train = manifest[manifest["role"] == "train"].reset_index(drop=True)
    for step in range(3):
        rows = train.iloc[sampler.rows_at(step)]
        for k, env in enumerate(["a", "b"]):
            chunk = rows.iloc[8 * k: 8 * (k + 1)]
            assert (chunk["domain"] == env).all()
            assert chunk["origin"].tolist() == ["real"] * 6 + ["synthetic"] * 2


def test_items_read_real_files_and_tar_members(tiny_dataset: Path) -> None:
    table = split_table(tiny_dataset)
    manifest = make_pairs(tiny_dataset, table, "Toy", "pg", [("a", "b")], 1)[0]
    synthetic = pd.read_csv(manifest).rename(columns={"member": "path"})
    rows = pd.concat([table.head(2).assign(shard=""), synthetic.head(2)], ignore_index=True)
    ds = data.ImageRows(rows, data.eval_transform(8))
    x0, _ = ds[0]
    xs, _ = ds[2]
    assert x0.shape == xs.shape == (3, 8, 8)
    aug = data.ImageRows(rows, data.train_transform(8, {"crop_scale": [0.5, 1.0], "hflip": True,
                                                        "color_jitter": 0.3, "grayscale": 0.1}))
    torch.testing.assert_close(aug[(2, 7)][0], aug[(2, 7)][0])
    assert not torch.equal(aug[(2, 7)][0], aug[(2, 8)][0])


@pytest.mark.parametrize("image_format", list(IMAGE_FORMATS))
def test_training_loader_reads_every_shard_format(tiny_dataset: Path, tmp_path: Path, image_format: str) -> None:
    """Synthetic members of each generation.image_format reach the model as the same images
    (exactly for PNG, within lossy error for JPEG / WebP), through DataLoader workers."""
    table = split_table(tiny_dataset).head(4)
    sources = {}
    for k, path in enumerate(table["path"]):
        with Image.open(path) as im:
            sources[f"m{k}.png"] = im.convert("RGB").resize((32, 32), Image.BICUBIC)
    quality = None if image_format == "png" else 90
    tar = tmp_path / "shard0.tar"
    write_tar(tar, [(n, image_bytes(im, image_format, quality)) for n, im in sources.items()])
    rows = pd.DataFrame({"path": list(sources), "shard": str(tar), "class_index": table["class_index"].to_numpy()})
    loader = torch.utils.data.DataLoader(data.ImageRows(rows, data.eval_transform(32)), batch_size=4, num_workers=1)
    (x, y), = list(loader)
    expected = torch.stack([data.eval_transform(32)(im) for im in sources.values()])
    assert x.shape == (4, 3, 32, 32) and y.tolist() == table["class_index"].tolist()
    error = (x - expected).abs().mean().item()
    other = (x - expected.roll(1, 0)).abs().mean().item()  # against another image of the batch
    assert error == 0 if image_format == "png" else 0 < error < other / 5


def test_worker_count_from_slurm(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SLURM_CPUS_PER_TASK", raising=False)
    assert data.num_workers(3) == 3
    monkeypatch.setenv("SLURM_CPUS_PER_TASK", "8")
    assert data.num_workers(3) == 7
    monkeypatch.setenv("SLURM_CPUS_PER_TASK", "lots")
    with pytest.raises(ValueError, match="SLURM_CPUS_PER_TASK='lots'"):
        data.num_workers(3)
