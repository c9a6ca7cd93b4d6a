"""The config keys that change no result, declared once per config block (torch-free).

* ``EXECUTION``: speed and memory only (threads, workers, a batch size that only cuts the work
  into pieces, caching, compile). Never in a job's params nor a resume fingerprint, so editing
  one reruns nothing; the scripts read them from the config.
* ``SHAPE``: which jobs exist (trials, draws, images per pair), not what one job computes.

``cdga.plan`` derives every job's params from a block without these keys (``job_block``);
an analysis's block adds its class's ``execution`` (``cdga.analyses.registry``). A new execution
setting: add its key here, beside its block, and to the schema (tests/test_plan.py checks
that every key named here is a key of its block in the schema).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

EXECUTION: dict[str, tuple[str, ...]] = {
    "": ("device",),  # top-level keys
    "demo_ldm": ("threads",),
    "generation": ("batch_size", "auto_batch_size", "compile", "compile_mode", "compile_vae",
                   "compile_cache", "memory_format", "attention", "sync_free_steps", "workers", "threads"),
    "generation_quality": ("threads",),
    "filtering": ("eval_batch_size", "num_workers", "threads"),
    "training": ("threads", "num_workers", "eval_batch_size", "cache_images", "prefetch_factor",
                 "persistent_workers", "jpeg_draft", "decode"),
    "analyses": ("threads",),
}
SHAPE: dict[str, tuple[str, ...]] = {
    "generation": ("images_per_pair", "shards"),
    "training": ("trials", "hparam_draws"),
    "analyses": ("methods", "trials"),
}


def keys(block: str) -> tuple[str, ...]:
    """The keys of config block ``block`` (dotted, '' for the top level) that no job's params
    hold: its execution settings and the keys that shape the job list."""
    return EXECUTION.get(block, ()) + SHAPE.get(block, ())


def job_block(block: str, values: Mapping[str, Any], *extra: str) -> dict[str, Any]:
    """``values`` (config block ``block``) without its execution and shape keys nor ``extra``."""
    drop = set(keys(block)) | set(extra)
    return {k: v for k, v in values.items() if k not in drop}
