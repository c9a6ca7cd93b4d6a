"""Rule filter_summary: the share kept per pair and per class, and per dataset a figure of kept
and dropped examples per pair. One keep list is read at a time (a paper-scale job has millions
of rows)."""

import pandas as pd
from _logging import setup

from cdga.core.io import write_csv
from cdga.filtering import keep as filtering
from cdga.report import figures

log = setup(snakemake)  # noqa: F821
sm = snakemake  # noqa: F821
pairs, classes, empty, candidates = [], [], [], []
for path in sm.input.decisions:
    decisions = pd.read_csv(path, keep_default_na=False)
    pairs.append(filtering.kept_shares(decisions, filtering.PAIR))
    classes.append(filtering.kept_shares(decisions, ["class_index", "class_name"]))
    empty.append(filtering.empty_pairs(decisions))
    candidates.append(filtering.sample_examples(decisions, sm.params.examples, sm.params.seed))
pairs = pd.concat(pairs, ignore_index=True)
write_csv(sm.output.pairs, pairs)
write_csv(sm.output.classes, pd.concat(classes, ignore_index=True))
empty = pd.concat(empty, ignore_index=True)
write_csv(sm.output.empty, empty)
if len(empty):  # assembly goes on; those runs train the pair's target domain on what is left
    log.warning("the keep lists keep no image of %d (pair, rep) group(s):\n%s", len(empty),
                empty.to_string(index=False))
candidates = pd.concat(candidates, ignore_index=True)
for dataset, png, pdf in zip(sm.params.datasets, sm.output.png, sm.output.pdf, strict=True):
    picks = filtering.example_rows(candidates[candidates["dataset"] == dataset],
                                   sm.params.examples, sm.params.seed)
    figures.save(figures.filter_examples(picks, sm.params.examples, sm.params.resolution,
                                         f"{dataset}: kept and dropped synthetic images"), png, pdf)
log.info("kept %d of %d synthetic images", int(pairs["kept"].sum()), int(pairs["n"].sum()))
