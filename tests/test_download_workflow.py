"""prepare_<Dataset> through Snakemake: downloads when absent, then the split reads the folder."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pandas as pd
from study import overlay, planned_jobs, run
from toy_dataset import write_image

from cdga.core import layout
from cdga.core.registry import domains


def pacs_config(tmp_path: Path, root: Path, url: str) -> Path:
    return overlay(tmp_path, "pacs", {
        "datasets_root": str(root),
        "datasets": ["PACS"],
        "dataset_settings": {"PACS": {"variants": ["ig"], "class_prompt_template": "a {class_name}",
                                      "test_envs": ["sketch"]}},
        "downloads": {"PACS": [{"url": url, "file": "PACS.zip"}]},
    })


def test_prepare_rule_downloads_once_and_feeds_the_split(tmp_path: Path) -> None:
    archive = tmp_path / "PACS.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for i, d in enumerate(domains("PACS")):
            for c in ("dog", "horse"):
                for k in range(5):
                    write_image(tmp_path / "img.png", seed=i * 10 + k)
                    zf.write(tmp_path / "img.png", f"kfold/{d}/{c}/{k}.png")
    work = tmp_path / "work"
    work.mkdir()
    config = pacs_config(tmp_path, tmp_path / "data", archive.as_uri())
    target = "results/splits/PACS.csv"
    run(work, target, configs=(config,))  # over the demo config
    table = pd.read_csv(work / target)
    assert table.groupby("domain").size().to_dict() == {d: 10 for d in domains("PACS")}
    marker = json.loads((work / "results" / "prepared" / "PACS.json").read_text())
    assert marker["obtained"] == "downloaded"
    assert (work / layout.log("prepare_PACS")).read_text()
    assert "Nothing to be done" in run(work, target, configs=(config,)).stderr

    # A fresh results folder over the same datasets_root finds the data; the source is gone.
    archive.unlink()
    other = tmp_path / "other"
    other.mkdir()
    assert planned_jobs(other, target, configs=(config,)) == {
        "prepare_PACS": 1, "split_dataset": 1}
    run(other, target, configs=(config,))
    assert json.loads((other / "results" / "prepared" / "PACS.json").read_text())["obtained"] == "found"
