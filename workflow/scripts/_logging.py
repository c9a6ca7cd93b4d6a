"""Send a rule script's logging and uncaught errors to its Snakemake ``log:`` file, import the
config's plugins (their variants, algorithms, methods and analyses) before the script reads
them, and give a GPU rule's job a GPU of its own (cdga.core.gpu_slot) before torch starts CUDA."""

from __future__ import annotations

import logging
import sys
import traceback

from cdga import plan
from cdga.core import gpu_slot, plugins


def setup(snakemake) -> logging.Logger:
    """Log to the rule's log file (and stderr); record any uncaught exception there too; load
    the config's ``plugins`` (cdga.core.plugins); on a GPU rule (cdga.plan.gpu_rules), choose the
    job's GPU (profiles/local: one per job). Call it before importing torch."""
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if snakemake.log:
        handlers.append(logging.FileHandler(str(snakemake.log[0]), mode="w"))
    logging.basicConfig(level=logging.INFO, handlers=handlers, force=True,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    log = logging.getLogger(snakemake.rule)

    def hook(kind, value, tb) -> None:
        log.error("".join(traceback.format_exception(kind, value, tb)))

    sys.excepthook = hook
    plugins.load(snakemake.config.get("plugins", []))
    if snakemake.rule in plan.gpu_rules():
        gpu_slot.select(snakemake.resources)
    return log
