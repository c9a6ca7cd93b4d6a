# Stage 5: accuracy tables (DomainBed style), the cross-dataset overview and the scaling data.

TABLES = {f"{name}_{ext}": layout.summary(name, ext)
          for name in ("accuracy", "overview") for ext in ("csv", "md", "tex")}
TABLES["scaling_csv"] = layout.summary("scaling")
# Tables shown in the HTML report, with their captions.
REPORTED_TABLES = {"accuracy_csv": "accuracy", "overview_csv": "overview", "scaling_csv": "scaling_table"}

TARGETS += list(TABLES.values())


rule tables:
    """Select each run's checkpoints, then aggregate over trials into the result tables."""
    input:
        main=PLAN.training_results(main_only=True),
        every=PLAN.training_results(main_only=False),
        filter_empty=[FILTER_TABLES["empty"]] if PLAN.filter_jobs else [],
    output:
        **{
            key: report(path, caption=f"../report/{REPORTED_TABLES[key]}.rst", category="Results")
            if key in REPORTED_TABLES
            else path
            for key, path in TABLES.items()
        },
    params:
        test_envs={ds: PLAN.test_envs(ds) for ds in PLAN.datasets},
        methods=config["methods"],
    log:
        log_of("tables"),
    benchmark:
        benchmark_of("tables")
    conda:
        CONDA_ENV
    script:
        "../scripts/tables.py"
