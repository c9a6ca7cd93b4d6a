# Paths and input functions of every stage; the stage files hold the rules.
import functools
import os.path
import re

from cdga import hparams, methods, registry, variants  # torch-free: keeps DAG building fast

RESULTS = "results"
LOGS = f"{RESULTS}/logs"
BENCH = f"{RESULTS}/benchmarks"
CONDA_ENV = "../../envs/cdga.yaml"  # every rule's environment (--sdm conda); relative to rules/
DATA_ROOT = config["datasets_root"]


# The configured names themselves (each one registry.NAME): names may hold underscores, so a
# looser pattern would split paths such as tsne_<dataset>_<test_env>.png in the wrong place.
wildcard_constraints:
    dataset="|".join(re.escape(d) for d in sorted(config["datasets"], key=len, reverse=True)),


def settings(dataset):
    """The config block of one dataset."""
    return config["dataset_settings"][dataset]


@functools.cache
def dataset_entry(dataset):
    """The registry entry of a configured dataset: built in, or defined by its config block."""
    return registry.resolve(dataset, settings(dataset), DATA_ROOT)


def domains(dataset):
    return dataset_entry(dataset).domains


def without(block, *keys):
    """A config block without its execution settings ``keys`` (threads, a batch size that only
    cuts the work into pieces): never params, so editing them reruns nothing; the scripts read
    them from the config."""
    return {k: v for k, v in block.items() if k not in keys}


def dataset_dir(dataset):
    return f"{DATA_ROOT}/{dataset}"


def prepared_marker(dataset):
    """Written by prepare_<dataset> once <datasets_root>/<dataset> holds every domain."""
    return f"{RESULTS}/prepared/{dataset}.json"


def dataset_ready(dataset):
    """The input that stands for a dataset on disk: the prepare marker of a dataset that
    cdga.download can fetch, else its folder (already there, or a rule such as
    make_demo_digits makes it)."""
    return prepared_marker(dataset) if dataset_entry(dataset).arranger else dataset_dir(dataset)


def split_table(dataset):
    return f"{RESULTS}/splits/{dataset}.csv"


DEMO_LDM = f"{RESULTS}/models/demo_ldm"
DEMO_PRETRAIN = f"{DATA_ROOT}/{registry.DEMO_PRETRAIN}"  # the demo LDM's captioned corpus


def ldm_inputs():
    """The demo LDM directory when ldm.model names it (so train_demo_ldm runs first); else nothing:
    a hub id or another local directory is read as it is."""
    return [DEMO_LDM] if os.path.normpath(config["ldm"]["model"]) == os.path.normpath(DEMO_LDM) else []


def synthetic_shard(dataset, variant, src, tgt, rep, shard):
    """Tar path of one generation shard; its manifest is the same path with .csv."""
    return f"{RESULTS}/synthetic/{dataset}/{variant}/{src}--{tgt}/rep{rep}/shard{shard}.tar"


def shard_count(dataset):
    """Generation jobs per (variant, pair, rep) of a dataset: its own ``shards``, else
    ``generation.shards``."""
    return settings(dataset).get("shards", config["generation"]["shards"])


def synthetic_manifests(dataset, variant, pairs, reps):
    """Manifests of the generation shards of ordered domain ``pairs`` (src, tgt), reps 0..reps-1,
    ``shard_count(dataset)`` per (pair, rep)."""
    return [
        f"{RESULTS}/synthetic/{dataset}/{variant}/{src}--{tgt}/rep{rep}/shard{shard}.csv"
        for src, tgt in pairs
        for rep in range(reps)
        for shard in range(shard_count(dataset))
    ]


# ---------------------------------------------------------------- generation
def generation_shards(dataset):
    """Every shard tar of a dataset's generation: the pairs its configured methods train on over
    its test domains, reps 0..images_per_pair-1, shards."""
    own = settings(dataset)
    return [
        synthetic_shard(dataset, variant, src, tgt, rep, shard)
        for variant, src, tgt in methods.generation_pairs(
            config["methods"], domains(dataset), own["variants"], own["test_envs"])
        for rep in range(config["generation"]["images_per_pair"])
        for shard in range(shard_count(dataset))
    ]


def generated_datasets():
    """The configured datasets that have synthetic images to make (and to score)."""
    return [ds for ds in config["datasets"] if generation_shards(ds)]


def prompt_settings(wc):
    """The dataset settings one job's prompts read (its variant's: PG the target's description)."""
    return variants.get(wc.variant).prompt_settings(settings(wc.dataset), wc.tgt)


