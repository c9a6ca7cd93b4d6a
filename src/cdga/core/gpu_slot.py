"""One GPU per job on a machine with several (``snakemake --profile local``).

The local profile gives every job the resource ``local_gpus`` (``CDGA_LOCAL_GPUS``). A GPU
rule's script calls ``select`` before torch starts CUDA: it locks the first free of the
machine's GPU indices (``fcntl.flock`` on one lock file per index) for the rest of the job's
process and sets ``CUDA_VISIBLE_DEVICES`` to it, so concurrent jobs see one GPU each. The
lock goes with the process, also when it is killed. Nothing is chosen under SLURM (no
``local_gpus``), on a one-GPU machine, or when ``CUDA_VISIBLE_DEVICES`` is set already.
"""

from __future__ import annotations

import fcntl
import logging
import os
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO

log = logging.getLogger(__name__)
RESOURCE = "local_gpus"
VISIBLE = "CUDA_VISIBLE_DEVICES"
_held: list[IO] = []  # the open lock file of this process's slot


def lock_dir() -> Path:
    """The machine-wide lock directory: ``CDGA_GPU_LOCK_DIR``, else one per user in the temp dir."""
    return Path(os.environ.get("CDGA_GPU_LOCK_DIR")
                or Path(tempfile.gettempdir()) / f"cdga-gpu-locks-{os.getuid()}")


def claim(gpus: int, directory: Path, poll_s: float = 1.0) -> int:
    """Lock the first free GPU index of ``0 .. gpus - 1`` for this process and return it.

    Waits while every index is taken (by jobs of another study on the same machine).
    """
    directory.mkdir(parents=True, exist_ok=True)
    waiting = False
    while True:
        for index in range(gpus):
            handle = open(directory / f"gpu{index}.lock", "w")  # noqa: SIM115 (held till exit)
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                continue
            _held.append(handle)
            return index
        if not waiting:
            log.info("all %d GPUs are taken (locks in %s); waiting for one", gpus, directory)
            waiting = True
        time.sleep(poll_s)


def select(resources: Mapping) -> int | None:
    """Make this job see one GPU of the machine when ``resources`` (the job's) ask for it.

    Returns the GPU index chosen, or None when nothing was chosen.
    """
    gpus = int(resources.get(RESOURCE) or 0)
    if gpus < 2:
        return None
    if VISIBLE in os.environ:
        log.info("%s=%r is set already; not choosing a GPU", VISIBLE, os.environ[VISIBLE])
        return None
    index = claim(gpus, lock_dir())
    os.environ[VISIBLE] = str(index)
    log.info("GPU %d of %d (%s=%d)", index, gpus, VISIBLE, index)
    return index
