"""One GPU per job on one machine (cdga.core.gpu_slot, profiles/local), checked without GPUs.

Concurrent processes and concurrent Snakemake jobs must each see one GPU index of their own
(CUDA_VISIBLE_DEVICES), every GPU rule's script must choose it before torch is imported, and
the local profile must hand the GPU count to every GPU rule.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO
from study import run

from cdga import plan
from cdga.analyses import registry as analysis
from cdga.core import gpu_slot

PROFILE = REPO / "profiles" / "local"
GPU_RULES = sorted(plan.gpu_rules())  # both profiles give each a GPU
SCRIPTS = {"train_demo_ldm": "train_demo_ldm.py", "generate": "generate.py",
           "generation_quality": "generation_quality.py", "train": "train.py",
           "filter_scorer": "filter_scorer.py", "filter_synthetic": "filter_synthetic.py",
           **{name: "analysis.py" for name in analysis.ANALYSES}}

# Claim a GPU, write its index to argv[2], hold it until the file argv[3] exists.
CLAIM = """
import os, sys, time
from pathlib import Path
from cdga.core import gpu_slot
gpu_slot.select({"local_gpus": int(sys.argv[1])})
Path(sys.argv[2]).write_text(os.environ["CUDA_VISIBLE_DEVICES"])
while not Path(sys.argv[3]).exists():
    time.sleep(0.05)
"""


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """The environment of a job: no GPU chosen yet, a lock directory of this test's own."""
    out = {k: v for k, v in os.environ.items() if k != gpu_slot.VISIBLE}
    return out | {"CDGA_GPU_LOCK_DIR": str(tmp_path / "locks")}


def wait_for(paths: list[Path], timeout: float = 60) -> list[str]:
    end = time.monotonic() + timeout
    while not all(p.exists() and p.read_text() for p in paths):
        assert time.monotonic() < end, f"not written in {timeout} s: {[str(p) for p in paths]}"
        time.sleep(0.05)
    return [p.read_text() for p in paths]


def test_nothing_is_chosen_off_the_local_profile(monkeypatch: pytest.MonkeyPatch,
                                                 tmp_path: Path) -> None:
    monkeypatch.setenv("CDGA_GPU_LOCK_DIR", str(tmp_path))
    monkeypatch.delenv(gpu_slot.VISIBLE, raising=False)
    assert gpu_slot.select({}) is None  # SLURM: no local_gpus resource
    assert gpu_slot.select({"local_gpus": 1}) is None  # one GPU: nothing to choose
    assert gpu_slot.VISIBLE not in os.environ
    monkeypatch.setenv(gpu_slot.VISIBLE, "5")  # set by the user (or SLURM)
    assert gpu_slot.select({"local_gpus": 4}) is None and os.environ[gpu_slot.VISIBLE] == "5"
    assert not list(tmp_path.iterdir())


def test_concurrent_processes_see_distinct_gpus_and_wait_for_a_free_one(
        tmp_path: Path, env: dict[str, str]) -> None:
    def start(k: int, release: str) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-c", CLAIM, "4", str(tmp_path / f"{k}.gpu"),
                                 str(tmp_path / release)], env=env)

    jobs = [start(k, "release") for k in range(4)]
    fifth = None
    try:
        gpus = wait_for([tmp_path / f"{k}.gpu" for k in range(4)])
        assert sorted(gpus) == ["0", "1", "2", "3"]
        fifth = start(4, "release_fifth")
        time.sleep(1.5)
        assert not (tmp_path / "4.gpu").exists()  # all four GPUs are held: it waits
        jobs[gpus.index("2")].kill()  # a job that ends (or dies) frees its GPU
        assert wait_for([tmp_path / "4.gpu"]) == ["2"]
    finally:
        (tmp_path / "release").touch()
        (tmp_path / "release_fifth").touch()
        for job in [*jobs, *([fifth] if fifth else [])]:
            job.wait(timeout=60)


@pytest.mark.parametrize("rule", GPU_RULES)
def test_gpu_scripts_choose_the_gpu_before_importing_torch(rule: str, env: dict[str, str]) -> None:
    # Run the rule's script until it first imports torch; print CUDA_VISIBLE_DEVICES then.
    probe = f"""
import os, runpy, sys, types
class Stop(Exception):
    pass
class AtTorch:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "torch":
            print("visible:", os.environ.get("CUDA_VISIBLE_DEVICES"))
            raise Stop
sys.meta_path.insert(0, AtTorch())
sys.path.insert(0, {str(REPO / "workflow" / "scripts")!r})
job = types.SimpleNamespace(log=[], rule={rule!r}, resources={{"local_gpus": 2}}, config={{"plugins": []}})
try:
    runpy.run_path({str(REPO / "workflow" / "scripts" / SCRIPTS[rule])!r},
                   init_globals={{"snakemake": job}})
except Stop:
    pass
"""
    proc = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "visible: 0" in proc.stdout, f"{SCRIPTS[rule]} imports torch before choosing a GPU"


def test_local_profile_spreads_concurrent_jobs_over_the_gpus(tmp_path: Path,
                                                             env: dict[str, str]) -> None:
    (tmp_path / "job.py").write_text(
        "import json, os, time\n"
        "from cdga.core import gpu_slot\n"
        "gpu_slot.select(snakemake.resources)\n"
        "start = time.time()\n"
        "time.sleep(1.5)\n"
        "json.dump({'gpu': os.environ['CUDA_VISIBLE_DEVICES'], 'start': start,\n"
        "           'end': time.time()}, open(snakemake.output[0], 'w'))\n")
    (tmp_path / "Snakefile").write_text(
        "rule all:\n    input: expand('out/{k}.json', k=range(6))\n\n"
        "rule train:  # a GPU rule of profiles/local\n"
        "    output: 'out/{k}.json'\n    script: 'job.py'\n")
    run(tmp_path, snakefile=None, configs=(), profile=PROFILE, cores=6,  # its own Snakefile
        env=env | {"CDGA_LOCAL_GPUS": "3"})
    jobs = [json.loads((tmp_path / "out" / f"{k}.json").read_text()) for k in range(6)]
    assert {j["gpu"] for j in jobs} <= {"0", "1", "2"}
    overlapping = [(a, b) for i, a in enumerate(jobs) for b in jobs[i + 1:]
                   if a["start"] < b["end"] and b["start"] < a["end"]]
    assert overlapping, "no two jobs ran at once"
    assert all(a["gpu"] != b["gpu"] for a, b in overlapping)


def test_local_profile_gives_every_gpu_rule_the_gpu_count(tmp_path: Path,
                                                          env: dict[str, str]) -> None:
    proc = run(tmp_path, "-n", profile=PROFILE, cores=None, env=env | {"CDGA_LOCAL_GPUS": "4"})
    out = proc.stdout + proc.stderr
    resources: dict[str, set[str]] = {}
    for block in re.split(r"^(?=(?:local)?rule \w+:$)", out, flags=re.MULTILINE)[1:]:
        rule = re.match(r"(?:local)?rule (\w+):", block)[1]
        found = re.search(r"^\s+resources: (.*)$", block, re.MULTILINE)
        resources.setdefault(rule, set()).add(found[1] if found else "")
    assert set(GPU_RULES) <= set(resources)  # the test config runs every GPU rule
    for rule in GPU_RULES:
        assert all("local_gpus=4" in r and "gpu=1" in r.split(", ") for r in resources[rule]), rule