# ---------------------------------------------------------------- assembly
def assembly_manifest(dataset, method, test_env, level):
    return f"{RESULTS}/assembly/{dataset}/{method}/{test_env}/scale{level}.csv"


def assembly_synthetic(wildcards):
    """The shard manifests a job's method uses: its variant, its pairs (never the test domain)."""
    level = int(wildcards.level)
    variant = methods.variant(wildcards.method, settings(wildcards.dataset)["variants"])
    if (variant is None) != (level == 0):
        raise ValueError(
            f"method {wildcards.method!r} runs at scale level "
            f"{'0' if variant is None else '>= 1'}, not {level}"
        )
    if variant is None:
        return []
    if level > config["generation"]["images_per_pair"]:
        raise ValueError(
            f"scale level {level} (config scaling) exceeds generation.images_per_pair "
            f"{config['generation']['images_per_pair']}"
        )
    pairs = methods.synthetic_pairs(wildcards.method, domains(wildcards.dataset), wildcards.test_env)
    return synthetic_manifests(wildcards.dataset, variant, pairs, level)


# ---------------------------------------------------------------- filtering
FILTER_DIR = f"{RESULTS}/filter"


def filter_scorer(dataset, test_env):
    """The filter's scorer of one test domain and its training rows (rule filter_scorer)."""
    base = f"{FILTER_DIR}/{dataset}/{test_env}"
    return {"model": f"{base}/scorer.pt", "rows": f"{base}/scorer_rows.csv"}


def filter_decisions(dataset, variant, test_env):
    """Scores and keep/drop decision per synthetic image of one filter job."""
    return f"{FILTER_DIR}/{dataset}/{test_env}/{variant}.csv"


def filtered_methods(dataset, variant):
    """The configured filtered methods (cdga.methods: filtered) that run on ``dataset`` with
    generation ``variant``."""
    variants = settings(dataset)["variants"]
    return [m for m in dataset_methods(dataset)
            if methods.method(m).filtered and methods.variant(m, variants) == variant]


def filter_jobs():
    """(dataset, variant, test domain) of every filter job that a configured run reads."""
    return [(ds, v, t) for ds in config["datasets"] for v in settings(ds)["variants"]
            if filtered_methods(ds, v) for t in settings(ds)["test_envs"]]


def filter_manifests(dataset, variant, test_env):
    """The shard manifests one filter job scores: the pairs of its filtered methods at this
    test domain, reps 0 .. their highest scale level - 1."""
    names = filtered_methods(dataset, variant)
    if not names:
        raise ValueError(f"no configured filtered method runs on {dataset} with variant "
                         f"{variant!r}")
    reps = max(max(method_levels(m)) for m in names)
    if reps > config["generation"]["images_per_pair"]:
        raise ValueError(f"scale level {reps} (config scaling) of {names} exceeds "
                         f"generation.images_per_pair {config['generation']['images_per_pair']}")
    pairs = dict.fromkeys(p for m in names for p in methods.synthetic_pairs(
        m, domains(dataset), test_env))
    return synthetic_manifests(dataset, variant, list(pairs), reps)


def filter_datasets():
    """The configured datasets with filter jobs, in config order."""
    return list(dict.fromkeys(ds for ds, _, _ in filter_jobs()))


def assembly_keep(wildcards):
    """The keep list that a filtered method's assembly applies; none for other methods."""
    if not methods.method(wildcards.method).filtered:
        return []
    variant = methods.variant(wildcards.method, settings(wildcards.dataset)["variants"])
    return [filter_decisions(wildcards.dataset, variant, wildcards.test_env)]


def filter_job_manifests(wc):
    """The manifests of the shards a filter_synthetic job scores."""
    return filter_manifests(wc.dataset, wc.variant, wc.test_env)


# ---------------------------------------------------------------- training
def method_levels(method):
    """Scale levels a method runs at: 0 for real-only methods, else the default (+ scaling)."""
    if methods.method(method).synthetic is None:
        return [0]
    scaling = config["scaling"]
    extra = scaling["levels"] if method in scaling["methods"] else []
    return sorted({scaling["default_level"], *extra})


def main_level(method):
    return 0 if methods.method(method).synthetic is None else config["scaling"]["default_level"]


def dataset_methods(dataset):
    """The configured methods that apply to ``dataset`` (its generation variants)."""
    variants = settings(dataset)["variants"]
    return [m for m in config["methods"] if methods.runs_on(m, variants)]


