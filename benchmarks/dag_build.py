"""How long `snakemake -n` takes to build the paper study's DAG, and how many jobs it plans.

Runs the dry run in an empty working directory (nothing exists yet, so every job of the
study is planned) a few times and reports the wall-clock time of the whole command, which
includes starting Python and Snakemake; then prints the job count per rule.
`--cprofile` adds the functions with the largest cumulative time, to find slow input functions.
`--hparam-draws N` overrides ``training.hparam_draws`` (DomainBed's sweep: 20; its goal is 60 s).
Usage: python benchmarks/dag_build.py [--configfile config/paper.yaml] [--hparam-draws 20] [--repeats 3] [--out FILE]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import yaml
from _env import emit, header

from cdga.core import methods
from cdga.core.registry import domains

REPO = Path(__file__).resolve().parents[1]
LIMIT_S = 30.0
SWEEP_LIMIT_S = 60.0  # with hyperparameter draws (issue 22)

# Images per dataset as reported by DomainBed (Gulrajani & Lopez-Paz, ICLR 2021, Table 1).
REPORTED_IMAGES = {"PACS": 9_991, "VLCS": 10_729, "OfficeHome": 15_588,
                   "TerraIncognita": 24_788, "DomainNet": 586_575}
# Images per domain in the DomainBed layout (TerraIncognita's sum to 24,330 of the 24,788 above).
DOMAIN_IMAGES = {
    "PACS": {"art_painting": 2_048, "cartoon": 2_344, "photo": 1_670, "sketch": 3_929},
    "VLCS": {"Caltech101": 1_415, "LabelMe": 2_656, "SUN09": 3_282, "VOC2007": 3_376},
    "OfficeHome": {"Art": 2_427, "Clipart": 4_365, "Product": 4_439, "Real World": 4_357},
    "TerraIncognita": {"location_100": 4_741, "location_38": 9_736, "location_43": 3_970,
                       "location_46": 5_883},
    "DomainNet": {"clipart": 48_129, "infograph": 51_605, "painting": 72_266, "quickdraw": 172_500,
                  "real": 172_947, "sketch": 69_128},
}
# Rates measured on one NVIDIA H200 on 2026-12-04 (benchmarks/results/2026-12-04-h200/):
# SD v1.5 img2img end to end at 512 px, fp16, batch 16, 30 denoising steps (gen_sd15_cuda.txt);
# ResNet-50 training at 224 px, AMP (train_cuda.txt). Evaluation's rate is not measured.
GEN_IMAGES_PER_S, GEN_MEASURED_STEPS = 3.98, 30
TRAIN_IMAGES_PER_S = 2160.0  # ResNet-50 forward + backward at 224 px, end to end
EVAL_IMAGES_PER_S = 3000.0   # ResNet-50 forward at 224 px (assumed, not measured)


def dry_run(configfiles: list[Path], workdir: Path, quiet: bool) -> tuple[float, float, str]:
    """(wall s, CPU s of the snakemake process, its output) for one dry run.

    ``quiet`` prints only the per-rule table (``--quiet rules``); otherwise every job is
    printed, as a plain ``snakemake -n`` does.
    """
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "workflow" / "Snakefile"),
           "--directory", str(workdir), "--configfile", *map(str, configfiles), "-n",
           *(["--quiet", "rules"] if quiet else [])]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True, cwd=workdir)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode != 0:
        raise SystemExit(f"dry run failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return seconds, cpu, proc.stdout + proc.stderr


def job_counts(output: str) -> dict[str, int]:
    """Rule -> jobs, read from Snakemake's 'Job stats' table (total last)."""
    counts: dict[str, int] = {}
    for line in output.split("Job stats:", 1)[-1].splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            counts[parts[0]] = int(parts[1])
    return counts


def profile(configfiles: list[Path], workdir: Path, top: int) -> str:
    """The ``top`` functions by cumulative time in one in-process dry run."""
    from snakemake.cli import main

    args = ["-s", str(REPO / "workflow" / "Snakefile"), "--directory", str(workdir),
            "--configfile", *map(str, configfiles), "-n", "--quiet", "all"]
    prof = cProfile.Profile()
    cwd = os.getcwd()
    try:
        os.chdir(workdir)
        prof.runcall(lambda: _run_cli(main, args))
    finally:
        os.chdir(cwd)
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("cumulative").print_stats(top)
    return out.getvalue()


def _run_cli(main: Callable[[list[str]], object], args: list[str]) -> None:
    try:
        main(args)
    except SystemExit as exc:
        if exc.code not in (0, None):
            raise


