# The HTML report: `snakemake --report <cdga.core.layout.report()>` gathers every output marked with
# report() (tables, figures, generation grids) and these captions into one self-contained file.


report: "../report/workflow.rst"
