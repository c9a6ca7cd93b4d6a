"""CPU time of one demo training job, the number the demo's training budget is sized from.

Builds DemoDigits in a scratch folder, assembles the erm manifest of one test domain and runs
``cdga.training.train`` as a fresh Python process per setting (so the start-up cost is included), with
the demo's training config and the same config at 32 px (the baseline it was chosen over).
Reports wall and CPU seconds per job, the import start-up alone, the test accuracy reached,
and the demo's projected training time on 2 cores. The load average is printed: on a shared
machine wall times are inflated, CPU seconds much less so.
Usage: python benchmarks/training_job.py [--threads 1] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

import pandas as pd
import yaml
from _env import emit, header, run_child

from cdga.data import datasets, demo_digits
from cdga.training import assembly

REPO = Path(__file__).resolve().parents[1]
JOB = """
import json, sys, torch
torch.set_num_threads({threads})
from cdga.training import train
records = train.train({manifest!r}, {out!r}, dataset="DemoDigits", method="erm",
                      test_env="photo", level=0, trial=0, cfg=json.loads({cfg!r}),
                      holdout_fraction={holdout!r})
print(json.dumps(records[-1]))
"""



def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    cfg = {k: v for k, v in config["training"].items()
           if k not in ("trials", "threads", "num_workers")}
    settings = {"demo (config.yaml)": cfg, "baseline: 32 px": cfg | {"resolution": 32}}
    lines = [header("one demo training job (erm, test domain photo)",
                    {"threads": args.threads, "load average": os.getloadavg()}), ""]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        dd = config["demo_digits"]
        ds = config["dataset_settings"]["DemoDigits"]
        demo_digits.build(tmp / "DemoDigits", tmp / "pretrain", ds["descriptions"],
                          ds["prompt_template"], dd["resolution"], dd["pretrain_fraction"],
                          dd["seed"])
        holdout = config["split"]["holdout_fraction"]
        split = datasets.index_dataset(tmp, "DemoDigits", None, holdout, config["split"]["seed"])
        manifest = tmp / "erm.csv"
        assembly.assemble(split, "photo").to_csv(manifest, index=False)
        wall, cpu, _ = run_child("import torch, torchvision, pandas, cdga.training.train")
        lines.append(f"python + torch start-up alone: wall {wall:.1f} s, cpu {cpu:.1f} s")
        rows = []
        for name, c in settings.items():
            code = JOB.format(threads=args.threads, manifest=str(manifest),
                              out=str(tmp / name.replace(" ", "_")), cfg=json.dumps(c),
                              holdout=holdout)
            wall, cpu, out = run_child(code)
            last = json.loads(out.strip().splitlines()[-1])
            rows.append({"setting": name, "px": c["resolution"], "steps": c["steps"],
                         "wall_s": round(wall, 1), "cpu_s": round(cpu, 1),
                         "test_acc_last": round(last["env_photo_in_acc"], 3)})
        lines += ["", pd.DataFrame(rows).to_string(index=False), ""]
        demo_cpu = rows[0]["cpu_s"]
        methods = len(config["methods"])
        extra = len(config["scaling"]["levels"]) * len(config["scaling"]["methods"])
        envs = len(ds["test_envs"])
        for trials in (2, 3):
            jobs = envs * (methods + extra) * trials
            lines.append(f"{trials} trials: {jobs} jobs x {demo_cpu:.1f} cpu-s / 2 cores = "
                         f"{jobs * demo_cpu / 2 / 60:.1f} min")
    emit(lines, args.out)


if __name__ == "__main__":
    main()
