"""Quality per UNet evaluation: PG and IG on the demo with each sampler at several step counts.

Every setting generates the same seeded sample of source images (``--per-pair`` per ordered
cross-domain pair of DemoDigits, the same sources, guides, weights and seeds for every setting)
through the production path (``cdga.generation.generate.generate_shard``, batches of
``generation.batch_size``), and ``cdga.generation.quality`` scores them with one pair of
classifiers trained on the real images: in the target domain, class kept, near-duplicates.
UNet evaluations are counted by a forward hook (rows through the UNet per image: two per
denoising step under classifier-free guidance). Differences to today's setting
(config/config.yaml) are paired over the same images, with their standard errors.

The ``*`` row is today's; ``<=`` marks, per variant, the fewest evaluations whose target-domain
and class-kept rates are both within one point of today's (or better). The config's
``generation.steps`` and ``scheduler`` are shared by PG and IG, so the closing line names the
cheapest setting that passes for both.

Needs a trained demo LDM and its data: ``--run-dir`` holds ``results/models/demo_ldm``,
``results/splits/DemoDigits.csv`` and the images it lists (paths relative to the run dir).
Usage: python generation_frontier.py --run-dir DIR [--per-pair N] [--out FILE]
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import yaml
from _env import emit, header

from cdga.generation import generate as generation
from cdga.generation import ldm
from cdga.generation import quality as gq

REPO = Path(__file__).resolve().parents[1]
DATASET = "DemoDigits"
KEYS = ["variant", "scheduler", "steps"]


def sample_plans(table: pd.DataFrame, settings: dict, params: generation.GenerationParams,
                 per_pair: int, seed: int) -> pd.DataFrame:
    """The plan rows of ``per_pair`` seeded sources for every ordered cross-domain pair, each
    member prefixed by its target domain (a source is sampled for every target)."""
    domains = sorted(table["domain"].unique())
    plans = []
    for src in domains:
        for tgt in domains:
            if src != tgt:
                rows = generation.plan_shard(table, DATASET, settings, params, src, tgt, 0, 0, 1)
                plans.append(rows.sample(n=min(per_pair, len(rows)), random_state=seed).sort_index())
    plan = pd.concat(plans, ignore_index=True)
    return plan.assign(member=plan["target_domain"] + "__" + plan["member"])


def generate(pipe, plan: pd.DataFrame, params: generation.GenerationParams, out: Path) -> tuple[float, float]:
    """Write the plan's shard and manifest; (UNet rows per image, wall seconds)."""
    rows = []
    hook = pipe.unet.register_forward_hook(lambda _m, args, _o: rows.append(len(args[0])))
    start = time.perf_counter()
    generation.generate_shard(pipe, plan, params, "demo_ldm", out.with_suffix(".tar"), out.with_suffix(".csv"),
                              progress=False)
    seconds = time.perf_counter() - start
    hook.remove()
    return sum(rows) / len(plan), seconds


