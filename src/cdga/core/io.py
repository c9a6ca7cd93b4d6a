"""Atomic file writes: write to a temporary sibling, then rename over the target."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pandas as pd


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it onto ``target`` if the block succeeds."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=f".tmp{suffix}", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, target)
    finally:
        tmp_path.unlink(missing_ok=True)


def write_text(target: str | os.PathLike, text: str) -> None:
    """Atomically write ``text`` to ``target``."""
    with atomic_path(target) as tmp:
        tmp.write_text(text)


def write_json(target: str | os.PathLike, obj: object) -> None:
    """Atomically write ``obj`` as indented JSON."""
    write_text(target, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def save_torch(target: str | os.PathLike, obj: object) -> None:
    """Atomically ``torch.save`` ``obj``. Saving through a file handle keeps the archive's
    internal name fixed, so the same object gives the same bytes whatever the temporary name."""
    import torch  # here: the light rule scripts (split, assemble, tables) import this module

    with atomic_path(target, ".pt") as tmp, open(tmp, "wb") as handle:
        torch.save(obj, handle)


def write_csv(target: str | os.PathLike, frame: pd.DataFrame) -> None:
    """Atomically write a DataFrame as CSV without its index."""
    with atomic_path(target, ".csv") as tmp:
        frame.to_csv(tmp, index=False)
