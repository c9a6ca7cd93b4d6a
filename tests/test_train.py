"""cdga.training.train: records, selected models, same seed -> same results, and resume after a kill."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import REPO
from study import training_config
from synthetic_shards import make_pairs
from toy_dataset import split_table

from cdga.core import methods
from cdga.training import assembly, selection, train
from cdga.training.networks import load_model


def write_manifest(root: Path, method: str = "cdga_ig", level: int = 1) -> Path:
    table = split_table(root)
    pairs = methods.synthetic_pairs(method, ["a", "b", "c"], "c")
    variant = methods.variant(method, ["pg", "ig"])
    synthetic = (assembly.read_synthetic(make_pairs(root, table, "Toy", variant, pairs, level))
                 if variant else None)
    manifest = assembly.assemble(table, "c", synthetic, pairs, variant, level)
    path = root / f"{method}.csv"
    manifest.to_csv(path, index=False)
    return path


def run(manifest: Path, out: Path, method: str = "cdga_ig", level: int = 1, **kw) -> list[dict]:
    cfg = training_config(**kw.pop("cfg", {}))
    return train.train(manifest, out, dataset="Toy", method=method, test_env="c", level=level,
                       trial=0, cfg=cfg, holdout_fraction=0.2, **kw)


def test_records_and_selected_models(tiny_dataset: Path) -> None:
    out = tiny_dataset / "run"
    records = run(write_manifest(tiny_dataset), out)
    assert [r["step"] for r in records] == [0, 2, 4]  # every checkpoint_freq and the last step
    for key in ("env_a_in_acc", "env_a_out_loss", "env_b_out_acc", "env_c_in_acc",
                "env_c_out_acc", "loss"):
        assert key in records[0]
    assert selection.read_records(out / "results.jsonl") == records
    assert records[-1]["env0_in_acc"] == records[-1]["env_a_in_acc"]  # sorted: unregistered
    assert records[-1]["args"]["test_envs"] == [2] and records[-1]["hparams"]["freeze_bn"] is False
    assert not (out / train.STATE_DIR).exists()
    for name in selection.SELECTIONS:
        blob = torch.load(out / f"model_{name}.pt", weights_only=False)
        assert blob["step"] == selection.select(records, name)["step"]
        model = load_model(out / f"model_{name}.pt")
        assert model(torch.randn(2, 3, 8, 8)).shape == (2, 2)


def test_same_seed_same_results_and_trials_differ(tiny_dataset: Path) -> None:
    manifest = write_manifest(tiny_dataset, "mixup_inter", 0)
    run(manifest, tiny_dataset / "r1", "mixup_inter", 0)
    run(manifest, tiny_dataset / "r2", "mixup_inter", 0)
    first = (tiny_dataset / "r1" / "results.jsonl").read_text()
    assert first == (tiny_dataset / "r2" / "results.jsonl").read_text()
    other = train.train(manifest, tiny_dataset / "r3", dataset="Toy", method="mixup_inter",
                        test_env="c", level=0, trial=1, cfg=training_config(), holdout_fraction=0.2)
    assert json.loads(first.splitlines()[-1])["loss"] != other[-1]["loss"]


def test_frozen_batchnorm_keeps_its_statistics_through_training_and_evaluation(
        tiny_dataset: Path) -> None:
    manifest = write_manifest(tiny_dataset, "erm", 0)
    run(manifest, tiny_dataset / "frozen", "erm", 0, cfg={"freeze_bn": True})
    run(manifest, tiny_dataset / "free", "erm", 0)
    for name, frozen in (("frozen", True), ("free", False)):
        state = load_model(tiny_dataset / name / "model_oracle.pt").state_dict()  # last step
        means = [v for k, v in state.items() if k.endswith("running_mean")]
        assert means and all(torch.equal(m, torch.zeros_like(m)) for m in means) == frozen


def test_method_and_manifest_must_agree(tiny_dataset: Path) -> None:
    with pytest.raises(ValueError, match="has synthetic rows, but method 'erm'"):
        run(write_manifest(tiny_dataset), tiny_dataset / "x", "erm", 1)
    with pytest.raises(ValueError, match="lacks synthetic rows, but method 'cdga_pg'"):
        run(write_manifest(tiny_dataset, "erm", 0), tiny_dataset / "y", "cdga_pg", 1)


def test_resume_after_stop_matches_uninterrupted_run(tiny_dataset: Path) -> None:
    manifest = write_manifest(tiny_dataset)
    cfg = {"steps": 9, "checkpoint_freq": 3}
    run(manifest, tiny_dataset / "full", cfg=cfg)
    with pytest.raises(train.StopRequested):
        run(manifest, tiny_dataset / "cut", cfg=cfg, stop_after=4)
    partial = selection.read_records(tiny_dataset / "cut" / "results.jsonl")
    assert [r["step"] for r in partial] == [0, 3]
    assert (tiny_dataset / "cut" / train.STATE_DIR / "checkpoint.pt").is_file()
    run(manifest, tiny_dataset / "cut", cfg=cfg)
    full = (tiny_dataset / "full" / "results.jsonl").read_text()
    assert (tiny_dataset / "cut" / "results.jsonl").read_text() == full
    for name in selection.SELECTIONS:
        a = torch.load(tiny_dataset / "full" / f"model_{name}.pt", weights_only=False)
        b = torch.load(tiny_dataset / "cut" / f"model_{name}.pt", weights_only=False)
        assert a["step"] == b["step"]
        for k in a["state_dict"]:
            torch.testing.assert_close(a["state_dict"][k], b["state_dict"][k], rtol=0, atol=0)


def test_changed_settings_discard_resume_state(tiny_dataset: Path) -> None:
    manifest = write_manifest(tiny_dataset)
    with pytest.raises(train.StopRequested):
        run(manifest, tiny_dataset / "cut", cfg={"steps": 9, "checkpoint_freq": 3}, stop_after=4)
    records = run(manifest, tiny_dataset / "cut", cfg={"steps": 9, "checkpoint_freq": 3,
                                                        "lr": 0.01})
    fresh = run(manifest, tiny_dataset / "fresh", cfg={"steps": 9, "checkpoint_freq": 3,
                                                        "lr": 0.01})
    assert records == fresh


KILLED_RUN = """
import sys, torch
sys.path.insert(0, {tests!r})
torch.set_num_threads(1)
from study import training_config
from cdga.training import train
train.train({manifest!r}, {out!r}, dataset="Toy", method="cdga_ig", test_env="c", level=1,
            trial=0, cfg=training_config(steps=60, checkpoint_freq=6), holdout_fraction=0.2)