def paired(scores: pd.DataFrame, base: pd.DataFrame, column: str) -> tuple[float, float]:
    """Mean difference (points) of a 0/1 column against today's images, and its standard error."""
    d = scores.set_index("member")[column].astype(float) - base.set_index("member")[column].astype(float)
    return 100 * d.mean(), 100 * d.std(ddof=1) / np.sqrt(len(d))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--run-dir", type=Path, required=True)
    parser.add_argument("--per-pair", type=int, default=8, help="source images per ordered pair")
    parser.add_argument("--schedulers", nargs="+", default=["ddim", "dpm", "unipc", "euler"])
    parser.add_argument("--steps", type=int, nargs="+", default=[4, 6, 10, 15])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(args.threads)
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    gen_cfg, opts = config["generation"], config["generation_quality"]
    today = (gen_cfg["scheduler"], gen_cfg["steps"])
    run_dir = args.run_dir.resolve()
    table = pd.read_csv(run_dir / "results" / "splits" / f"{DATASET}.csv")
    table["path"] = [str(run_dir / p) for p in table["path"]]
    settings = config["dataset_settings"][DATASET]
    pipe = ldm.load_pipeline(str(run_dir / "results" / "models" / "demo_ldm"), "cpu")
    saved = pipe.scheduler.config
    domains = sorted(table["domain"].unique())
    t0 = time.perf_counter()
    scorers = gq.train_scorers(table, domains, opts, opts["resolution"])
    scorer_s = time.perf_counter() - t0
    records, manifests = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for variant in ("pg", "ig"):
            base = generation.GenerationParams.from_config(gen_cfg, variant)
            plan = sample_plans(table, settings, base, args.per_pair, opts["seed"])
            for name in args.schedulers:
                pipe.scheduler = ldm.make_scheduler(name, saved)
                for steps in args.steps:
                    params = replace(base, scheduler=name, steps=steps)
                    rows = plan.assign(scheduler=name, steps=steps)
                    out = Path(tmp) / f"{variant}_{name}_{steps}"
                    evals, seconds = generate(pipe, rows, params, out)
                    manifests.append(pd.read_csv(out.with_suffix(".csv"), keep_default_na=False))
                    records.append({"variant": variant, "scheduler": name, "steps": steps,
                                    "denoising": int(steps * params.strength), "evals": evals,
                                    "seconds": seconds / len(rows)})
                    print(variant, name, steps, f"{evals:.0f} evals, {seconds:.1f} s", flush=True)
        summary, scores = gq.score(scorers, pd.concat(manifests, ignore_index=True), opts, KEYS)
    table_out = pd.DataFrame(records).merge(summary, on=KEYS)
    lines = [header("quality per UNet evaluation: schedulers x steps on the demo LDM",
                    {"pairs": 12, "images per pair": args.per_pair, "images per setting": len(plan),
                     "batch_size": gen_cfg["batch_size"], "threads": args.threads,
                     "today": f"{today[0]} {today[1]} steps"}),
             (f"scorers (trained once on the real images, {scorer_s:.0f} s): domain val acc "
             f"{scorers.accuracies['domain']:.3f}, class val acc {scorers.accuracies['class']:.3f}"),
             ("Timings (s/image relative to today's setting) are ratios within this one run; other jobs "
             "may have been running on the machine. Δ columns: points against today's setting over "
             "the same images, ± one paired standard error."), ""]
    passing = {}
    for variant in ("pg", "ig"):
        part = table_out[table_out["variant"] == variant].reset_index(drop=True)
        ref = part[(part["scheduler"] == today[0]) & (part["steps"] == today[1])].iloc[0]
        ref_scores = scores[(scores["variant"] == variant) & (scores["scheduler"] == today[0])
                            & (scores["steps"] == today[1])]
        rows = []
        for r in part.itertuples():
            own = scores[(scores["variant"] == variant) & (scores["scheduler"] == r.scheduler)
                         & (scores["steps"] == r.steps)]
            dt, st = paired(own, ref_scores, "in_target")
            dc, sc = paired(own, ref_scores, "class_kept")
            ok = (r.target_domain_rate >= ref.target_domain_rate - 0.01
                  and r.class_kept_rate >= ref.class_kept_rate - 0.01)
            rows.append({"scheduler": r.scheduler, "steps": r.steps, "denoising steps": r.denoising,
                         "UNet evals/image": f"{r.evals:.0f}", "time vs today": f"{r.seconds / ref.seconds:.2f}",
                         "in target": f"{r.target_domain_rate:.3f}", "Δ target": f"{dt:+.1f} ±{st:.1f}",
                         "class kept": f"{r.class_kept_rate:.3f}", "Δ class": f"{dc:+.1f} ±{sc:.1f}",
                         "near-dup": f"{r.near_duplicate_rate:.3f}", "mean SSIM": f"{r.mean_ssim:.3f}",
                         "ok": ok, "evals": r.evals})
            if ok:
                passing.setdefault((r.scheduler, r.steps), {})[variant] = r.evals
        frame = pd.DataFrame(rows)
        best = frame[frame["ok"]].sort_values(["evals", "steps"]).index[0]
        frame["mark"] = ""
        frame.loc[best, "mark"] = "<="
        today_row = frame[(frame["scheduler"] == today[0]) & (frame["steps"] == today[1])].index[0]
        frame.loc[today_row, "mark"] = (frame.loc[today_row, "mark"] + " *").strip()
        lines += [f"## {variant.upper()} ({len(ref_scores)} images per setting)", "",
                  frame.drop(columns=["ok", "evals"]).to_markdown(index=False), ""]
    both = {k: v["pg"] + v["ig"] for k, v in passing.items() if len(v) == 2}
    choice = min(both, key=lambda k: (both[k], k[1]))
    lines.append(f"Cheapest setting within one point of today's on both rates for PG and IG: "
                 f"{choice[0]} {choice[1]} steps ({both[choice]:.0f} UNet evaluations per PG + IG image "
                 f"pair, today {both[today]:.0f}).")
    emit(lines, args.out)


if __name__ == "__main__":
    main()
