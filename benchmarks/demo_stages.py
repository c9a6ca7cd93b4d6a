"""Wall and CPU time per stage of a finished study, from Snakemake's benchmark files.

Every rule writes ``results/benchmarks/<rule>/<wildcards>.tsv`` (``benchmark:``, cdga.core.layout).
A file's modification time is its job's end, minus its ``s`` column its start; so the table
gives, per rule and for the whole run, the jobs, their summed wall and CPU seconds and the
wall-clock span from the first start to the last end. Jobs of one stage overlap with each other
(and with other stages) on a machine with several cores, so spans do not add up to the total.
Usage: python demo_stages.py [--results ../results] [--out FILE]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd
from _env import emit, header

REPO = Path(__file__).resolve().parents[1]


def stage_of(path: Path, root: Path) -> str:
    """The rule of a benchmark file (cdga.core.layout: ``<rule>.tsv`` or ``<rule>/<wildcards>.tsv``)."""
    return path.relative_to(root).parts[0].removesuffix(".tsv")


def job_times(root: Path) -> pd.DataFrame:
    """One row per benchmark file: stage, wall s, CPU s, start and end (epoch seconds)."""
    rows = []
    for path in sorted(root.rglob("*.tsv")):
        last = pd.read_csv(path, sep="\t").iloc[-1]
        end = path.stat().st_mtime
        rows.append({"stage": stage_of(path, root), "wall_s": float(last["s"]),
                     "cpu_s": float(last["cpu_time"]), "start": end - float(last["s"]), "end": end})
    if not rows:
        raise FileNotFoundError(f"no benchmark files under {root}")
    return pd.DataFrame(rows)


def summary(jobs: pd.DataFrame) -> pd.DataFrame:
    """Per stage (in order of first start) and in total: jobs, summed wall/CPU, span."""
    def block(frame: pd.DataFrame) -> dict:
        return {"jobs": len(frame), "wall_s_sum": round(frame["wall_s"].sum()),
                "cpu_s_sum": round(frame["cpu_s"].sum()),
                "span_min": round((frame["end"].max() - frame["start"].min()) / 60, 1)}

    order = jobs.groupby("stage")["start"].min().sort_values().index
    table = pd.DataFrame([{"stage": s, **block(jobs[jobs["stage"] == s])} for s in order])
    return pd.concat([table, pd.DataFrame([{"stage": "whole run", **block(jobs)}])], ignore_index=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--results", type=Path, default=REPO / "results")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    table = summary(job_times(args.results / "benchmarks"))
    lines = [header("wall and CPU time per stage (Snakemake benchmark files)",
                    {"results": args.results}), "", table.to_string(index=False)]
    emit(lines, args.out)


if __name__ == "__main__":
    main()
