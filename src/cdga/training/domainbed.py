"""DomainBed's view of this study's runs: the record fields its tools read, and a sweep export.

Every ``results.jsonl`` record (one checkpoint) carries, beside this study's own keys,
DomainBed's: ``args`` (``dataset``, ``algorithm`` = the method name, ``test_envs`` = [the test
domain's environment index], ``trial_seed`` = the trial, ``hparams_seed`` = the draw, 0 for the
config's hyperparameters, ``holdout_fraction``), ``hparams`` (the run's shared and algorithm
hyperparameters, ``synthetic_ratio`` for methods with synthetic images), ``step`` and
``env{i}_in_acc`` / ``env{i}_out_acc`` per environment index ``i``. Indices follow DomainBed's
environment order, the order of ``cdga.core.registry.DATASETS``' domains.

``python -m cdga.training.domainbed OUT_DIR`` exports a finished study's runs as a DomainBed sweep
folder, one sub-folder per run with its ``results.jsonl`` and a ``done`` file, which
``python -m domainbed.scripts.collect_results --input_dir OUT_DIR`` reads.
"""

from __future__ import annotations

import argparse
import re
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

from cdga.core import hparams, layout, methods
from cdga.core.registry import DATASETS, in_domainbed
from cdga.training import selection

ARGS = ("dataset", "algorithm", "test_envs", "trial_seed", "hparams_seed", "holdout_fraction")
# The recorded hparams: those of them a run has (cdga.core.hparams.job_settings).
HPARAMS = ("backbone", "freeze_bn", *hparams.SYNTHETIC_KEYS, *dict.fromkeys(
    h.key for specs in (hparams.SHARED, *hparams.ALGORITHM_HPARAMS.values()) for h in specs))
SPLITS = ("in", "out")


def environments(dataset: str, present: Sequence[str]) -> list[str]:
    """The domains ``present`` in a dataset's manifest, in DomainBed's environment order.

    A registered dataset must have exactly its registry domains; an unregistered one (the
    tests' toy datasets) keeps its domains in sorted order.
    """
    if dataset not in DATASETS:
        return sorted(present)
    envs = DATASETS[dataset].domains
    if set(present) != set(envs):
        raise ValueError(f"dataset {dataset!r} has domains {sorted(present)}; DomainBed's "
                         f"environments are {list(envs)}")
    return list(envs)


def run_fields(dataset: str, method: str, test_env: str, envs: Sequence[str], trial: int,
               hparams_seed: int, holdout_fraction: float, cfg: Mapping) -> dict:
    """DomainBed's ``args`` and ``hparams`` of one run (``envs`` in environment order)."""
    return {
        "args": {"dataset": dataset, "algorithm": method, "test_envs": [envs.index(test_env)],
                 "trial_seed": trial, "hparams_seed": hparams_seed,
                 "holdout_fraction": holdout_fraction},
        "hparams": {k: cfg[k] for k in HPARAMS if k in cfg},
    }


def env_accuracies(accuracies: Mapping[str, float], envs: Sequence[str]) -> dict[str, float]:
    """``env{i}_{in,out}_acc`` from this study's ``env_<domain>_{in,out}_acc`` keys."""
    return {f"env{i}_{split}_acc": accuracies[selection.acc_key(env, split)]
            for i, env in enumerate(envs) for split in SPLITS}


def record_problems(record: Mapping) -> list[str]:
    """What keeps DomainBed's collect_results from reading ``record``: missing or malformed
    fields, each named (empty when it reads)."""
    args = record.get("args")
    if not isinstance(args, Mapping):
        return ["no 'args' object"]
    problems = [f"'args' lacks {k!r}" for k in ARGS if k not in args]
    if not isinstance(record.get("hparams"), Mapping):
        problems.append("no 'hparams' object")
    if not isinstance(record.get("step"), int):
        problems.append(f"'step' is {record.get('step')!r}, not an integer")
    found = 0
    while f"env{found}_out_acc" in record:
        found += 1
    n = len(DATASETS[args["dataset"]].domains) if args.get("dataset") in DATASETS else found
    for key in (f"env{i}_{split}_acc" for i in range(n) for split in SPLITS):
        value = record.get(key)
        if not isinstance(value, float) or not 0 <= value <= 1:
            problems.append(f"{key!r} is {value!r}, not an accuracy in [0, 1]")
    test_envs = args.get("test_envs")
    if not isinstance(test_envs, list) or len(test_envs) != 1 or test_envs[0] not in range(n):
        problems.append(f"'args.test_envs' is {test_envs!r}, not [one of 0..{n - 1}]")
    return problems


