"""Wall and CPU time of the demo's filter jobs (rules filter_scorer and filter_synthetic), the
numbers the demo's time budget for the filtered methods is judged by.

Builds DemoDigits in a scratch folder with the demo's config, and for test domain photo one
shard per cross-domain pair of the other domains (6 pairs, one rep, the demo's level): each
image is its source's colour negative at the generated size, so decoding and scoring cost what
real synthetic images cost. Then runs the two jobs' library calls as fresh Python processes
(start-up included) with the demo's ``filtering`` block and threads.
The shards' kept share means nothing (negatives are not generated images); the times do. On a
loaded machine CPU seconds inflate too (threads spin while they wait), less so with --threads 1.
Usage: python benchmarks/filter_job.py [--threads N] [--out FILE]
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
from PIL import Image, ImageOps

from cdga.core import methods
from cdga.core.io import write_csv
from cdga.data import datasets, demo_digits
from cdga.data.shards import png_bytes, write_tar

REPO = Path(__file__).resolve().parents[1]
SCORER = """
import json, torch
torch.set_num_threads({threads})
import pandas as pd
from cdga.filtering import keep as filtering
from cdga.filtering import scorer as filter_scorer
from cdga.training.networks import save_model
opts = json.loads({opts!r})
split = pd.read_csv({split!r})
rows = filtering.scorer_rows(split, "photo", opts["max_real_per_domain"], opts["seed"])
filtering.check_scorer_rows(rows, split, "photo")
model = filter_scorer.train(rows, int(split["class_index"].max()) + 1, opts)
save_model({model!r}, model, resolution=opts["resolution"])
print(json.dumps({{"images": len(rows)}}))
"""
FILTER = """
import json, torch
torch.set_num_threads({threads})
import pandas as pd
from cdga.filtering import keep as filtering
from cdga.filtering import scorer as filter_scorer
from cdga.training.assembly import read_synthetic
split = pd.read_csv({split!r})
synthetic = read_synthetic(json.loads({manifests!r}))
model, resolution = filter_scorer.load({model!r})
scores = filter_scorer.score(model, synthetic, resolution, {batch})
keep = filtering.decide(scores, json.loads({rule!r}))
print(json.dumps({{"images": len(scores), "kept": int(keep.sum())}}))
"""



def fake_shards(root: Path, split: pd.DataFrame, domains: list[str], size: int) -> list[str]:
    """One shard per cross pair avoiding photo: the sources' colour negatives at ``size`` px."""
    manifests = []
    for src, tgt in methods.synthetic_pairs("cdga_pg", domains, "photo"):
        tar = root / f"{src}--{tgt}.tar"
        sources = split[(split["domain"] == src) & (split["split"] == "train")]
        members, rows = [], []
        for k, row in enumerate(sources.itertuples()):
            with Image.open(row.path) as im:
                image = ImageOps.invert(im.convert("RGB")).resize((size, size))
            members.append((f"{k:05d}.png", png_bytes(image)))
            rows.append({"member": f"{k:05d}.png", "shard": str(tar), "source_path": row.path,
                         "source_domain": src, "target_domain": tgt,
                         "class_index": row.class_index, "class_name": row.class_name,
                         "guide_path": "", "variant": "pg", "rep": 0})
        write_tar(tar, members)
        write_csv(tar.with_suffix(".csv"), pd.DataFrame(rows))
        manifests.append(str(tar.with_suffix(".csv")))
    return manifests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, help="default: the config's filtering.threads")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    cfg = config["filtering"] | ({"threads": args.threads} if args.threads else {})
    rule = {k: cfg[k] for k in ("rule", cfg["rule"])}
    lines = [header("the demo's filter jobs (test domain photo, variant pg)",
                    {"threads": cfg["threads"], "scorer": cfg["scorer"], "rule": rule,
                     "load average": os.getloadavg()}), ""]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        dd, ds = config["demo_digits"], config["dataset_settings"]["DemoDigits"]
        demo_digits.build(tmp / "DemoDigits", tmp / "pretrain", ds["descriptions"],
                          ds["prompt_template"], dd["resolution"], dd["pretrain_fraction"],
                          dd["seed"])
        split = datasets.index_dataset(tmp, "DemoDigits", None, config["split"]["holdout_fraction"],
                                       config["split"]["seed"])
        write_csv(tmp / "split.csv", split)
        manifests = fake_shards(tmp, split, list(ds["descriptions"]),
                                config["generation"]["resolution"])
        model = str(tmp / "scorer.pt")
        jobs = {
            "filter_scorer": SCORER.format(threads=cfg["threads"], opts=json.dumps(cfg["scorer"]),
                                           split=str(tmp / "split.csv"), model=model),
            "filter_synthetic": FILTER.format(threads=cfg["threads"], split=str(tmp / "split.csv"),
                                              manifests=json.dumps(manifests), model=model,
                                              batch=cfg["eval_batch_size"], rule=json.dumps(rule)),
        }
        rows = []
        for name, code in jobs.items():
            wall, cpu, stdout = run_child(code)
            out = json.loads(stdout.strip().splitlines()[-1])
            rows.append({"job": name, "wall_s": round(wall, 1), "cpu_s": round(cpu, 1), **out})
    table = pd.DataFrame(rows)
    lines += [table.to_string(index=False), "",
              ("The demo has 4 filter_scorer jobs (one per test domain) and 8 filter_synthetic "
               "jobs (pg and ig per test domain) of these sizes.")]
    emit(lines, args.out)


if __name__ == "__main__":
    main()
