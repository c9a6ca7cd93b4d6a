"""Rule split_dataset: list, verify and split a DomainBed-layout dataset."""

from _logging import setup

from cdga.core import io
from cdga.data import datasets

log = setup(snakemake)  # noqa: F821
table = datasets.index_dataset(
    snakemake.params.root,  # noqa: F821
    snakemake.wildcards.dataset,  # noqa: F821
    snakemake.params.domains,  # noqa: F821
    snakemake.params.holdout_fraction,  # noqa: F821
    snakemake.params.seed,  # noqa: F821
)
io.write_csv(snakemake.output[0], table)  # noqa: F821
log.info("%d images: %s", len(table), table.groupby(["domain", "split"]).size().to_dict())
