"""Send a rule script's logging and uncaught errors to its Snakemake ``log:`` file, and import
the config's plugins (their variants, algorithms and methods) before the script reads them."""

from __future__ import annotations

import logging
import sys
import traceback

from cdga import plugins


def setup(snakemake) -> logging.Logger:
    """Log to the rule's log file (and stderr); record any uncaught exception there too; load
    the config's ``plugins`` (cdga.plugins)."""
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
    return log
