# Stage 2c: the filter of the methods *_filtered (cdga.filtering), between generation and
# assembly. Per (dataset, test domain) a class classifier trained on the real training split of
# the training domains only; per (dataset, variant, test domain) the scores and keep/drop
# decision of every synthetic image those methods' runs read.

FILTER = config["filtering"]
# Execution settings (eval_batch_size, num_workers, threads) stay out of params: the scripts
# read them from the config, so editing them reruns nothing.
FILTER_RULE_KEYS = ("rule", FILTER["rule"])  # the active rule's own value only


FILTER_TABLES = {k: f"{RESULTS}/summary/filtering_{k}.csv" for k in ("pairs", "classes", "empty")}


if filter_jobs():
    TARGETS += [*FILTER_TABLES.values()]
    TARGETS += [f"{FIGURES}/filtering_examples_{ds}.{ext}" for ds in filter_datasets()
                for ext in ("png", "pdf")]


rule filter_scorer:
    """Train the filter's class classifier of one test domain on the real training split of
    the other domains (leakage-checked)."""
    input:
        split=lambda wc: split_table(wc.dataset),
    output:
        **filter_scorer("{dataset}", "{test_env}"),
    params:
        scorer=FILTER["scorer"],
    threads: FILTER["threads"]
    log:
        f"{LOGS}/filter/{{dataset}}/{{test_env}}/scorer.log",
    benchmark:
        f"{BENCH}/filter/filter_scorer_{{dataset}}_{{test_env}}.tsv"
    conda:
        CONDA_ENV
    script:
        "../scripts/filter_scorer.py"


rule filter_synthetic:
    """Score one variant's synthetic images of a test domain's pairs; keep or drop each."""
    input:
        unpack(lambda wc: filter_scorer(wc.dataset, wc.test_env)),
        split=lambda wc: split_table(wc.dataset),
        shards=lambda wc: [p[:-4] + ".tar" for p in filter_job_manifests(wc)],
        manifests=filter_job_manifests,
    output:
        filter_decisions("{dataset}", "{variant}", "{test_env}"),
    params:
        rule={k: FILTER[k] for k in FILTER_RULE_KEYS},
    threads: FILTER["threads"]
    log:
        f"{LOGS}/filter/{{dataset}}/{{test_env}}/{{variant}}.log",
    benchmark:
        f"{BENCH}/filter/filter_synthetic_{{dataset}}_{{variant}}_{{test_env}}.tsv"
    conda:
        CONDA_ENV
    script:
        "../scripts/filter_synthetic.py"


rule filter_summary:
    """Share kept per pair and per class; per dataset, kept and dropped examples per pair."""
    input:
        decisions=[filter_decisions(*job) for job in filter_jobs()],
        shards=sorted({p[:-4] + ".tar" for job in filter_jobs() for p in filter_manifests(*job)}),
    output:
        **{k: report(path, caption=f"../report/filtering_{k}.rst", category="Filtering")
           for k, path in FILTER_TABLES.items()},
        png=[report(f"{FIGURES}/filtering_examples_{ds}.png",
                    caption="../report/filtering_examples.rst", category="Filtering")
             for ds in filter_datasets()],
        pdf=[f"{FIGURES}/filtering_examples_{ds}.pdf" for ds in filter_datasets()],
    params:
        datasets=filter_datasets(),
        examples=FILTER["examples"],
        resolution=FILTER["scorer"]["resolution"],
        seed=FILTER["scorer"]["seed"],
    log:
        f"{LOGS}/filter/filter_summary.log",
    benchmark:
        f"{BENCH}/filter/filter_summary.tsv"
    conda:
        CONDA_ENV
    script:
        "../scripts/filter_summary.py"
