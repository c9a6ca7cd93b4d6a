"""Wall time and peak memory of every CPU stage at DomainNet's size, measured at fractions of it.

The paper study's DomainNet: 586,575 real images (DomainBed's count; 345 classes, 6 domains, 20 %
held out), 2 variants x (5 targets) + 1 within-domain pair per source, 4 reps (scale levels up
to 4) and 16 shards per (variant, pair, rep): 4,224 generation manifests and 20.65 M synthetic
rows. At ``fraction`` f every count of images is scaled by f; the number of manifests is not.
Shards hold 1-byte members (no image is decoded: these are the stages' table and index costs).

Each stage runs the library calls of its rule script in a fresh subprocess, which reports its
wall time and peak RSS (VmHWM, imports included):

- ``split``: ``datasets.split_by_domain`` of the image listing (listing and image verification,
  file-system bound, are not included);
- ``assemble``: ``assembly.read_synthetic`` + ``assembly.assemble`` + the CSV write of the
  largest training job (``cdga_pg``, test domain clipart, scale level 4; the other test
  domains' jobs are smaller);
- ``filter_summary``: the rule's per-file ``kept_shares`` and ``sample_examples`` over the
  12 keep lists (2 variants x 6 test domains, rep 0; the figure, which decodes a few images,
  is left out);
- ``gq_sample``: ``generation_quality.read_sample`` of all 4,224 manifests (500 per pair);
  ``gq_read_all`` is the former way, every manifest row in one frame, then ``capped``;
- ``loader``: the assembled job's manifest read as a training run reads it
  (``train.read_manifest``), ``data.ImageRows`` of its training rows built in the main process
  (every shard's member index included), the frame dropped, then ``workers`` forked DataLoader
  workers each look up every row (path, shard, member offset, label); reported: the main
  process's peak RSS while building, its RSS once the frame is gone (``rss_kept_mb``: glibc
  may keep freed pages) and the largest private-memory growth of a worker (copied pages);
- ``scorer_rows``: ``scorer.shard_images`` (the filter scorer's dataset: the loader's
  ``ImageRows``) over the synthetic rows one ``filter_synthetic`` job scores (the job's variant
  and test domain, rep 0), touched by ``workers`` forked workers as ``loader``'s;
- ``tables`` and ``export``: ``tables.collect`` + ``accuracy_tables`` and ``domainbed.export``
  over ``--runs`` fake runs (default: the train jobs of paper.yaml with ``hparam_draws: 20``)
  of 18 records each; measured once, at that size.

Usage (the committed result; writes the file given to --out):
  PYTHONPATH=src python benchmarks/scale.py --fractions 0.001 0.01 0.05 --out benchmarks/results/scale.md
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
DATASET = "DomainNet"
DOMAIN_IMAGES = {"clipart": 48_129, "infograph": 51_605, "painting": 72_266, "quickdraw": 172_500,
                 "real": 172_947, "sketch": 69_128}  # DomainBed layout, as benchmarks/dag_build.py
CLASSES = 345
HOLDOUT = 0.2
VARIANTS = ("pg", "ig")
REPS = 4
SHARDS = 16
LEVEL = 4
FILTER_LEVEL = 1  # scaling.default_level: the filtered methods' only level
JOB_METHOD, JOB_TEST_ENV = "cdga_pg", "clipart"
MAX_PER_PAIR = 500
SWEEP_RUNS = 14_616  # train jobs of paper.yaml at hparam_draws 20 (benchmarks/results/dag_build.txt)
RECORDS_PER_RUN = 18
GOAL_RSS_GB, GOAL_MINUTES, GOAL_WORKER_GB = 8.0, 10.0, 1.0


def status_mb(field: str) -> float:
    """A memory field of this process's /proc/self/status, in MB."""
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field + ":")) / 1024


def peak_rss_mb() -> float:
    """This process's peak RSS since it started its program (VmHWM; ``ru_maxrss`` would
    include the parent's RSS at fork)."""
    return status_mb("VmHWM")


def private_kib() -> int:
    """This process's private memory in kB (pages it owns alone: copies of its parent's)."""
    with open("/proc/self/smaps_rollup") as f:
        return sum(int(line.split()[1]) for line in f if line.startswith("Private_"))


# ---------------------------------------------------------------- synthesis (parent process)

