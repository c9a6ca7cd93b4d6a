"""Run the Snakemake workflow from tests, in a scratch working directory."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from conftest import REPO

SNAKEFILE = REPO / "workflow" / "Snakefile"
TEST_CONFIG = REPO / "config" / "test.yaml"


def snakemake(workdir: Path, *args: str, check: bool = True,
              configs: Sequence[Path] = (TEST_CONFIG,)) -> subprocess.CompletedProcess:
    """Run snakemake with ``configs`` (default: the test config) in ``workdir``; return the
    finished process. A ``--configfile`` in ``args`` replaces ``configs``, it does not add."""
    cmd = [sys.executable, "-m", "snakemake", "-s", str(SNAKEFILE), "--directory", str(workdir),
           "--configfile", *map(str, configs), "--cores", "2", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=workdir, check=False)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    return proc


def planned_jobs(workdir: Path, *args: str, configs: Sequence[Path] = (TEST_CONFIG,)) -> dict[str, int]:
    """Rule -> job count that a dry run plans with ``configs`` (a further ``--configfile`` in
    ``args`` would replace them, not add to them)."""
    out = snakemake(workdir, *args, "-n", "--quiet", "rules", configs=configs).stdout
    counts: dict[str, int] = {}
    rows = out.split("job", 1)[-1].splitlines()
    for line in rows:
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit() and parts[0] not in {"total"}:
            counts[parts[0]] = int(parts[1])
    return counts


def workflow_rules(workdir: Path) -> set[str]:
    """Every rule of the workflow: ``--list-rules`` prints a name, then its docstring in
    parentheses, which may run over several lines."""
    out = snakemake(workdir, "--list-rules").stdout
    return set(re.findall(r"^([A-Za-z_]\w*)(?: \(.*)?$", out, re.MULTILINE))