def read_run(path: str | Path) -> list[dict]:
    """A run's results.jsonl, every record checked for DomainBed's fields; ValueError names
    the file, the line and the fields."""
    records = selection.read_records(path)
    if not records:
        raise ValueError(f"{path}: no checkpoint records")
    for n, record in enumerate(records, 1):
        problems = record_problems(record)
        if problems:
            raise ValueError(f"{path}:{n}: not a DomainBed record: {'; '.join(problems)}")
    return records


def _folder_name(record: Mapping) -> str:
    name = "_".join([record["dataset"], record["method"], record["test_env"],
                     f"scale{record['level']}", f"trial{record['trial']}"])
    seed = record["args"]["hparams_seed"]
    name += f"_hparams{seed}" if seed else ""  # a draw, as its run directory
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name)


def export(train_dir: str | Path, out_dir: str | Path, level: int) -> list[Path]:
    """Copy every run under ``train_dir`` (``cdga.core.layout.TRAIN``) into a new sweep folder
    ``out_dir``: real-only methods (level 0) and synthetic methods at scale ``level``.
    Returns the run folders written."""
    train_dir, out_dir = Path(train_dir), Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()):
        raise FileExistsError(f"export folder {str(out_dir)!r} is not empty; collect_results "
                              "would read whatever it holds, so choose a new one")
    paths = sorted(train_dir.glob(f"{layout.run_part('*', '*', '*', '*', '*')}/{layout.RUN_RECORDS}"))
    if not paths:
        raise FileNotFoundError(f"no <dataset>/<method>/<test_env>/scale<L>/trial<k>/"
                                f"results.jsonl under {str(train_dir)!r}")
    written = []
    for path in paths:
        records = read_run(path)
        first = records[0]
        wanted = 0 if methods.method(first["method"]).synthetic is None else level
        if first["level"] != wanted:
            continue
        run = out_dir / _folder_name(first)
        run.mkdir(parents=True)
        shutil.copyfile(path, run / layout.RUN_RECORDS)
        (run / "done").write_text("done")
        written.append(run)
    if not written:
        raise ValueError(f"no run under {str(train_dir)!r} is at scale level {level} "
                         "(or a real-only method)")
    return written


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m cdga.training.domainbed", description=(
        "Export a finished study's training runs as a DomainBed sweep folder for "
        "`python -m domainbed.scripts.collect_results --input_dir OUT_DIR`."))
    parser.add_argument("out_dir", type=Path, help="the sweep folder to create (new or empty)")
    parser.add_argument("--train-dir", type=Path, default=Path(layout.TRAIN),
                        help=f"the study's training runs (default: {layout.TRAIN})")
    parser.add_argument("--level", type=int, default=1, help=(
        "scale level of the synthetic methods to export, one per method so that DomainBed "
        "does not merge levels (default 1, the config's scaling.default_level default)"))
    args = parser.parse_args(argv)
    written = export(args.train_dir, args.out_dir, args.level)
    print(f"{len(written)} runs exported to {args.out_dir}")
    datasets = {selection.read_records(run / "results.jsonl")[0]["args"]["dataset"]
                for run in written}
    # collect_results prints tables only for the datasets it has (with nothing else it fails on
    # an empty averages table)
    unknown = sorted(datasets - set(in_domainbed()))
    if unknown:
        print(f"note: DomainBed does not know dataset(s) {unknown}; its collect_results prints "
              f"tables only for {in_domainbed()}")


if __name__ == "__main__":
    main()
