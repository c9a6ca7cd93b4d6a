"""Every path of the study, one function per artifact (torch-free).

Paths are strings relative to the working directory (the repository root in a run), so the
Snakemake rules, the scripts and the tests spell them the same way. Called with placeholder
strings such as ``"{dataset}"`` a function returns the rule's wildcard template.
"""

from __future__ import annotations

RESULTS = "results"
LOGS = f"{RESULTS}/logs"
BENCHMARKS = f"{RESULTS}/benchmarks"
SUMMARY = f"{RESULTS}/summary"
FIGURES = f"{SUMMARY}/figures"
TRAIN = f"{RESULTS}/train"
ANALYSES = f"{RESULTS}/analyses"

# How a wildcard's value reads in a path: numbered ones carry their name ("scale2", "rep0").
PREFIXES = {"level": "scale", "trial": "trial", "rep": "rep", "shard": "shard"}
SUFFIXES = ("draw",)  # appended to the segment before it: trial0_hparams3


# ---------------------------------------------------------------- real data
def dataset_dir(datasets_root: str, dataset: str) -> str:
    """A dataset's DomainBed folder: <datasets_root>/<dataset>/<domain>/<class>/<image>."""
    return f"{datasets_root}/{dataset}"


def prepared_marker(dataset: str) -> str:
    """Written by prepare_<dataset> once <datasets_root>/<dataset> holds every domain."""
    return f"{RESULTS}/prepared/{dataset}.json"


def split_table(dataset: str) -> str:
    """The image table (path, domain, class, train/val split) every later stage reads."""
    return f"{RESULTS}/splits/{dataset}.csv"


# ---------------------------------------------------------------- demo LDM
def demo_ldm() -> str:
    """The demo LDM's save_pretrained directory (config ldm.model names it to use it)."""
    return f"{RESULTS}/models/demo_ldm"


def demo_ldm_work() -> str:
    """The demo LDM's tokenizer files and resumable checkpoints."""
    return f"{demo_ldm()}.work"


# ---------------------------------------------------------------- generation
def manifest_of(shard_tar: str) -> str:
    """The manifest CSV beside a shard's tar (the one place of the .tar -> .csv swap)."""
    if not shard_tar.endswith(".tar"):
        raise ValueError(f"not a shard tar path: {shard_tar!r}")
    return shard_tar[: -len(".tar")] + ".csv"


def tar_of(manifest: str) -> str:
    """The shard tar beside a manifest CSV (manifest_of's inverse)."""
    if not manifest.endswith(".csv"):
        raise ValueError(f"not a shard manifest path: {manifest!r}")
    return manifest[: -len(".csv")] + ".tar"


def synthetic_shard(dataset, variant, src, tgt, rep, shard) -> str:
    """The tar of one generation shard: images of domain src's training split towards tgt."""
    return f"{RESULTS}/synthetic/{dataset}/{variant}/{src}--{tgt}/rep{rep}/shard{shard}.tar"


def synthetic_manifest(dataset, variant, src, tgt, rep, shard) -> str:
    """The manifest CSV of one generation shard (one row per image)."""
    return manifest_of(synthetic_shard(dataset, variant, src, tgt, rep, shard))


def generation_quality(dataset: str) -> dict[str, str]:
    """Rule generation_quality's outputs: summary, per-image scores and the grid figure."""
    return {"summary": f"{SUMMARY}/generation_quality/{dataset}.csv",
            "scores": f"{SUMMARY}/generation_quality/{dataset}_images.csv",
            "png": figure(f"generation_grid_{dataset}", "png"),
            "pdf": figure(f"generation_grid_{dataset}", "pdf")}


# ---------------------------------------------------------------- filtering
def filter_scorer(dataset, test_env) -> dict[str, str]:
    """The filter's scorer of one test domain and its training rows."""
    base = f"{RESULTS}/filter/{dataset}/{test_env}"
    return {"model": f"{base}/scorer.pt", "rows": f"{base}/scorer_rows.csv"}