def merged_config(configfiles: list[Path]) -> dict:
    """config.yaml with ``configfiles`` merged over it in order, as Snakemake merges them."""

    def merge(base: dict, over: dict) -> dict:
        out = dict(base)
        for k, v in over.items():
            out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
        return out

    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    for path in configfiles:
        config = merge(config, yaml.safe_load(path.read_text()))
    return config


def seconds_per_image(gen: dict) -> float:
    """H200 seconds per synthetic image: the measured end-to-end rate, scaled by the
    denoising steps (the UNet's share of the time)."""
    strength = max(gen["pg"]["strength"], gen["ig"]["strength"])
    return max(1, int(strength * gen["steps"])) / GEN_MEASURED_STEPS / GEN_IMAGES_PER_S


def generation_jobs(config: dict, counts: dict[str, int]) -> list[tuple[str, int, int, str, str]]:
    """(dataset, shards, generate jobs, images per job mean / max, H200 hours per job mean / max):
    a job takes one shard of its source domain's training images."""
    gen, rows, total = config["generation"], [], 0
    keep = 1 - config["split"]["holdout_fraction"]
    for ds in config["datasets"]:
        own = config["dataset_settings"][ds]
        shards = own.get("shards", gen["shards"])
        pairs = methods.generation_pairs(config["methods"], domains(ds), own["variants"], own["test_envs"])
        jobs = len(pairs) * gen["images_per_pair"] * shards
        sizes = [DOMAIN_IMAGES[ds][src] * keep / shards for _, src, _ in pairs]
        mean, top = statistics.mean(sizes), max(sizes)
        hours = seconds_per_image(gen) / 3600
        rows.append((ds, shards, jobs, f"{mean:,.0f} / {top:,.0f}", f"{mean * hours:.2f} / {top * hours:.2f}"))
        total += jobs
    if total != counts.get("generate", total):
        raise SystemExit(f"{total} generate jobs counted here, but the DAG plans {counts['generate']}")
    return rows


def gpu_hours(config: dict, counts: dict[str, int]) -> list[tuple[str, str, str, float]]:
    """(stage, dataset, what is counted, H200 hours) at the rates above."""
    gen, train, ana = config["generation"], config["training"], config["analyses"]
    per_image = seconds_per_image(gen)
    rows, runs = [], 0
    for ds in config["datasets"]:
        n_train = REPORTED_IMAGES[ds] * (1 - config["split"]["holdout_fraction"])
        n_dom = len(domains(ds))
        variants = len(config["dataset_settings"][ds]["variants"])
        # every ordered pair per variant plus the within-domain pairs, reps 0..K-1
        images = gen["images_per_pair"] * n_train * (variants * (n_dom - 1) + 1)
        rows.append(("generation", ds, f"{images / 1e6:.2f} M images x {per_image:.2f} s",
                     images * per_image / 3600))
    for ds in config["datasets"]:
        n_dom = len(domains(ds))
        n_runs = sum(len(method_levels(m, config)) for m in dataset_methods(ds, config))
        n_runs *= len(config["dataset_settings"][ds]["test_envs"]) * train["trials"] * (train["hparam_draws"] + 1)
        freq = config["dataset_settings"][ds].get("checkpoint_freq", train["checkpoint_freq"])
        evals = len(range(0, train["steps"], freq)) + ((train["steps"] - 1) % freq != 0)
        per_run = (train["steps"] * train["batch_size"] * (n_dom - 1) / TRAIN_IMAGES_PER_S
                   + evals * REPORTED_IMAGES[ds] / EVAL_IMAGES_PER_S)
        rows.append(("training", ds, f"{n_runs} runs x {per_run / 3600:.2f} h ({evals} evaluations)",
                     n_runs * per_run / 3600))
        runs += n_runs
    if runs != counts.get("train", runs):
        raise SystemExit(f"{runs} training runs counted here, but the DAG plans {counts['train']}")
    adv = ana["adversarial"]
    per_adv = adv["images"] * len(adv["eps_255"]) * (2 + adv["pgd_steps"]) / TRAIN_IMAGES_PER_S
    land = ana["landscape"]
    points = land["points_1d"] + land["points_2d"] ** 2 + 2 * land["radius_directions"]
    per_land = 2 * land["images"] * (points / EVAL_IMAGES_PER_S
                                     + 3 * land["power_iters"] / TRAIN_IMAGES_PER_S)
    analysed = counts.get("adversarial", 0)
    rows.append(("analyses", "all", (f"{analysed} models: adversarial + landscape "
                 "(shift, t-SNE: minutes)"), analysed * (per_adv + per_land) / 3600))
    return rows