def draw_part(hparams_seed):
    """The run directory's suffix of a hyperparameter draw: none for the defaults (seed 0)."""
    return "" if int(hparams_seed) == 0 else f"_hparams{hparams_seed}"


def draw_seed(part):
    """The hparams seed of a run directory's suffix (``draw_part``'s inverse)."""
    return int(part.removeprefix("_hparams")) if part else 0


def training_params(wc):
    """What one train job reads of the training block (cdga.hparams.job_settings): its
    algorithm's (drawn) hyperparameters, synthetic_ratio only with synthetic images, no
    execution setting; a dataset's own checkpoint_freq (DomainBed: 1000 for its largest) wins."""
    spec = methods.method(wc.method)
    own = hparams.job_settings(config["training"], spec.algorithm, spec.synthetic is not None,
                               draw_seed(wc.draw), int(wc.trial))
    if "checkpoint_freq" in settings(wc.dataset):
        own["checkpoint_freq"] = settings(wc.dataset)["checkpoint_freq"]
    return own


def train_dir(dataset, method, test_env, level, trial, draw=""):
    return f"{RESULTS}/train/{dataset}/{method}/{test_env}/scale{level}/trial{trial}{draw}"


def training_results(main_only):
    """results.jsonl of every configured run (main_only: the main table's level only), each
    with the defaults and with every hyperparameter draw (training.hparam_draws)."""
    return [
        f"{train_dir(ds, m, env, level, trial, draw_part(k))}/results.jsonl"
        for ds in config["datasets"]
        for m in dataset_methods(ds)
        for env in settings(ds)["test_envs"]
        for level in ([main_level(m)] if main_only else method_levels(m))
        for trial in range(config["training"]["trials"])
        for k in range(config["training"]["hparam_draws"] + 1)
    ]


# ---------------------------------------------------------------- analyses
ANALYSES = f"{RESULTS}/analyses"
FIGURES = f"{RESULTS}/summary/figures"
ANALYSIS_RUN = "{dataset}/{method}/{test_env}/scale{level}/trial{trial}"


def selected_model_file(dataset, method, test_env, level, trial):
    """The weights a run's training-domain model selection kept: what the analyses examine."""
    return f"{train_dir(dataset, method, test_env, level, trial)}/model_training_domain.pt"


def selected_model(wildcards):
    return selected_model_file(**dict(wildcards.items()))


def analysed_runs(dataset=None, test_env=None):
    """Wildcard dicts of the analysed models: analyses.methods x test domains x first trials."""
    cfg = config["analyses"]
    return [
        dict(dataset=ds, method=m, test_env=t, level=main_level(m), trial=k)
        for ds in config["datasets"]
        if dataset in (None, ds)
        for m in cfg["methods"]
        if m in config["methods"] and methods.runs_on(m, settings(ds)["variants"])
        for t in settings(ds)["test_envs"]
        if test_env in (None, t)
        for k in range(min(cfg["trials"], config["training"]["trials"]))
    ]


def analysis_outputs(analysis, suffix=".csv", **where):
    return [f"{ANALYSES}/{analysis}/{ANALYSIS_RUN.format(**r)}{suffix}" for r in analysed_runs(**where)]


def test_env_pairs():
    return [(ds, t) for ds in config["datasets"] for t in settings(ds)["test_envs"]]


def figure(stem, caption, subcategory):
    """PNG (in the report) and PDF of one summary figure."""
    png = report(f"{FIGURES}/{stem}.png", caption=f"../report/{caption}.rst",
                 category="Analyses", subcategory=subcategory)
    return [png, f"{FIGURES}/{stem}.pdf"]


def summary_table(name, caption, subcategory):
    table = report(f"{RESULTS}/summary/{name}.csv", caption=f"../report/{caption}.rst",
                   category="Analyses", subcategory=subcategory)
    return table


def tsne_synthetic_method(dataset):
    """The first of analyses.tsne.synthetic_methods that the dataset's variants allow."""
    return methods.first_runnable(config["analyses"]["tsne"]["synthetic_methods"], settings(dataset)["variants"])


def tsne_inputs(wildcards):
    cfg = config["analyses"]["tsne"]
    synth = tsne_synthetic_method(wildcards.dataset)
    return {
        "model": selected_model_file(wildcards.dataset, cfg["method"], wildcards.test_env,
                                     main_level(cfg["method"]), 0),
        "split": split_table(wildcards.dataset),
        "assembly": assembly_manifest(wildcards.dataset, synth, wildcards.test_env, main_level(synth)),
    }


# Each stage file appends the final outputs it owns; rule all (in the Snakefile) requests them.
TARGETS = []
