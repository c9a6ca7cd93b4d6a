"""Rule tables: accuracy.{csv,md,tex}, overview.{csv,md,tex} and scaling.csv."""

import pandas as pd
from _logging import setup

from cdga.core import io
from cdga.report import tables

log = setup(snakemake)  # noqa: F821
out = snakemake.output  # noqa: F821
test_envs = snakemake.params.test_envs  # noqa: F821
methods = snakemake.params.methods  # noqa: F821

main = tables.collect(snakemake.input.main)  # noqa: F821
io.write_csv(out.accuracy_csv,
             main[["dataset", "method", "test_env", "selection", "trial", "hparams_seed", "acc"]])
md, tex = tables.accuracy_tables(main, test_envs, methods)
for path in snakemake.input.filter_empty:  # noqa: F821  (when filtered methods run)
    note = tables.filter_note(pd.read_csv(path, keep_default_na=False), methods)
    if note:
        log.warning("%s", note)
        md += "\n" + note
        tex += "".join(f"% {line}\n" for line in note.splitlines())
io.write_text(out.accuracy_md, md)
io.write_text(out.accuracy_tex, tex)

overview = tables.overview(main, test_envs, methods)
io.write_csv(out.overview_csv, overview)
io.write_text(out.overview_md, tables.overview_markdown(overview))
io.write_text(out.overview_tex, tables.overview_latex(overview))

every = tables.collect(snakemake.input.every)  # noqa: F821
io.write_csv(out.scaling_csv,
             every[["dataset", "method", "level", "test_env", "trial", "hparams_seed", "selection",
                    "acc"]])
log.info("%d main runs, %d runs in all", len(main) // 2, len(every) // 2)
