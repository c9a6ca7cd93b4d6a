"""The paper-shaped study (tests/paper_study.py, config/test_paper.yaml) run through snakemake.

It starts from the datasets' own archives and takes config/paper.yaml's code path: OfficeHome
(PG and IG) beside IG-only VLCS, JPEG and odd image modes, a domain with a space, a different
size at each stage, and the ResNet-50 backbone from a local weights file.
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import tarfile
from pathlib import Path

import pandas as pd
import pytest
import torch
from conftest import REPO
from PIL import Image
from study import workflow_rules

from cdga.core.registry import domains
from cdga.plan import gpu_rules

pytestmark = pytest.mark.slow

# Rules of the workflow that the paper-shaped study does not reach: the demo's own data and
# LDM, and the downloads of the datasets it does not run.
NOT_IN_STUDY = {"make_demo_digits", "train_demo_ldm", "prepare_PACS", "prepare_TerraIncognita",
                "prepare_DomainNet"}


def test_every_rule_ran_and_nothing_is_left(paper_study: dict) -> None:
    work = paper_study["workdir"]
    ran = set(re.findall(r"^(?:local)?rule (\w+):$", paper_study["log"], re.MULTILINE))
    expected = workflow_rules(work) - NOT_IN_STUDY
    assert len(expected) > 15 and expected <= ran, sorted(expected - ran)
    assert "Nothing to be done" in paper_study["rerun"]
    assert (work / "results" / "report.html").stat().st_size > 100_000


def test_gpu_check_counts_the_device_of_every_gpu_job(paper_study: dict) -> None:
    """benchmarks/devices.sh (gpu_check.sh's devices.txt) reads the one device line each GPU
    job logs: every GPU rule that ran is counted once per job, on the CPU here."""
    logs = paper_study["workdir"] / "results" / "logs"
    out = subprocess.run([REPO / "benchmarks" / "devices.sh", logs], capture_output=True,
                         text=True, check=True).stdout
    counted = {(rule, device): int(n) for n, rule, device in map(str.split, out.splitlines())}
    jobs = {rule: len(list((logs / rule).rglob("*.log"))) for rule in gpu_rules()}
    assert counted == {(rule, "cpu"): n for rule, n in jobs.items() if n}
    assert {"generate", "train", "filter_scorer", "adversarial", "tsne"} <= {r for r, _ in counted}


def test_data_came_from_the_archives_as_the_real_datasets_hold_them(paper_study: dict) -> None:
    work = paper_study["workdir"]
    for dataset in ("OfficeHome", "VLCS"):
        marker = json.loads((work / "results" / "prepared" / f"{dataset}.json").read_text())
        assert marker["obtained"] == "downloaded"
        table = pd.read_csv(work / "results" / "splits" / f"{dataset}.csv")
        assert sorted(table["domain"].unique()) == sorted(domains(dataset))
        assert len(table) == 4 * 2 * 5  # Thumbs.db, .DS_Store and __MACOSX are not images
        suffixes = {Path(p).suffix for p in table["path"]}
        assert suffixes == {".jpg", ".JPG", ".png", ".PNG", ".jpeg"}
    office = pd.read_csv(work / "results" / "splits" / "OfficeHome.csv")
    assert "Real World" in set(office["domain"]) and "Alarm_Clock" in set(office["class_name"])
    sizes = {Image.open(p).size for p in office["path"]}
    assert len(sizes) > 10 and all(w != h for w, h in sizes)


def test_each_stage_works_at_its_own_size(paper_study: dict) -> None:
    work = paper_study["workdir"]
    pairs = sorted(p.name for p in (work / "results" / "synthetic" / "OfficeHome" / "pg").iterdir())
    assert len(pairs) == 3 * 2 + 3 and not any("Real World" in p for p in pairs)  # no run reads those
    shard = work / "results" / "synthetic" / "OfficeHome" / "pg" / pairs[0] / "rep0" / "shard0.tar"
    with tarfile.open(shard) as tar:
        member = next(m for m in tar if m.isfile())
        assert Image.open(io.BytesIO(tar.extractfile(member).read())).size == (24, 24)
    manifest = pd.read_csv(shard.with_suffix(".csv"))
    assert manifest["prompt"].str.contains("Alarm Clock|Flip Flops").all()
    quality = pd.read_csv(work / "results" / "summary" / "generation_quality.csv")
    assert set(quality[quality["dataset"] == "VLCS"]["variant"]) == {"ig"}
    assert set(quality[quality["dataset"] == "OfficeHome"]["variant"]) == {"pg", "ig"}
    run = work / "results" / "train" / "OfficeHome" / "cdga_pg" / "Real World" / "scale1" / "trial0"
    model = torch.load(run / "model_training_domain.pt", map_location="cpu", weights_only=False)
    assert model["spec"]["backbone"] == "resnet50"
    records = [json.loads(line) for line in (run / "results.jsonl").read_text().splitlines()]
    assert records and records[-1]["step"] == 2  # steps 3: evaluated at steps 2 and the last
