# Stage 6: the paper's analyses of the selected models (training-domain validation), one
# class each (cdga.analyses.registry): per analysis a rule <name> (one job per analysed model, or per
# dataset and test domain) and, when it has a summary, summarize_<name> gathering its rows into
# a summary table and figures. Each job gets only its own block without its execution
# settings, so editing one analysis's settings reruns that analysis alone. Then the
# data-scaling figure.

TARGETS += [layout.figure("scaling")]


for _name in PLAN.analyses():
    _spec = analysis.get(_name)
    _keys = analysis_keys(_name)
    _jobs = PLAN.analysis_jobs(_name)
    TARGETS += analysis_targets(_name)

    rule:
        name:
            _name
        input:
            unpack(lambda wc, spec=_spec: spec.job_inputs(PLAN, job(wc))),
        output:
            **analysis_job_outputs(_name),
        params:
            settings=PLAN.analysis_params(_name),
            **{key: (lambda wc, spec=_spec, key=key: spec.job_params(PLAN, job(wc))[key])
               for key in _spec.param_names()},
        threads: config["analyses"]["threads"]
        log:
            log_of(_name, *_keys),
        benchmark:
            benchmark_of(_name, *_keys)
        conda:
            CONDA_ENV
        script:
            "../scripts/analysis.py"

    if _spec.caption is not None:

        rule:
            name:
                f"summarize_{_name}"
            input:
                **{key: [layout.analysis_output(_name, suffix, **j) for j in _jobs]
                   for key, suffix in _spec.outputs.items()},
            output:
                **analysis_summary_outputs(_name),
            params:
                methods=config["analyses"]["methods"],
            localrule: True  # seconds long: on the submit host under a cluster executor
            log:
                log_of(f"summarize_{_name}"),
            benchmark:
                benchmark_of(f"summarize_{_name}")
            conda:
                CONDA_ENV
            script:
                "../scripts/summarize_analysis.py"


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
