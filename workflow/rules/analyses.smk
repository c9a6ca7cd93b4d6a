# Stage 6: the paper's analyses of the selected models (training-domain validation), one
# class each (cdga.analysis): per analysis a rule <name> (one job per analysed model, or per
# dataset and test domain) and, when it has a summary, summarize_<name> gathering its rows into
# a summary table and figures. Each job gets only its own block without its execution
# settings, so editing one analysis's settings reruns that analysis alone. Then the
# data-scaling figure.

TARGETS += [layout.figure("scaling")]


def analysis_rule(name):
    """The rule <name> and summarize_<name> of one registered analysis."""
    spec = analysis.get(name)
    keys = (["dataset", "method", "test_env", "level", "trial"] if spec.per == "model"
            else ["dataset", "test_env"])
    outputs = {key: layout.analysis_output(name, suffix, **wildcards_of(*keys))
               for key, suffix in spec.outputs.items()}
    if spec.job_figure:
        drawn = layout.analysis_figure(name, "png", **wildcards_of(*keys))
        outputs["png"] = report(drawn, caption=caption(name, spec.job_figure),
                                category="Analyses", subcategory=spec.subcategory)
        outputs["pdf"] = layout.analysis_figure(name, "pdf", **wildcards_of(*keys))
    jobs = PLAN.analysis_jobs(name)

    rule:
        name:
            name
        input:
            unpack(lambda wc: spec.job_inputs(PLAN, job(wc))),
        output:
            **outputs,
        params:
            settings=PLAN.analysis_params(name),
            **{key: (lambda wc, key=key: spec.job_params(PLAN, job(wc))[key])
               for key in spec.job_params(PLAN, jobs[0] if jobs else {})},
        threads: config["analyses"]["threads"]
        log:
            log_of(name, *keys),
        benchmark:
            benchmark_of(name, *keys)
        conda:
            CONDA_ENV
        script:
            "../scripts/analysis.py"

    global TARGETS
    if spec.job_figure:
        TARGETS += [layout.analysis_figure(name, "png", **j) for j in jobs]
    if spec.caption is None:
        return
    TARGETS.append(layout.summary(name))

    rule:
        name:
            f"summarize_{name}"
        input:
            **{key: [layout.analysis_output(name, suffix, **j) for j in jobs]
               for key, suffix in spec.outputs.items()},
        output:
            table=report(layout.summary(name), caption=caption(name, spec.caption),
                         category="Analyses", subcategory=spec.subcategory),
            **{stem: figure(stem, caption(f"{stem}_figure", text), "Analyses", spec.subcategory)
               for stem, text in spec.figures.items()},
        params:
            methods=config["analyses"]["methods"],
        localrule: True  # seconds long: on the submit host under a cluster executor
        log:
            log_of(f"summarize_{name}"),
        benchmark:
            benchmark_of(f"summarize_{name}")
        conda:
            CONDA_ENV
        script:
            "../scripts/summarize_analysis.py"


for _name in PLAN.analyses():
    analysis_rule(_name)


rule scaling_figure:
    """The data-scaling figure from the scaling table (written by rule tables)."""
    input:
        layout.summary("scaling"),
    output:
        figure=figure("scaling", "../report/scaling_figure.rst", "Analyses", "Data scaling"),
    params:
        methods=["erm", *config["scaling"]["methods"]],
    log:
        log_of("scaling_figure"),
    benchmark:
        benchmark_of("scaling_figure")
    conda:
        CONDA_ENV
    script:
        "../scripts/scaling_figure.py"
