"""Rule <analysis> (cdga.analyses.registry): one job of the registered analysis named as the rule."""

from _logging import setup

log = setup(snakemake)  # noqa: F821  (chooses a GPU rule's GPU before torch is imported)

from cdga.analyses import registry as analysis

analysis.get(snakemake.rule).run(snakemake, log)  # noqa: F821