def listing(fraction: float) -> pd.DataFrame:
    """The image listing of DomainNet at ``fraction`` of its size, classes round-robin."""
    frames = []
    for domain, n in DOMAIN_IMAGES.items():
        k = np.arange(max(round(n * fraction), 10))
        cls = k % CLASSES
        names = pd.Series([f"class_{c:03d}_name" for c in range(CLASSES)])[cls].to_numpy()
        frames.append(pd.DataFrame({
            "path": [f"data/{DATASET}/{domain}/{c}/{domain}_{i:03d}_{j:06d}.jpg"
                     for c, i, j in zip(names, cls, k, strict=True)],
            "domain": domain, "class_index": cls, "class_name": names}))
    return pd.concat(frames, ignore_index=True)


def job_families() -> list[tuple[str, str, str]]:
    """(variant, source, target): every variant's cross pairs, the first variant's within pairs."""
    domains = list(DOMAIN_IMAGES)
    cross = [(v, s, t) for v in VARIANTS for s in domains for t in domains if s != t]
    return cross + [(VARIANTS[0], d, d) for d in domains]


def write_manifests(root: Path, split: pd.DataFrame) -> dict[Path, pd.DataFrame]:
    """One generation manifest per (variant, pair, rep, shard), the generate rule's columns;
    returns each path's rows."""
    from cdga.core.io import write_csv
    from cdga.generation.generate import MANIFEST_COLUMNS
    from cdga.training.assembly import synthetic_manifest_path

    train = split[split["split"] == "train"]
    written = {}
    for variant, src, tgt in job_families():
        own = train[train["domain"] == src]
        for rep in range(REPS):
            for shard in range(SHARDS):
                rows = own.iloc[shard::SHARDS]
                path = synthetic_manifest_path(root / "results", DATASET, variant, src, tgt, rep, shard)
                frame = pd.DataFrame({
                    "member": rows["path"].str.replace("/", "__", regex=False).to_numpy(),
                    "shard": str(path.with_suffix(".tar")), "dataset": DATASET,
                    "source_path": rows["path"].to_numpy(), "source_domain": src,
                    "target_domain": tgt, "class_index": rows["class_index"].to_numpy(),
                    "class_name": rows["class_name"].to_numpy(),
                    "guide_path": rows["path"].to_numpy() if variant == "ig" else "",
                    "lam": 0.5 if variant == "ig" else "",
                    "prompt": [f"a painting of a {c}" for c in rows["class_name"]],
                    "seed": np.arange(len(rows)) + 1000 * shard, "model": "runwayml/stable-diffusion-v1-5",
                    "variant": variant, "rep": rep, "strength": 0.6, "guidance_scale": 5.0, "steps": 50,
                    "scheduler": "ddim", "resolution": 512, "mix_space": "latent" if variant == "ig" else "",
                })
                write_csv(path, frame[MANIFEST_COLUMNS])
                written[path] = frame[MANIFEST_COLUMNS]
    return written


def job_manifests(paths: list[Path]) -> list[Path]:
    """The manifests the measured training job reads (its method's pairs, reps < LEVEL)."""
    from cdga.core import methods

    pairs = {f"{s}--{t}" for s, t in methods.synthetic_pairs(JOB_METHOD, list(DOMAIN_IMAGES), JOB_TEST_ENV)}
    variant = methods.method(JOB_METHOD).variant
    return [p for p in paths if p.parts[-4] == variant and p.parts[-3] in pairs
            and int(p.parts[-2].removeprefix("rep")) < LEVEL]


def write_shards(manifests: list[Path]) -> None:
    """The job's tar shards, one 1-byte member per manifest row."""
    from cdga.data.shards import write_tar

    for path in manifests:
        members = pd.read_csv(path, usecols=["member"])["member"]
        write_tar(path.with_suffix(".tar"), ((m, b"x") for m in members))


