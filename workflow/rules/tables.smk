# Stage 5: accuracy tables (DomainBed style), the cross-dataset overview and the scaling data.

SUMMARY = f"{RESULTS}/summary"
TABLES = {
    "accuracy_csv": f"{SUMMARY}/accuracy.csv",
    "accuracy_md": f"{SUMMARY}/accuracy.md",
    "accuracy_tex": f"{SUMMARY}/accuracy.tex",
    "overview_csv": f"{SUMMARY}/overview.csv",
    "overview_md": f"{SUMMARY}/overview.md",
    "overview_tex": f"{SUMMARY}/overview.tex",
    "scaling_csv": f"{SUMMARY}/scaling.csv",
}

TARGETS += list(TABLES.values())

# Tables shown in the HTML report, with their captions.
REPORTED_TABLES = {"accuracy_csv": "accuracy", "overview_csv": "overview", "scaling_csv": "scaling_table"}


rule tables:
    """Select each run's checkpoints, then aggregate over trials into the result tables."""
    input:
        main=training_results(main_only=True),
        every=training_results(main_only=False),
        filter_empty=[FILTER_TABLES["empty"]] if filter_jobs() else [],
    output:
        **{
            key: report(path, caption=f"../report/{REPORTED_TABLES[key]}.rst", category="Results")
            if key in REPORTED_TABLES
            else path
            for key, path in TABLES.items()
        },
    params:
        test_envs={ds: settings(ds)["test_envs"] for ds in config["datasets"]},
        methods=config["methods"],
    log:
        f"{LOGS}/tables/tables.log",
    benchmark:
        f"{BENCH}/tables/tables.tsv"
    conda:
        CONDA_ENV
    script:
        "../scripts/tables.py"
