# Stage 2c: the filter of the methods *_filtered (cdga.filtering.keep), between generation and
# assembly. Per (dataset, test domain) a class classifier trained on the real training split of
# the training domains only; per (dataset, variant, test domain) the scores and keep/drop
# decision of every synthetic image those methods' runs read (cdga.plan: filter_jobs).
# The execution settings (cdga.core.execution: filtering) stay out of params: the scripts read them.

FILTER = config["filtering"]
FILTER_TABLES = {k: layout.summary(f"filtering_{k}") for k in ("pairs", "classes", "empty")}
FILTER_EXAMPLES = {ext: [layout.figure(f"filtering_examples_{ds}", ext)
                         for ds in PLAN.filter_datasets()] for ext in ("png", "pdf")}


if PLAN.filter_jobs:
    TARGETS += [*FILTER_TABLES.values(), *FILTER_EXAMPLES["png"], *FILTER_EXAMPLES["pdf"]]


rule filter_scorer:
    """Train the filter's class classifier of one test domain on the real training split of
    the other domains (leakage-checked)."""
    input:
        split=lambda wc: layout.split_table(wc.dataset),
    output:
        **layout.filter_scorer("{dataset}", "{test_env}"),
    params:
        scorer=FILTER["scorer"],
    threads: FILTER["threads"]
    log:
        log_of("filter_scorer", "dataset", "test_env"),
    benchmark:
        benchmark_of("filter_scorer", "dataset", "test_env")
    conda:
        CONDA_ENV
    script:
        "../scripts/filter_scorer.py"


rule filter_synthetic:
    """Score one variant's synthetic images of a test domain's pairs; keep or drop each."""
    input:
        unpack(lambda wc: layout.filter_scorer(wc.dataset, wc.test_env)),
        split=lambda wc: layout.split_table(wc.dataset),
        shards=lambda wc: list(map(layout.tar_of, PLAN.filter_manifests(**job(wc)))),
        manifests=lambda wc: PLAN.filter_manifests(**job(wc)),
    output:
        layout.filter_decisions("{dataset}", "{variant}", "{test_env}"),
    params:
        rule=PLAN.filter_params(),
    threads: FILTER["threads"]
    log:
        log_of("filter_synthetic", "dataset", "variant", "test_env"),
    benchmark:
        benchmark_of("filter_synthetic", "dataset", "variant", "test_env")
    conda:
        CONDA_ENV
    script:
        "../scripts/filter_synthetic.py"


rule filter_summary:
    """Share kept per pair and per class; per dataset, kept and dropped examples per pair."""
    input:
        decisions=[layout.filter_decisions(*j) for j in PLAN.filter_jobs],
        shards=sorted({layout.tar_of(m) for j in PLAN.filter_jobs for m in PLAN.filter_manifests(*j)}),
    output:
        **{k: report(path, caption=f"../report/filtering_{k}.rst", category="Filtering")
           for k, path in FILTER_TABLES.items()},
        png=[report(p, caption="../report/filtering_examples.rst", category="Filtering")
             for p in FILTER_EXAMPLES["png"]],
        pdf=FILTER_EXAMPLES["pdf"],
    params:
        datasets=PLAN.filter_datasets(),
        examples=FILTER["examples"],
        resolution=FILTER["scorer"]["resolution"],
        seed=FILTER["scorer"]["seed"],
    log:
        log_of("filter_summary"),
    benchmark:
        benchmark_of("filter_summary")
    conda:
        CONDA_ENV
    script:
        "../scripts/filter_summary.py"
