"""benchmarks/gpu_check.sh in its CPU dry mode: every command of the GPU check runs (the
paper-shaped study as a dry run, the throughput benchmarks and the generation levers at toy
sizes; torch.compile, minutes on a CPU, only in tests/test_generation.py)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from conftest import REPO

SCRIPT = REPO / "benchmarks" / "gpu_check.sh"


def test_quick_cpu_mode_runs_every_step(tmp_path: Path) -> None:
    out = tmp_path / "gpu check"
    proc = subprocess.run([str(SCRIPT), str(out), "--device", "cpu", "--quick"],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    steps = (out / "steps.txt").read_text()
    for step in ("environment", "paper-shaped study on cpu", "generation throughput",
                 "training throughput", "generation levers", "done"):
        assert step in steps
    assert "generation levers: stopped" not in steps
    study = (out / "study.log").read_text()
    assert "This was a dry-run" in study and "prepare_OfficeHome" in study and "prepare_VLCS" in study
    throughput = (out / "generation_throughput_demo_cpu.txt").read_text()
    assert "ratio project / naive" in throughput and "end to end / pipeline only" in throughput
    levers = (out / "generation_levers_demo_cpu.txt").read_text()
    assert "weights read in float16" in levers and "memory format" in levers
    assert "end to end / compute only" in (out / "training_throughput_cpu.txt").read_text()
    assert re.search(r"^torch \S+ cuda \S+ available (True|False) diffusers", (out / "env.txt").read_text(), re.MULTILINE)


def test_bad_arguments_are_refused(tmp_path: Path) -> None:
    proc = subprocess.run([str(SCRIPT), str(tmp_path), "--gpu"], capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 2 and "usage:" in proc.stderr
