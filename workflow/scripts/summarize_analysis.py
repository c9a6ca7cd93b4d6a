"""Rule summarize_<analysis>: gather its jobs' rows, write the summary table, draw its figures
(cdga.analyses.registry: summarize)."""

import pandas as pd
from _logging import setup

from cdga.analyses import registry as analysis
from cdga.core import io
from cdga.report import figures

log = setup(snakemake)  # noqa: F821
name = snakemake.rule.removeprefix("summarize_")  # noqa: F821
tables = {key: pd.concat([pd.read_csv(p) for p in paths], ignore_index=True)
          for key, paths in snakemake.input.items()}  # noqa: F821
table, drawn = analysis.get(name).summarize(tables, snakemake.params.methods)  # noqa: F821
for stem, fig in drawn.items():
    figures.save(fig, *snakemake.output[stem])  # noqa: F821
io.write_csv(snakemake.output.table, table)  # noqa: F821
log.info("%s: %d rows, figures %s", name, len(table), sorted(drawn))