def method_levels(method: str, config: dict) -> list[int]:
    if methods.method(method).synthetic is None:
        return [0]
    scaling = config["scaling"]
    extra = scaling["levels"] if method in scaling["methods"] else []
    return sorted({scaling["default_level"], *extra})


def dataset_methods(dataset: str, config: dict) -> list[str]:
    variants = config["dataset_settings"][dataset]["variants"]
    return [m for m in config["methods"] if methods.runs_on(m, variants)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--configfile", type=Path, default=REPO / "config" / "paper.yaml")
    parser.add_argument("--hparam-draws", type=int, help="override training.hparam_draws")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cprofile", type=int, default=0, metavar="TOP")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    configfile = args.configfile.resolve()
    settings = {"configfile": configfile.relative_to(REPO), "repeats": args.repeats}
    limit = LIMIT_S
    if args.hparam_draws is not None:
        settings["training.hparam_draws"] = args.hparam_draws
        limit = SWEEP_LIMIT_S
    lines = [header("DAG build time of the paper study (snakemake -n)", settings), ""]
    with tempfile.TemporaryDirectory() as tmp, tempfile.TemporaryDirectory() as conf:
        configfiles = [configfile]
        if args.hparam_draws is not None:  # outside the DAG's working directory
            configfiles.append(Path(conf) / "draws.yaml")
            configfiles[-1].write_text(yaml.safe_dump({"training": {"hparam_draws": args.hparam_draws}}))
        timings = []
        for quiet, label in ((True, "snakemake -n --quiet rules"), (False, "snakemake -n")):
            load = os.getloadavg()[0]
            runs = [dry_run(configfiles, Path(tmp), quiet) for _ in range(args.repeats)]
            wall = statistics.median(r[0] for r in runs)
            cpu = statistics.median(r[1] for r in runs)
            timings.append(f"| {label} | {wall:.1f} | {cpu:.1f} | {load:.1f} |")
            if quiet:
                counts = job_counts(runs[-1][2])
                quiet_cpu = cpu
        verdict = "within" if quiet_cpu <= limit else "OVER"
        lines += [
            "Median over the repeats. CPU s = user + sys of the snakemake process, which builds the",
            "DAG in one thread: about its wall time on an otherwise idle machine. Load = 1-min load",
            "average before the runs (2 cores; other work on the machine inflates wall time).",
            "",
            "| command | wall s | CPU s | load |",
            "| --- | ---: | ---: | ---: |",
            *timings,
            "",
            f"CPU time {quiet_cpu:.1f} s: {verdict} the {limit:.0f} s goal.",
            "",
            "| rule | jobs |",
            "| --- | ---: |",
            *(f"| {rule} | {n:,} |" for rule, n in counts.items()),
        ]
        estimate = gpu_hours(merged_config(configfiles), counts)
        lines += [
            "",
            (f"GPU-hour estimate (one H200, measured 2026-12-04: generation {GEN_IMAGES_PER_S} "
             f"images/s at {GEN_MEASURED_STEPS} steps, eager, end to end; ResNet-50 "
             f"{TRAIN_IMAGES_PER_S:.0f} img/s training; {EVAL_IMAGES_PER_S:.0f} img/s evaluation "
             "assumed; dataset sizes as reported by DomainBed)"),
            "",
            "| stage | dataset | counted | GPU hours |",
            "| --- | --- | --- | ---: |",
            *(f"| {stage} | {ds} | {what} | {hours:,.0f} |" for stage, ds, what, hours in estimate),
            *(f"| **{stage}** | all | | **{sum(h for s, _, _, h in estimate if s == stage):,.0f}** |"
              for stage in ("generation", "training")),
            f"| **total** | | | **{sum(h for *_, h in estimate):,.0f}** |",
        ]
        lines += [
            "",
            "Generation jobs per dataset (a job: one shard of a source domain's training images)",
            "",
            "| dataset | shards | generate jobs | images per job, mean / max | H200 hours per job, mean / max |",
            "| --- | ---: | ---: | ---: | ---: |",
            *(f"| {ds} | {shards} | {jobs:,} | {images} | {hours} |"
              for ds, shards, jobs, images, hours in generation_jobs(merged_config(configfiles), counts)),
        ]
        if args.cprofile:
            lines += ["", "```", profile(configfiles, Path(tmp), args.cprofile).strip(), "```"]
    emit(lines, args.out)


if __name__ == "__main__":
    main()