def write_decisions(root: Path, manifests: dict[Path, pd.DataFrame]) -> list[Path]:
    """A keep list per (variant, test domain): every image of the pairs its filtered method
    trains on, reps below its highest scale level (paper.yaml: 1; filtered methods are not in
    scaling.methods), with a seeded source-class probability and keep flag."""
    from cdga.core import methods
    from cdga.core.io import write_csv
    from cdga.filtering import keep as filtering

    out = []
    rng = np.random.default_rng(0)
    for variant in VARIANTS:
        for env in DOMAIN_IMAGES:
            pairs = {f"{s}--{t}" for s, t in methods.synthetic_pairs(f"cdga_{variant}_filtered",
                                                                     list(DOMAIN_IMAGES), env)}
            frames = [f for p, f in manifests.items() if p.parts[-4] == variant and p.parts[-3] in pairs
                      and int(p.parts[-2].removeprefix("rep")) < FILTER_LEVEL]
            frame = pd.concat(frames, ignore_index=True)
            prob = rng.random(len(frame))
            frame = frame.assign(test_env=env, source_prob=prob, class_pred=frame["class_index"],
                                 class_prob=prob, keep=prob > 0.3)
            out.append(root / "results" / "filter" / DATASET / variant / f"{env}.csv")
            write_csv(out[-1], frame[filtering.DECISION_COLUMNS])
    return out


