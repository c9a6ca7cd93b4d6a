"""What every benchmark shares: its header (device, versions, date), its output, timed child processes."""

from __future__ import annotations

import datetime
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import torch


def emit(lines: list[str], out: Path | None, quiet: bool = False) -> None:
    """Print the benchmark's table (unless ``quiet``) and, if ``out`` is given, write it there too."""
    text = "\n".join(lines) + "\n"
    if not quiet:
        print(text)
    if out:
        out.write_text(text)


def header(title: str, settings: dict) -> str:
    """A block naming the benchmark, machine, library versions and settings."""
    import diffusers
    import PIL

    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
    lines = [
        f"# {title}",
        f"date: {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC",
        f"device: {device}; cpu cores: {os.cpu_count()}; {platform.processor() or platform.machine()}",
        (f"python {platform.python_version()}, torch {torch.__version__}, "
         f"diffusers {diffusers.__version__}, pillow {PIL.__version__}"),
        "settings: " + ", ".join(f"{k}={v}" for k, v in settings.items()),
    ]
    return "\n".join(lines)


def run_child(code: str) -> tuple[float, float, str]:
    """Wall and CPU (user + sys) seconds of a child Python process running ``code``, and its stdout."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, out.stdout