"""


def test_resume_after_sigkill(tiny_dataset: Path) -> None:
    manifest = write_manifest(tiny_dataset)
    out = tiny_dataset / "killed"
    code = KILLED_RUN.format(tests=str(REPO / "tests"), manifest=str(manifest), out=str(out))
    proc = subprocess.Popen([sys.executable, "-c", code], env={**os.environ, "PYTHONHASHSEED": "0"})
    results = out / "results.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if results.is_file() and len(results.read_text().splitlines()) >= 3:
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    steps_done = [r["step"] for r in selection.read_records(results)]
    assert 3 <= len(steps_done) < 11
    cfg = {"steps": 60, "checkpoint_freq": 6}
    resumed = run(manifest, out, cfg=cfg)
    assert [r["step"] for r in resumed] == list(range(0, 60, 6)) + [59]
    full = run(manifest, tiny_dataset / "full", cfg=cfg)
    assert resumed == full
    assert pd.read_json(results, lines=True)["step"].is_unique


def test_dataloader_workers_do_not_change_results(tiny_dataset: Path) -> None:
    manifest = write_manifest(tiny_dataset)
    run(manifest, tiny_dataset / "w0", cfg={"steps": 3}, workers=0)
    run(manifest, tiny_dataset / "w2", cfg={"steps": 3}, workers=2)
    # the loader's other execution settings: deeper prefetch, evaluation workers kept
    run(manifest, tiny_dataset / "w2p", cfg={"steps": 3}, workers=2, prefetch_factor=3, persistent_workers=True)
    for other in ("w2", "w2p"):
        assert ((tiny_dataset / "w0" / "results.jsonl").read_text()
                == (tiny_dataset / other / "results.jsonl").read_text())


def test_a_run_keeps_only_arrays_of_a_200k_row_manifest(tiny_dataset: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """A manifest of 200 k synthetic rows (the toy's, repeated): once its rows are built, the run
    keeps about the rows' path bytes plus 32 bytes a row (offsets, shard code, label, sampler
    stream index: numpy arrays), not the pandas frame (235 bytes a row here before, all 14
    columns). Python allocations (tracemalloc), from the run's start to its sampler."""
    import tracemalloc

    manifest = pd.read_csv(write_manifest(tiny_dataset), keep_default_na=False)
    synthetic = manifest[manifest["origin"] == "synthetic"]
    big = pd.concat([manifest[manifest["origin"] == "real"],
                     synthetic.iloc[np.arange(200_000) % len(synthetic)]], ignore_index=True)
    big.to_csv(tiny_dataset / "big.csv", index=False)
    path_bytes = float(big["path"].str.len().mean())
    kept: list[int] = []

    class Sampler(train.data.StepSampler):
        def __init__(self, *args, **kwargs) -> None:
            kept.append(tracemalloc.get_traced_memory()[0])
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(train.data, "StepSampler", Sampler)
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        records = run(tiny_dataset / "big.csv", tiny_dataset / "run", cfg={"steps": 1})
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    per_row = (kept[0] - base) / len(big)
    assert len(records) == 1 and len(kept) == 1
    assert per_row <= path_bytes + 40, per_row  # measured: path bytes + 31.5
    assert (peak - base) / len(big) <= 250, (peak - base) / len(big)  # measured 123 (390 before)


def test_device_decoding_trains_and_its_workers_do_not_change_results(tiny_dataset: Path) -> None:
    """decode: device (cdga.training.decoding) on the CPU: the main process decodes and augments
    every batch; the workers, which only read, change nothing."""
    manifest = write_manifest(tiny_dataset)
    cfg = {"steps": 3}
    plain = run(manifest, tiny_dataset / "cpu", cfg=cfg)
    on_device = run(manifest, tiny_dataset / "d0", cfg=cfg, decode="device")
    run(manifest, tiny_dataset / "d2", cfg=cfg, decode="device", workers=2, persistent_workers=True,
        cache_images=True)
    assert ((tiny_dataset / "d0" / "results.jsonl").read_text()
            == (tiny_dataset / "d2" / "results.jsonl").read_text())
    assert [r["step"] for r in on_device] == [r["step"] for r in plain]
    assert on_device[-1]["loss"] != plain[-1]["loss"]  # the tensor jitter is not Pillow's (tests/test_decoding.py)
