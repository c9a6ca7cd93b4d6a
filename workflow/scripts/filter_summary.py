"""Rule filter_summary: the share kept per pair and per class, and per dataset a figure of kept
and dropped examples per pair."""

import pandas as pd
from _logging import setup

from cdga import figures, filtering
from cdga.io import write_csv

log = setup(snakemake)  # noqa: F821
sm = snakemake  # noqa: F821
decisions = pd.concat([pd.read_csv(p, keep_default_na=False) for p in sm.input.decisions],
                      ignore_index=True)
write_csv(sm.output.pairs, filtering.kept_shares(decisions, filtering.PAIR))
write_csv(sm.output.classes, filtering.kept_shares(decisions, ["class_index", "class_name"]))
for dataset, png, pdf in zip(sm.params.datasets, sm.output.png, sm.output.pdf, strict=True):
    picks = filtering.example_rows(decisions[decisions["dataset"] == dataset],
                                   sm.params.examples, sm.params.seed)
    figures.save(figures.filter_examples(picks, sm.params.examples, sm.params.resolution,
                                         f"{dataset}: kept and dropped synthetic images"), png, pdf)
log.info("kept %d of %d synthetic images", int(decisions["keep"].sum()), len(decisions))
