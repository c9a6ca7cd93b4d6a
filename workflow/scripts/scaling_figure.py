"""Rule scaling_figure: test-domain accuracy against the scale level, from the scaling table."""

import pandas as pd
from _logging import setup

from cdga.report import figures

log = setup(snakemake)  # noqa: F821
figures.save(figures.scaling(pd.read_csv(snakemake.input[0]), snakemake.params.methods),  # noqa: F821
             *snakemake.output.figure)  # noqa: F821
log.info("scaling figure: done")
