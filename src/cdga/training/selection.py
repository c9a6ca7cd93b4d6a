"""Model selection over a run's checkpoints, as in DomainBed's model_selection.py.

A record is one line of ``results.jsonl``; ``env_<domain>_<in|out>_acc`` are the accuracies on
a domain's training ('in') and validation ('out') split. The reported test accuracy is the
test domain's 'in' accuracy at the selected checkpoint (DomainBed's convention).

- ``training_domain``: the checkpoint with the best mean validation accuracy over the
  training domains (DomainBed's default, IIDAccuracySelectionMethod).
- ``oracle``: DomainBed's test-domain validation (OracleSelectionMethod): each run's last
  checkpoint, no early stopping. DomainBed uses the test domain's validation accuracy only to
  choose among hyperparameter settings (``validation_score``).

Ties go to the earliest checkpoint. Among a trial's hyperparameter draws
(``training.hparam_draws``) each rule keeps, as DomainBed's ``SelectionMethod.sweep_acc`` within
one trial seed, the draw whose selected checkpoint has the best ``validation_score``: the mean
training-domain validation accuracy, or for the oracle the test domain's validation accuracy.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence

Record = dict


def acc_key(domain: str, split: str) -> str:
    """The results.jsonl key of a domain's accuracy on split 'in' or 'out'."""
    return f"env_{domain}_{split}_acc"


def loss_key(domain: str, split: str) -> str:
    return f"env_{domain}_{split}_loss"


def training_domain_score(record: Record) -> float:
    envs = [d for d in record["domains"] if d != record["test_env"]]
    return sum(record[acc_key(d, "out")] for d in envs) / len(envs)


def oracle_score(record: Record) -> float:
    """The step: the last checkpoint scores highest."""
    return float(record["step"])


SELECTIONS: dict[str, Callable[[Record], float]] = {
    "training_domain": training_domain_score,
    "oracle": oracle_score,
}


# The score by which each rule ranks hyperparameter draws, on the checkpoint it selected.
VALIDATION: dict[str, Callable[[Record], float]] = {
    "training_domain": training_domain_score,
    "oracle": lambda record: record[acc_key(record["test_env"], "out")],
}


def validation_score(records: Sequence[Record], selection: str) -> float:
    """DomainBed's ``val_acc`` of one run under ``selection``, at its selected checkpoint."""
    return VALIDATION[selection](select(records, selection))


def select(records: Sequence[Record], selection: str) -> Record:
    """The record chosen by ``selection`` (a key of SELECTIONS)."""
    if selection not in SELECTIONS:
        raise KeyError(f"unknown selection {selection!r}; known: {sorted(SELECTIONS)}")
    if not records:
        raise ValueError("no checkpoint records to select from")
    score = SELECTIONS[selection]
    best = max(score(r) for r in records)
    return next(r for r in records if score(r) == best)


def reported_accuracy(record: Record) -> float:
    """The test domain's accuracy on its 'in' split, DomainBed's reported test accuracy."""
    return record[acc_key(record["test_env"], "in")]


def read_records(path: str | os.PathLike) -> list[Record]:
    """Parse a results.jsonl; ValueError names the file and line of a malformed record."""
    records = []
    with open(path) as fh:
        for n, line in enumerate(fh, 1):
            if line.strip():
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise ValueError(f"{path}:{n}: malformed results line: {exc}") from None
    return records