def filter_decisions(dataset, variant, test_env) -> str:
    """Scores and keep/drop decision per synthetic image of one filter job."""
    return f"{RESULTS}/filter/{dataset}/{test_env}/{variant}.csv"


# ---------------------------------------------------------------- assembly and training
def assembly_manifest(dataset, method, test_env, level) -> str:
    """The image manifest (real + synthetic rows, roles) of one training job."""
    return f"{RESULTS}/assembly/{dataset}/{method}/{test_env}/scale{level}.csv"


def draw_part(hparams_seed) -> str:
    """The run directory's suffix of a hyperparameter draw: none for the defaults (seed 0)."""
    return "" if int(hparams_seed) == 0 else f"_hparams{hparams_seed}"


def draw_seed(part: str) -> int:
    """The hparams seed of a run directory's suffix (draw_part's inverse)."""
    return int(part.removeprefix("_hparams")) if part else 0


def run_part(dataset, method, test_env, level, trial, draw="") -> str:
    """A training run's folder below TRAIN; ``draw`` is a draw_part."""
    return f"{dataset}/{method}/{test_env}/scale{level}/trial{trial}{draw}"


def run_dir(dataset, method, test_env, level, trial, draw="") -> str:
    """A training run's folder."""
    return f"{TRAIN}/{run_part(dataset, method, test_env, level, trial, draw)}"


RUN_RECORDS = "results.jsonl"
SELECTIONS = ("training_domain", "oracle")  # the model-selection rules whose model is kept


def run_records(dataset, method, test_env, level, trial, draw="") -> str:
    """A run's DomainBed records, one per checkpoint."""
    return f"{run_dir(dataset, method, test_env, level, trial, draw)}/{RUN_RECORDS}"


def run_model(dataset, method, test_env, level, trial, draw="", selection="training_domain") -> str:
    """The weights a run kept for a model-selection rule (SELECTIONS)."""
    if selection not in SELECTIONS:
        raise ValueError(f"unknown model selection {selection!r}; known: {SELECTIONS}")
    return f"{run_dir(dataset, method, test_env, level, trial, draw)}/model_{selection}.pt"


# ---------------------------------------------------------------- analyses and summaries
def analysis_output(analysis: str, suffix: str = ".csv", **wildcards) -> str:
    """An analysis job's output: per selected model (wildcards dataset, method, test_env,
    level, trial) or per test domain (dataset, test_env), ``suffix`` naming which file."""
    return f"{ANALYSES}/{_job_part(analysis, wildcards)}{suffix}"


def analysis_figure(analysis: str, ext: str = "png", **wildcards) -> str:
    """The figure one analysis job draws: <analysis>_<wildcard values>."""
    return figure("_".join([analysis, *map(str, wildcards.values())]), ext)


def summary(name: str, ext: str = "csv") -> str:
    """A study-wide table: accuracy, overview, scaling, an analysis's summary."""
    return f"{SUMMARY}/{name}.{ext}"


def figure(stem: str, ext: str = "png") -> str:
    """A summary figure (PNG for the report, PDF for the paper)."""
    return f"{FIGURES}/{stem}.{ext}"


def report() -> str:
    """The self-contained HTML report (snakemake --report)."""
    return f"{RESULTS}/report.html"


# ---------------------------------------------------------------- logs and benchmarks
def _job_part(rule: str, wildcards: dict) -> str:
    part = rule
    for key, value in wildcards.items():
        if key in SUFFIXES:
            part += str(value)
        else:
            part += f"/{PREFIXES.get(key, '')}{value}"
    return part


def log(rule: str, **wildcards) -> str:
    """The log of one job: results/logs/<rule>/<wildcard values, in order>.log."""
    return f"{LOGS}/{_job_part(rule, wildcards)}.log"


def benchmark(rule: str, **wildcards) -> str:
    """The benchmark TSV of one job, beside its log's layout under results/benchmarks."""
    return f"{BENCHMARKS}/{_job_part(rule, wildcards)}.tsv"
