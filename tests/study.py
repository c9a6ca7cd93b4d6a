"""A study folder for tests: Snakemake over a working directory with named config overlays.

Every test that starts Snakemake goes through ``run`` (or ``start``, for a run it stops from
outside): the workflow's Snakefile by default, or the Snakefile a test wrote into its folder
(``snakefile=None``, the user's own command in a repository copy). Config files are given as
``configs``: the base (config/test.yaml by default) and the overlays written by ``overlay``, in
order, later ones winning, as one ``--configfile`` list (a second ``--configfile`` option would
replace the first, not add to it). ``merged`` reads the same merge in Python.
"""

from __future__ import annotations

import copy
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml
from conftest import REPO

SNAKEFILE = REPO / "workflow" / "Snakefile"
CONFIG = REPO / "config" / "config.yaml"
TEST_CONFIG = REPO / "config" / "test.yaml"
PROFILES = REPO / "profiles"


def overlay(folder: Path, name: str, values: Mapping) -> Path:
    """Write the config overlay ``folder/<name>.yaml`` holding ``values``; return its path."""
    path = folder / f"{name}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(dict(values)))
    return path


def merge(base: Mapping, over: Mapping) -> dict:
    """``over`` merged into a copy of ``base``: nested mappings key by key, any other value
    replaced (as Snakemake merges a ``--configfile`` over the workflow's config)."""
    out = copy.deepcopy(dict(base))
    for key, value in over.items():
        both = isinstance(value, Mapping) and isinstance(out.get(key), Mapping)
        out[key] = merge(out[key], value) if both else copy.deepcopy(value)
    return out


def merged(*configs: Path | Mapping) -> dict:
    """config/config.yaml with each config file (or dict) merged over it, in order."""
    config = yaml.safe_load(CONFIG.read_text())
    for item in configs:
        config = merge(config, item if isinstance(item, Mapping)
                       else yaml.safe_load(Path(item).read_text()))
    return config


def training_config(**overrides: object) -> dict:
    """The test study's training block (config.yaml's, test.yaml's over it) at 8 px with
    ``overrides``, minus the execution settings a training job does not take."""
    cfg = merged(TEST_CONFIG)["training"] | {"resolution": 8, **overrides}
    return {k: v for k, v in cfg.items() if k not in ("trials", "threads", "num_workers")}


def command(workdir: Path, *args: str, configs: Sequence[Path | str] = (TEST_CONFIG,),
            profile: Path | str | None = None, cores: int | None = 2,
            snakefile: Path | None = SNAKEFILE) -> list[str]:
    """The snakemake command line that ``run`` starts in ``workdir``."""
    cmd = [sys.executable, "-m", "snakemake"]
    if snakefile is not None:
        cmd += ["-s", str(snakefile), "--directory", str(workdir)]
    if configs:
        cmd += ["--configfile", *map(str, configs)]
    if profile is not None:  # an option after the config list ends it, before any target
        cmd += ["--profile", str(profile)]
    if cores is not None:
        cmd += ["--cores", str(cores)]
    return [*cmd, *args]


def run(workdir: Path, *args: str, check: bool = True, env: Mapping[str, str] | None = None,
        timeout: float | None = None, **how) -> subprocess.CompletedProcess:
    """Run snakemake in ``workdir`` (``how``: configs, profile, cores, snakefile as in
    ``command``); with ``check``, fail with the end of its output unless it succeeded."""
    cmd = command(workdir, *args, **how)
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=workdir, check=False,
                          env=None if env is None else dict(env), timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    return proc


def start(workdir: Path, *args: str, log: Path, env: Mapping[str, str] | None = None,
          **how) -> subprocess.Popen:
    """Start snakemake in ``workdir`` without waiting, its output going to ``log``."""
    with open(log, "w") as out:
        return subprocess.Popen(command(workdir, *args, **how), cwd=workdir, stdout=out,
                                stderr=subprocess.STDOUT, env=None if env is None else dict(env))


def planned_jobs(workdir: Path, *args: str, **how) -> dict[str, int]:
    """Rule -> job count that a dry run plans."""
    out = run(workdir, *args, "-n", "--quiet", "rules", **how).stdout
    counts: dict[str, int] = {}
    for line in out.split("job", 1)[-1].splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit() and parts[0] not in {"total"}:
            counts[parts[0]] = int(parts[1])
    return counts


def workflow_rules(workdir: Path) -> set[str]:
    """Every rule of the workflow: ``--list-rules`` prints a name, then its docstring in
    parentheses, which may run over several lines."""
    out = run(workdir, "--list-rules").stdout
    return set(re.findall(r"^([A-Za-z_]\w*)(?: \(.*)?$", out, re.MULTILINE))


# Why a dry run plans a job (Snakemake's "reason:" lines).
PARAMS_CHANGED = "Params have changed since last execution"
INPUT_UPDATED = "Input files updated by another job"


@dataclass(frozen=True)
class Job:
    """One job of a dry run's plan."""
    rule: str
    wildcards: dict[str, str]
    reason: str


def plan(workdir: Path, edit: Mapping | None = None, targets: Sequence[str] = ()) -> list[Job]:
    """The jobs `snakemake -n` plans in ``workdir`` (for ``targets``, default all) on the test
    config with the overlay ``edit`` over it: every job's rule, wildcards and reason."""
    configs = [TEST_CONFIG]
    if edit is not None:
        configs.append(overlay(workdir.parent, f"{workdir.name}-edit", edit))
    proc = run(workdir, "-n", *targets, configs=configs)
    out = proc.stdout + proc.stderr
    jobs = []
    for block in re.split(r"^(?=(?:local)?rule \w+:$)", out, flags=re.MULTILINE)[1:]:
        rule = re.match(r"(?:local)?rule (\w+):", block)[1]
        reason = re.search(r"^\s+reason: (.*)$", block, re.MULTILINE)[1]
        found = re.search(r"^\s+wildcards: (.*)$", block, re.MULTILINE)
        wildcards = dict(kv.split("=", 1) for kv in found[1].split(", ")) if found else {}
        jobs.append(Job(rule, wildcards, reason))
    if not jobs:
        assert "Nothing to be done" in out, out[-4000:]
    return jobs


def rules(jobs: list[Job]) -> Counter:
    """How many jobs of each rule a plan holds (the ``all`` target aside)."""
    return Counter(j.rule for j in jobs if j.rule != "all")


def outputs(workdir: Path, pattern: str) -> int:
    """How many files of the study in ``workdir`` match ``pattern`` under results/."""
    return sum(1 for _ in (workdir / "results").glob(pattern))
