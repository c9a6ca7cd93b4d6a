"""Rule <analysis> (cdga.analysis): one job of the registered analysis named as the rule."""

from _logging import setup

log = setup(snakemake)  # noqa: F821  (chooses a GPU rule's GPU before torch is imported)

from cdga import analysis

analysis.get(snakemake.rule).run(snakemake, log)  # noqa: F821
