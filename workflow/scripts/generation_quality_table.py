"""Rule generation_quality_table: concatenate the per-dataset generation quality tables."""

import pandas as pd
from _logging import setup

from cdga.core.io import write_csv

log = setup(snakemake)  # noqa: F821
write_csv(snakemake.output[0], pd.concat([pd.read_csv(p) for p in snakemake.input], ignore_index=True))  # noqa: F821
