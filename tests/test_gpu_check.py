"""benchmarks/gpu_check.sh in its CPU dry mode: every command of the GPU check runs (the
paper-shaped study as a dry run, the throughput benchmarks and every generation lever's code
path at toy sizes; torch.compile through Dynamo's trace with the 'eager' backend, as Inductor's
code generation takes minutes on a CPU)."""

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
    for step in ("environment", "generation throughput", "generation levers (eager)", "training throughput",
                 "generation levers (compile)", "paper-shaped study on cpu", "done"):
        assert step in steps
    assert "stopped" not in steps
    study = (out / "study.log").read_text()
    assert "This was a dry-run" in study and "prepare_OfficeHome" in study and "prepare_VLCS" in study
    throughput = (out / "generation_throughput_demo_cpu.txt").read_text()
    assert "ratio project / naive" in throughput and "end to end / pipeline only" in throughput
    assert "pipeline only: batch 2, compiled, float32, sync-free steps" in throughput
    assert "end to end, serial" in throughput
    levers = (out / "generation_levers_demo_cpu.txt").read_text()
    for lever in ("base", "weights read in float16", "memory format (eager)", "attention backend",
                  "decoding", "host syncs"):
        assert lever in levers
    assert re.search(r"flash +\d+\.\d+ images/s", levers)  # CPU has flash; cudnn is reported missing
    assert re.search(r"cudnn +not available", levers)
    # diffusers' DDIM step reads its device timestep; the sync-free one does not
    plain, free = (next(line for line in levers.splitlines() if f"{setting} " in line and "scalar reads" in line)
                   for setting in ("diffusers' step", "sync_free_steps"))
    assert "scheduling_ddim" in plain and "scheduling_ddim" not in free
    assert int(re.search(r"(\d+) scalar reads", free)[1]) < int(re.search(r"(\d+) scalar reads", plain)[1])
    assert re.search(r"SyncFreeDDIMScheduler +\d+\.\d+ images/s", levers)
    compiled = (out / "generation_compile_demo_cpu.txt").read_text()
    assert re.search(r"UNet \+ VAE encoder/decoder; first call \d+ s +\d+\.\d+ images/s, within [01] grey levels", compiled)
    training = (out / "training_throughput_cpu.txt").read_text()
    assert "end to end / compute only" in training and "loader only" in training
    assert "end to end, decode device" in training  # training.decode, both places
    assert re.search(r"^torch \S+ cuda \S+ available (True|False) diffusers", (out / "env.txt").read_text(), re.MULTILINE)


def test_bad_arguments_are_refused(tmp_path: Path) -> None:
    proc = subprocess.run([str(SCRIPT), str(tmp_path), "--gpu"], capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 2 and "usage:" in proc.stderr
