"""DomainBed's hyperparameter registry and search (cdga.core.hparams): defaults, seeded draws,
what each job reads, the choice among draws in the tables, and the extra runs in the DAG."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from study import TEST_CONFIG, overlay, planned_jobs

from cdga.core import hparams, methods
from cdga.report import tables
from cdga.training import algorithms, selection

TRAINING = {"trials": 2, "hparam_draws": 0, "seed": 0, "backbone": "resnet50", "lr": 5e-5,
            "weight_decay": 0.0, "batch_size": 32, "synthetic_ratio": 0.5, "mixup_alpha": 0.2,
            "freeze_bn": True, "steps": 10, "eval_batch_size": 256, "cache_images": False,
            "num_workers": 0, "threads": 1}


def test_every_algorithm_and_method_has_its_hyperparameters() -> None:
    assert set(hparams.ALGORITHM_HPARAMS) == set(algorithms.ALGORITHMS)
    assert {m.algorithm for m in methods.METHODS.values()} <= set(hparams.ALGORITHM_HPARAMS)
    with pytest.raises(KeyError, match="unknown algorithm 'IRM'"):
        hparams.own("IRM")


def test_seed_zero_is_the_config_and_draws_are_seeded_in_domainbeds_ranges() -> None:
    assert hparams.draw("MixupInter", TRAINING, 0, 1) == {
        "lr": 5e-5, "weight_decay": 0.0, "batch_size": 32, "mixup_alpha": 0.2}
    first = hparams.draw("MixupInter", TRAINING, 1, 0)
    assert first == hparams.draw("MixupInter", TRAINING, 1, 0)
    assert first != hparams.draw("MixupInter", TRAINING, 2, 0)
    assert first != hparams.draw("MixupInter", TRAINING, 1, 1)  # per trial, as DomainBed
    for k in range(1, 30):
        large = hparams.draw("MixupWithin", TRAINING, k, 0)
        assert 1e-5 <= large["lr"] <= 10 ** -3.5 and 1e-6 <= large["weight_decay"] <= 1e-2
        assert 8 <= large["batch_size"] <= 45 and isinstance(large["batch_size"], int)
        assert 0.1 <= large["mixup_alpha"] <= 10
        small = hparams.draw("ERM", TRAINING | {"backbone": "small_cnn"}, k, 0)
        assert 10 ** -4.5 <= small["lr"] <= 10 ** -2.5 and small["weight_decay"] == 0.0
        assert 8 <= small["batch_size"] <= 512 and set(small) == {"lr", "weight_decay", "batch_size"}


def test_a_job_reads_its_algorithms_hyperparameters_and_no_execution_setting() -> None:
    erm = hparams.job_settings(TRAINING, "ERM", synthetic=False, hparams_seed=0, trial=0)
    assert not {"mixup_alpha", "synthetic_ratio", *hparams.EXECUTION_KEYS} & set(erm)
    assert {"seed", "backbone", "lr", "steps", "freeze_bn"} <= set(erm)
    cdga = hparams.job_settings(TRAINING, "ERM", synthetic=True, hparams_seed=0, trial=0)
    assert cdga == erm | {"synthetic_ratio": 0.5}
    mixup = hparams.job_settings(TRAINING, "MixupInter", synthetic=False, hparams_seed=3, trial=1)
    assert mixup == erm | hparams.draw("MixupInter", TRAINING, 3, 1)


def _record(seed: int, trial: int, step: int, val: float, test_out: float, test_in: float) -> dict:
    r = {"dataset": "Toy", "method": "erm", "test_env": "c", "level": 0, "trial": trial,
         "hparams_seed": seed, "domains": ["a", "b", "c"], "step": step}
    return r | {selection.acc_key(d, "out"): val for d in "ab"} | {
        selection.acc_key(d, "in"): 0.9 for d in "ab"} | {
        selection.acc_key("c", "out"): test_out, selection.acc_key("c", "in"): test_in}


def test_tables_choose_per_trial_the_draw_each_selection_rule_prefers(tmp_path: Path) -> None:
    # trial 0: draw 1 has the best training-domain validation (0.9 at step 0), draw 2 the best
    # test-domain validation at its last checkpoint (0.8); trial 1: the defaults win both.
    runs = {(0, 0): [_record(0, 0, 0, 0.5, 0.3, 0.31), _record(0, 0, 1, 0.6, 0.4, 0.41)],
            (1, 0): [_record(1, 0, 0, 0.9, 0.2, 0.21), _record(1, 0, 1, 0.7, 0.5, 0.51)],
            (2, 0): [_record(2, 0, 0, 0.4, 0.1, 0.11), _record(2, 0, 1, 0.5, 0.8, 0.81)],
            (0, 1): [_record(0, 1, 0, 0.8, 0.9, 0.91)],
            (1, 1): [_record(1, 1, 0, 0.8, 0.9, 0.5)]}  # a tie: the lower seed wins
    paths = []
    for (seed, trial), records in runs.items():
        path = tmp_path / f"trial{trial}_hparams{seed}" / "results.jsonl"
        path.parent.mkdir()
        path.write_text("".join(json.dumps(r) + "\n" for r in records))
        paths.append(path)
    acc = tables.collect(paths).set_index(["trial", "selection"])
    assert len(acc) == 4
    assert acc.loc[(0, "training_domain"), ["hparams_seed", "step", "acc"]].tolist() == [1, 0, 0.21]
    assert acc.loc[(0, "oracle"), ["hparams_seed", "step", "acc"]].tolist() == [2, 1, 0.81]
    assert acc.loc[(1, "training_domain"), "hparams_seed"] == 0
    assert acc.loc[(1, "oracle"), ["hparams_seed", "acc"]].tolist() == [0, 0.91]


def test_hparam_draws_add_runs_to_the_dag(tmp_path: Path) -> None:
    draws = overlay(tmp_path, "draws", {"training": {"hparam_draws": 2}})
    base = planned_jobs(tmp_path)
    more = planned_jobs(tmp_path, configs=(TEST_CONFIG, draws))
    assert more["train"] == 3 * base["train"]
    assert {k: v for k, v in more.items() if k != "train"} == {
        k: v for k, v in base.items() if k != "train"}
