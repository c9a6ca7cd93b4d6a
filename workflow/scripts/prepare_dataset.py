"""Rule prepare_<Dataset>: make <datasets_root>/<Dataset> a DomainBed-layout folder."""

from _logging import setup

from cdga.core import io
from cdga.data import download

log = setup(snakemake)  # noqa: F821
params = snakemake.params  # noqa: F821
summary = download.prepare(
    params.dataset, params.root, [download.Source.from_config(s) for s in params.sources]
)
io.write_json(snakemake.output[0], summary)  # noqa: F821
