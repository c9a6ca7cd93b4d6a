"""Model selection on hand-made results.jsonl records and DomainBed-style aggregation."""

import json
import math
from pathlib import Path

import pandas as pd
import pytest

from cdga.report import tables
from cdga.training import selection

DOMAINS = ["a", "b", "c"]


def record(step: int, val_a: float, val_b: float, test_out: float, test_in: float, **kw) -> dict:
    r = {"dataset": "Toy", "method": "erm", "test_env": "c", "level": 0, "trial": 0,
         "domains": DOMAINS, "step": step, "loss": 1.0}
    for d in DOMAINS:
        r[selection.acc_key(d, "in")] = 0.9
    r |= {"env_a_out_acc": val_a, "env_b_out_acc": val_b, "env_c_out_acc": test_out,
          "env_c_in_acc": test_in}
    return r | kw


RECORDS = [record(0, 0.5, 0.5, 0.2, 0.21), record(10, 0.9, 0.7, 0.4, 0.41),
           record(20, 0.7, 0.8, 0.9, 0.88), record(30, 0.8, 0.8, 0.3, 0.33)]


def test_training_domain_and_oracle_selection() -> None:
    chosen = selection.select(RECORDS, "training_domain")
    assert chosen["step"] == 10  # mean val 0.8, tied with step 30: the earliest wins
    assert selection.reported_accuracy(chosen) == 0.41
    # DomainBed's oracle: the last checkpoint (step 30), not the one with the best test-domain
    # validation accuracy (step 20, 0.9), in whatever order the records come
    for records in (RECORDS, RECORDS[::-1]):
        oracle = selection.select(records, "oracle")
        assert oracle["step"] == 30 and selection.reported_accuracy(oracle) == 0.33
    with pytest.raises(KeyError, match="unknown selection"):
        selection.select(RECORDS, "best_test")


def test_read_records_names_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "results.jsonl"
    path.write_text(json.dumps(RECORDS[0]) + "\n{oops\n")
    with pytest.raises(ValueError, match=r"results\.jsonl:2"):
        selection.read_records(path)


def test_mean_and_standard_error() -> None:
    mean, se = tables.mean_se([0.7, 0.8, 0.9])
    assert mean == pytest.approx(0.8)
    assert se == pytest.approx(0.1 / math.sqrt(3))  # sample std 0.1 over sqrt(3) trials
    assert math.isnan(tables.mean_se([0.5])[1])


def _runs(tmp_path: Path) -> list[Path]:
    """Two methods x three test envs x two trials; erm's test accuracy = 0.5 + 0.1 trial."""
    paths = []
    for method, base in (("erm", 0.5), ("mixup_within", 0.6)):
        for env in DOMAINS:
            for trial in (0, 1):
                acc = base + 0.1 * trial + (0.05 if env == "a" else 0.0)
                r = {"dataset": "Toy", "method": method, "test_env": env, "level": 0,
                     "trial": trial, "domains": DOMAINS, "step": 0, "loss": 1.0}
                for d in DOMAINS:
                    r[selection.acc_key(d, "in")] = acc if d == env else 0.9
                    r[selection.acc_key(d, "out")] = 0.8
                path = tmp_path / method / env / str(trial) / "results.jsonl"
                path.parent.mkdir(parents=True)
                path.write_text(json.dumps(r) + "\n")
                paths.append(path)
    return paths


def test_tables_aggregate_mean_and_se_over_trials(tmp_path: Path) -> None:
    acc = tables.collect(_runs(tmp_path))
    assert len(acc) == 2 * 3 * 2 * 2 and set(acc["selection"]) == {"training_domain", "oracle"}
    main = acc[acc["selection"] == "training_domain"]
    table = tables.summarize(main, DOMAINS, ["mixup_within", "erm"])
    assert list(table.index) == ["mixup_within", "erm"]
    mean, se, n = table.loc["erm", "b"]
    assert (mean, n) == (pytest.approx(55.0), 2)
    assert se == pytest.approx(100 * 0.05)  # values 0.5, 0.6: sample std 0.0707 / sqrt 2
    avg_mean, avg_se, _ = table.loc["erm", "Avg"]
    assert avg_mean == pytest.approx(100 * (0.55 + 0.05 / 3))
    assert avg_se == pytest.approx(5.0)
    md, tex = tables.accuracy_tables(acc, {"Toy": DOMAINS}, ["erm", "mixup_within"])
    assert "| erm | 60.0 ± 5.0 | 55.0 ± 5.0 | 55.0 ± 5.0 | 56.7 ± 5.0 |" in md
    assert "Toy, training-domain validation" in md and "Toy, oracle" in md
    # under every table with a standard error: the split is fixed, so it is not in the spread
    assert md.count(tables.SPREAD_NOTE) == tex.count(tables.SPREAD_NOTE) == 2
    assert "erm & 60.0 $\\pm$ 5.0 & 55.0 $\\pm$ 5.0" in tex
    assert "\\begin{tabular}{lcccc}" in tex


def test_incomplete_method_gets_no_average(tmp_path: Path) -> None:
    acc = tables.collect(_runs(tmp_path))
    acc = acc[~((acc["method"] == "mixup_within") & (acc["test_env"] == "c"))]
    table = tables.summarize(acc[acc["selection"] == "oracle"], DOMAINS, ["erm", "mixup_within"])
    assert isinstance(table.loc["erm", "Avg"], tuple)
    assert not isinstance(table.loc["mixup_within", "Avg"], tuple)
    assert "| mixup_within | 70.0 ± 5.0 | 65.0 ± 5.0 | – | – |" in tables.markdown(table, "t")


def test_overview_sets_each_measured_method_beside_its_own_reported_row(tmp_path: Path) -> None:
    acc = tables.collect(_runs(tmp_path))
    inter = acc[acc["method"] == "mixup_within"].assign(method="mixup_inter")
    acc = pd.concat([acc, inter.assign(acc=inter["acc"] + 0.1)], ignore_index=True)
    methods = ["mixup_within", "erm", "mixup_inter"]
    overview = tables.overview(acc, {"Toy": DOMAINS}, methods)
    assert [(s.split()[0], m) for s, m in zip(overview["source"], overview["method"],
                                              strict=True)] == [
        ("reported", "ERM"), ("measured", "erm"), ("reported", "CORAL"), ("reported", "Mixup"),
        ("measured", "mixup_inter"), ("measured", "mixup_within")]
    rows = overview.set_index("method")
    assert rows.loc["ERM", "PACS"] == "85.5" and rows.loc["ERM", "Toy"] == "–"
    assert rows.loc["erm", "Toy"] == "56.7 ± 5.0" and rows.loc["erm", "PACS"] == "–"
    assert rows.loc["mixup_inter", "Toy"] == "76.7 ± 5.0"
    md = tables.overview_markdown(overview)
    assert "reported (DomainBed, ResNet-50)" in md and "`mixup_inter` under Mixup" in md
    assert tables.SPREAD_NOTE in md and tables.SPREAD_NOTE in tables.overview_latex(overview)
    assert "\\pm" in tables.overview_latex(overview)
