# Glue between Snakemake and the study: every job and its params come from cdga.plan, every
# path from cdga.core.layout (torch-free: keeps DAG building fast). The stage files hold the rules.
from pathlib import Path

from cdga.analyses import registry as analysis
from cdga.core import execution
from cdga.core import layout
from cdga.core import methods
from cdga.core import registry
from cdga.plan import Plan

PLAN = Plan(config)  # the jobs of this config, computed once per DAG
CONDA_ENV = "../envs/cdga.yaml"  # every rule's environment (--sdm conda); relative to rules/
DATA_ROOT = config["datasets_root"]
CAPTIONS = Path(".snakemake/cdga/captions").resolve()  # the analyses' captions (cdga.analyses.registry)


# The configured names themselves: names may hold underscores, so a looser pattern would split
# paths such as tsne_<dataset>_<test_env>.png in the wrong place.
wildcard_constraints:
    dataset=PLAN.dataset_pattern(),


def wildcards_of(*keys):
    """Placeholders {key} for ``keys``: called with them, a layout function gives a template."""
    return {k: f"{{{k}}}" for k in keys}


def log_of(rule, *keys):
    return layout.log(rule, **wildcards_of(*keys))


def benchmark_of(rule, *keys):
    return layout.benchmark(rule, **wildcards_of(*keys))


def job(wc):
    """A job's wildcards as a dict, numbered ones as int."""
    return {k: int(v) if k in ("level", "trial", "rep", "shard") else v for k, v in wc.items()}


def caption(key, text):
    """A report caption file made from an analysis's text (cdga.analyses.registry), for report()."""
    CAPTIONS.mkdir(parents=True, exist_ok=True)
    path = CAPTIONS / f"{key}.rst"
    if not path.is_file() or path.read_text() != text:
        path.write_text(text)
    return str(path)


def figure(stem, caption_path, category, subcategory=None):
    """PNG (in the report) and PDF of one figure."""
    png = report(layout.figure(stem, "png"), caption=caption_path, category=category,
                 subcategory=subcategory)
    return [png, layout.figure(stem, "pdf")]


def analysis_keys(name):
    """The wildcards of an analysis's jobs (cdga.analyses.registry: per model or per test domain)."""
    if analysis.get(name).per == "model":
        return ["dataset", "method", "test_env", "level", "trial"]
    return ["dataset", "test_env"]


def analysis_job_outputs(name):
    """Output templates of the job rule <name>, its files and its own figure when it draws one."""
    spec, wcs = analysis.get(name), wildcards_of(*analysis_keys(name))
    out = {key: layout.analysis_output(name, suffix, **wcs) for key, suffix in spec.outputs.items()}
    if spec.job_figure:
        out["png"] = report(layout.analysis_figure(name, "png", **wcs), category="Analyses",
                            caption=caption(name, spec.job_figure), subcategory=spec.subcategory)
        out["pdf"] = layout.analysis_figure(name, "pdf", **wcs)
    return out


def analysis_summary_outputs(name):
    """Outputs of summarize_<name>, its table and figures, each with its caption."""
    spec = analysis.get(name)
    table = report(layout.summary(name), caption=caption(name, spec.caption),
                   category="Analyses", subcategory=spec.subcategory)
    return {"table": table, **{stem: figure(stem, caption(f"{stem}_figure", text), "Analyses",
                                            spec.subcategory)
                               for stem, text in spec.figures.items()}}


def analysis_targets(name):
    """An analysis's final outputs: its summary table, else every job's figure."""
    spec = analysis.get(name)
    if spec.caption is not None:
        return [layout.summary(name)]
    return [layout.analysis_figure(name, "png", **j) for j in PLAN.analysis_jobs(name)]


# Each stage file appends the final outputs it owns; rule all (in the Snakefile) requests them.
TARGETS = []