def write_runs(root: Path, runs: int) -> Path:
    """``runs`` results.jsonl files of DomainNet-shaped records under root/train."""
    from cdga.core import registry
    from cdga.training import domainbed, selection

    domains = registry.domains(DATASET)
    envs = domainbed.environments(DATASET, domains)
    rng = np.random.default_rng(0)
    method_names = ("erm", "cdga_pg", "cdga_ig", "cdga_pg_filtered", "cdga_ig_filtered", "mixup_inter")
    train_dir = root / "train"
    for r in range(runs):
        method = method_names[r % len(method_names)]
        env = domains[(r // len(method_names)) % len(domains)]
        trial, draw = (r // 36) % 3, r // 108
        level = 0 if method in ("erm", "mixup_inter") else 1
        fields = domainbed.run_fields(DATASET, method, env, envs, trial, draw, HOLDOUT,
                                      {"backbone": "resnet50", "lr": 5e-5, "batch_size": 32})
        lines = []
        for step in range(RECORDS_PER_RUN):
            acc = {selection.acc_key(d, s): float(rng.random()) for d in domains for s in ("in", "out")}
            record = {"dataset": DATASET, "method": method, "test_env": env, "level": level,
                      "trial": trial, "hparams_seed": draw, "domains": domains,
                      "step": step * 1000, "loss": 1.0, **acc, **fields,
                      **domainbed.env_accuracies(acc, envs)}
            lines.append(json.dumps(record))
        run = train_dir / DATASET / method / env / f"scale{level}" / f"trial{trial}_hparams{draw}"
        # the study's layout has trial<k>; a draw's suffix keeps every run's folder distinct
        run = run.parent / f"trial{trial}" if draw == 0 else run
        run.mkdir(parents=True, exist_ok=True)
        (run / "results.jsonl").write_text("\n".join(lines) + "\n")
    return train_dir


# ---------------------------------------------------------------- stages (child processes)

def stage_split(root: Path, _: argparse.Namespace) -> dict:
    from cdga.core.io import write_csv
    from cdga.data import datasets

    table = datasets.split_by_domain(pd.read_csv(root / "listing.csv"), HOLDOUT, 0)
    write_csv(root / "split_out.csv", table)
    return {"rows": len(table)}


def stage_assemble(root: Path, _: argparse.Namespace) -> dict:
    from cdga.core import methods
    from cdga.core.io import write_csv
    from cdga.training import assembly

    split = pd.read_csv(root / "split.csv")
    paths = [Path(p) for p in (root / "job_manifests.txt").read_text().split()]
    synthetic = assembly.read_synthetic(paths)
    pairs = methods.synthetic_pairs(JOB_METHOD, list(DOMAIN_IMAGES), JOB_TEST_ENV)
    manifest = assembly.assemble(split, JOB_TEST_ENV, synthetic, pairs,
                                 methods.method(JOB_METHOD).variant, LEVEL)
    write_csv(root / "job.csv", manifest)
    return {"rows": len(manifest)}


def stage_filter_summary(root: Path, _: argparse.Namespace) -> dict:
    from cdga.filtering import keep as filtering

    pairs, classes, candidates, n = [], [], [], 0
    for path in sorted((root / "results" / "filter").rglob("*.csv")):
        decisions = pd.read_csv(path, keep_default_na=False)
        n += len(decisions)
        pairs.append(filtering.kept_shares(decisions, filtering.PAIR))
        classes.append(filtering.kept_shares(decisions, ["class_index", "class_name"]))
        candidates.append(filtering.sample_examples(decisions, 4, 0))
    picks = filtering.example_rows(pd.concat(candidates, ignore_index=True), 4, 0)
    return {"rows": n, "pairs": len(pd.concat(pairs)), "picked": len(picks)}


def _all_manifests(root: Path) -> list[Path]:
    return sorted((root / "results" / "synthetic").rglob("*.csv"))


def stage_gq_sample(root: Path, _: argparse.Namespace) -> dict:
    from cdga.generation import quality as gq

    paths = _all_manifests(root)
    sample, grid = gq.read_sample(paths, MAX_PER_PAIR, 0)
    return {"rows": int((root / "synthetic_rows.txt").read_text()), "manifests": len(paths),
            "sampled": len(sample), "grid_rows": len(grid)}


def stage_gq_read_all(root: Path, _: argparse.Namespace) -> dict:
    from cdga.generation import quality as gq

    manifest = gq.read_manifests(_all_manifests(root))
    sample = gq.capped(manifest, gq.PAIR_KEYS, MAX_PER_PAIR, 0)
    return {"rows": len(manifest), "sampled": len(sample)}


class _TouchEveryRow:
    """A DataLoader dataset of ``workers`` items: each looks up every row of ``rows`` and
    returns its worker's private-memory growth in kB."""

    def __init__(self, rows: object, workers: int) -> None:
        self.rows, self.workers = rows, workers

    def __len__(self) -> int:
        return self.workers

    def __getitem__(self, item: int) -> int:
        before = private_kib()
        total = 0
        for i in range(len(self.rows)):
            path, tar = self.rows.source(i)
            total += tar.index[path][1] if tar is not None else len(path)
            total += int(self.rows.labels[i])
        return private_kib() - before if total else -1


def rss_mb() -> float:
    """This process's resident memory now (VmRSS)."""
    return status_mb("VmRSS")


def _touched(images: object, workers: int) -> float:
    """The largest private-memory growth (MB) of ``workers`` forked workers reading every row."""
    import torch

    loader = torch.utils.data.DataLoader(_TouchEveryRow(images, workers), batch_size=None,
                                         num_workers=workers, multiprocessing_context="fork")
    return round(max(int(g) for g in loader) / 1024, 1)


def stage_loader(root: Path, args: argparse.Namespace) -> dict:
    import gc

    from cdga.training import loader as data
    from cdga.training import train

    start = time.perf_counter()
    manifest = train.read_manifest(root / "job.csv")  # as a training run reads it, then drops it
    images = data.ImageRows(manifest[manifest["role"] == "train"].reset_index(drop=True),
                            data.eval_transform(8))
    built = time.perf_counter() - start
    del manifest
    gc.collect()
    return {"rows": len(images), "build_s": round(built, 2), "peak_build_mb": round(peak_rss_mb()),
            "rss_kept_mb": round(rss_mb()), "worker_growth_mb": _touched(images, args.workers),
            "workers": args.workers}


def stage_scorer_rows(root: Path, args: argparse.Namespace) -> dict:
    """The filter scorer's dataset (``scorer.shard_images``) over one filter job's synthetic
    rows: the job's variant and test domain at rep 0 (``FILTER_LEVEL``)."""
    import gc

    from cdga.filtering import scorer
    from cdga.training import assembly

    paths = [Path(p) for p in (root / "job_manifests.txt").read_text().split()
             if Path(p).parent.name == "rep0"]
    start = time.perf_counter()
    synthetic = assembly.read_synthetic(paths)  # the rule script keeps this frame while scoring
    frame_mb = rss_mb()
    images = scorer.shard_images(synthetic, 8)
    built = time.perf_counter() - start
    gc.collect()
    return {"rows": len(images), "build_s": round(built, 2), "rss_with_frame_mb": round(frame_mb),
            "rss_built_mb": round(rss_mb()), "worker_growth_mb": _touched(images, args.workers),
            "workers": args.workers}


def stage_tables(root: Path, _: argparse.Namespace) -> dict:
    from cdga.report import tables

    acc = tables.collect(sorted((root / "train").glob("*/*/*/scale*/trial*/results.jsonl")))
    md, _ = tables.accuracy_tables(acc, {DATASET: list(DOMAIN_IMAGES)}, sorted(set(acc["method"])))
    return {"rows": len(acc), "markdown_chars": len(md)}


def stage_export(root: Path, _: argparse.Namespace) -> dict:
    from cdga.training import domainbed

    out = root / "sweep"
    shutil.rmtree(out, ignore_errors=True)
    return {"runs": len(domainbed.export(root / "train", out, 1))}


STAGES = {"split": stage_split, "assemble": stage_assemble, "filter_summary": stage_filter_summary,
          "gq_sample": stage_gq_sample, "gq_read_all": stage_gq_read_all, "loader": stage_loader,
          "scorer_rows": stage_scorer_rows, "tables": stage_tables, "export": stage_export}
PER_FRACTION = ("split", "assemble", "filter_summary", "gq_sample", "gq_read_all", "loader",
                "scorer_rows")


def run_stage(name: str, root: Path, workers: int) -> dict:
    cmd = [sys.executable, __file__, "--stage", name, "--root", str(root), "--workers", str(workers)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"stage {name} failed:\n{proc.stderr[-3000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    print(f"  {name}: {result}", file=sys.stderr, flush=True)
    return result


def child(args: argparse.Namespace) -> None:
    start = time.perf_counter()
    extra = STAGES[args.stage](args.root, args)
    print(json.dumps({"seconds": round(time.perf_counter() - start, 2),
                      "peak_rss_mb": round(peak_rss_mb()), **extra}))


# ---------------------------------------------------------------- report

def fit(xs: list[float], ys: list[float], at: float) -> float:
    """The line through the two largest points of (xs, ys), at ``at``: the growth where the
    fixed costs (imports, the 4,224 manifest files) weigh least, and flat for a bounded stage."""
    (x0, x1), (y0, y1) = xs[-2:], ys[-2:]
    return float(y1 + (y1 - y0) / (x1 - x0) * (at - x1))


def report(results: dict[float, dict[str, dict]], fixed: dict[str, dict], args: argparse.Namespace,
           loads: list[float], setup_s: dict[float, float]) -> list[str]:
    sys.path.insert(0, str(REPO / "benchmarks"))
    from _env import header

    fractions = sorted(results)
    settings = {"fractions": " ".join(f"{f:g}" for f in fractions), "workers": args.workers,
                "runs": args.runs}
    command = (f"PYTHONPATH=src python benchmarks/scale.py --fractions "
               f"{' '.join(f'{f:g}' for f in fractions)} --workers {args.workers} --runs {args.runs} "
               f"--out {args.out.relative_to(REPO) if args.out else '-'}")
    lines = [header("CPU stages at DomainNet's size (benchmarks/scale.py)", settings), "",
             f"Command: `{command}`", "",
             (f"1-min load average: {min(loads):.1f} to {max(loads):.1f} during the run "
              f"(2 cores). {args.note}"), "",
             ("Peak RSS (VmHWM of the stage's own process, Python and its imports included) does "
              "not depend on load; wall times do, so on a loaded machine they are upper bounds."), ""]
    lines += ["| stage | fraction | rows | wall s | peak RSS MB | notes |", "| --- | ---: | ---: | ---: | ---: | --- |"]
    for f in fractions:
        for name, r in results[f].items():
            notes = ", ".join(f"{k} {v}" for k, v in r.items() if k not in ("seconds", "peak_rss_mb", "rows"))
            lines.append(f"| {name} | {f:g} | {r['rows']:,} | {r['seconds']:.1f} | {r['peak_rss_mb']:,} | {notes} |")
    for name, r in fixed.items():
        notes = ", ".join(f"{k} {v}" for k, v in r.items() if k not in ("seconds", "peak_rss_mb"))
        lines.append(f"| {name} | sweep size | {args.runs:,} runs | {r['seconds']:.1f} | {r['peak_rss_mb']:,} | {notes} |")
    lines += ["", "Synthesis (not a stage) took " + ", ".join(f"{setup_s[f]:.0f} s at {f:g}" for f in fractions) + ".", ""]
    lines += [("Extrapolated to DomainNet (fraction 1) along the line through the two largest "
               "fractions' points, in rows processed:"), "",
              "| stage | rows at size | wall min | peak RSS GB | goal | verdict |", "| --- | ---: | ---: | ---: | --- | --- |"]
    for name in results[fractions[0]]:
        xs = [results[f][name]["rows"] for f in fractions]
        at = xs[-1] / fractions[-1]
        minutes = fit(xs, [results[f][name]["seconds"] for f in fractions], at) / 60
        gb = fit(xs, [results[f][name]["peak_rss_mb"] for f in fractions], at) / 1024
        goal = f"<= {GOAL_RSS_GB:g} GB, <= {GOAL_MINUTES:g} min"
        ok = gb <= GOAL_RSS_GB and minutes <= GOAL_MINUTES
        extra = ""
        if name in ("loader", "scorer_rows"):
            grown = [results[f][name]["worker_growth_mb"] for f in fractions]
            # a flat growth's fitted line may fall below what was measured: never report less
            worker = max(fit(xs, grown, at), *grown) / 1024
            goal += f"; <= {GOAL_WORKER_GB:g} GB per worker"
            ok = ok and worker <= GOAL_WORKER_GB
            extra = f" (per worker: {worker:.3f} GB)"
        if name == "gq_read_all":
            goal, ok = "the former way, for comparison", None
        verdict = "-" if ok is None else ("within" if ok else "MISSES")
        shown = f"{minutes:.1f}" if minutes > 0 else "n/a (load: the larger fraction ran faster)"
        lines.append(f"| {name} | {at:,.0f} | {shown} | {gb:.2f}{extra} | {goal} | {verdict} |")
    for name, r in fixed.items():
        ok = r["peak_rss_mb"] / 1024 <= GOAL_RSS_GB and r["seconds"] / 60 <= GOAL_MINUTES
        lines.append(f"| {name} | {args.runs:,} runs (measured) | {r['seconds'] / 60:.1f} | "
                     f"{r['peak_rss_mb'] / 1024:.2f} | <= {GOAL_RSS_GB:g} GB, <= {GOAL_MINUTES:g} min | "
                     f"{'within' if ok else 'MISSES'} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fractions", type=float, nargs="+", default=[0.001, 0.01, 0.05])
    parser.add_argument("--workers", type=int, default=4, help="forked DataLoader workers of the loader and scorer_rows stages")
    parser.add_argument("--runs", type=int, default=SWEEP_RUNS, help="fake training runs for tables and export")
    parser.add_argument("--workdir", type=Path, default=None, help="scratch folder (default: a temporary one)")
    parser.add_argument("--note", default="", help="a sentence for the report, e.g. who else used the machine")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--stage", choices=STAGES, help=argparse.SUPPRESS)
    parser.add_argument("--root", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stage:
        child(args)
        return
    args.out = args.out.resolve() if args.out else None
    results: dict[float, dict[str, dict]] = {}
    setup_s: dict[float, float] = {}
    loads = [os.getloadavg()[0]]
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        for fraction in sorted(args.fractions):
            root = Path(tmp) / f"f{fraction:g}"
            print(f"fraction {fraction:g}: synthesising", file=sys.stderr, flush=True)
            start = time.perf_counter()
            from cdga.core.io import write_csv
            from cdga.data import datasets

            listed = listing(fraction)
            write_csv(root / "listing.csv", listed)
            split = datasets.split_by_domain(listed, HOLDOUT, 0)
            write_csv(root / "split.csv", split)
            manifests = write_manifests(root, split)
            (root / "synthetic_rows.txt").write_text(str(sum(map(len, manifests.values()))))
            job = job_manifests(list(manifests))
            (root / "job_manifests.txt").write_text("\n".join(map(str, job)))
            write_shards(job)
            write_decisions(root, manifests)
            del manifests
            setup_s[fraction] = time.perf_counter() - start
            results[fraction] = {}
            for name in PER_FRACTION:
                loads.append(os.getloadavg()[0])
                results[fraction][name] = run_stage(name, root, args.workers)
            shutil.rmtree(root)
        root = Path(tmp) / "runs"
        print(f"{args.runs} runs: synthesising", file=sys.stderr, flush=True)
        write_runs(root, args.runs)
        fixed = {}
        for name in ("tables", "export"):
            loads.append(os.getloadavg()[0])
            fixed[name] = run_stage(name, root, args.workers)
    loads.append(os.getloadavg()[0])
    lines = report(results, fixed, args, loads, setup_s)
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
