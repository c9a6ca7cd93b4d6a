"""The header every benchmark prints: device, versions, date."""

from __future__ import annotations

import datetime
import os
import platform
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
