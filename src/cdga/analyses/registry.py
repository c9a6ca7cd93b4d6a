"""The analyses of the selected models, a flat registry in the spirit of DomainBed's
algorithms (torch-free at import: the workflow reads it to build the DAG; torch is imported
where a job runs).

An analysis is one class. It declares its config block ``analyses.<name>`` (``SCHEMA``; its
``execution`` keys stay out of params), whether its jobs want a GPU, whether it runs ``per``
selected model or per (dataset, test domain) over all of them, the files each job writes
(``outputs``), how one job runs (``run``), and how its rows are summarised and drawn
(``summarize``, ``figures``; ``caption`` describes the summary table in the report). The
workflow derives from it the rule ``<name>``, the rule ``summarize_<name>``, the profiles'
GPU resources (``cdga.plan.gpu_rules``), the report captions and the summary's dispatch.

A new analysis: subclass ``Analysis``, decorate it with ``register`` (in a plugin file,
config key ``plugins``, or here) and add its block under ``analyses``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from cdga.core import execution


class Analysis:
    """One analysis (never instantiated: every method is a classmethod).

    ``per``: 'model' (one job per analysed model, wildcards dataset, method, test_env, level,
    trial) or 'domain' (one job per dataset and test domain, reading every analysed model of
    it). ``outputs``: job output name -> suffix of its path (cdga.core.layout). ``figures``: summary
    figure stem -> report caption. ``job_figure``: a caption when each job also draws its own
    figure (stem <name>_<wildcards>). ``caption``: the summary table's report caption; None
    when the analysis has no summary. ``subcategory``: its section in the report.
    """

    name: ClassVar[str]
    per: ClassVar[str] = "model"
    gpu: ClassVar[bool] = True
    execution: ClassVar[tuple[str, ...]] = ("batch_size",)
    SCHEMA: ClassVar[dict]
    outputs: ClassVar[dict[str, str]] = {"table": ".csv"}
    caption: ClassVar[str | None] = None
    figures: ClassVar[dict[str, str]] = {}
    job_figure: ClassVar[str | None] = None
    subcategory: ClassVar[str]

    @classmethod
    def job_inputs(cls, plan, wildcards: Mapping) -> dict[str, Any]:
        """The files one job reads: the selected model(s) and the split table."""
        from cdga.core import layout

        if cls.per == "model":
            models = plan.selected_model(**wildcards)
        else:
            models = [plan.selected_model(**r)
                      for r in plan.analysed_runs(wildcards["dataset"], wildcards["test_env"])]
        return {"model": models, "split": layout.split_table(wildcards["dataset"])}

    @classmethod
    def param_names(cls) -> tuple[str, ...]:
        """The keys of ``job_params`` (the rule's params beside ``settings``)."""
        return ("resolution", "runs") if cls.per == "domain" else ("resolution",)

    @classmethod
    def job_params(cls, plan, wildcards: Mapping) -> dict[str, Any]:
        """What one job reads beside its block: the training resolution (and for a per-domain
        analysis, the runs of its models)."""
        params = {"resolution": plan.config["training"]["resolution"]}
        if cls.per == "domain":
            params["runs"] = plan.analysed_runs(wildcards["dataset"], wildcards["test_env"])
        return params

    @classmethod
    def run(cls, job, log) -> None:
        """Compute one job's outputs; ``job`` is the rule's snakemake object."""
        raise NotImplementedError

    @classmethod
    def summarize(cls, tables: Mapping[str, Any], methods: list[str]):
        """(summary table, {figure stem: matplotlib figure}) from every job's outputs
        (``tables``: output name -> the jobs' rows concatenated)."""
        raise NotImplementedError


ANALYSES: dict[str, type[Analysis]] = {}


def register(cls: type[Analysis]) -> type[Analysis]:
    """Add an analysis class under its ``name`` (a class decorator); its execution keys join
    cdga.core.execution."""
    ANALYSES[cls.name] = cls
    execution.EXECUTION[f"analyses.{cls.name}"] = tuple(cls.execution)
    return cls


def get(name: str) -> type[Analysis]:
    """The registered analysis ``name``; KeyError names the known ones."""
    try:
        return ANALYSES[name]
    except KeyError:
        raise KeyError(f"unknown analysis {name!r}; known: {sorted(ANALYSES)}") from None


def add_schemas(schema: dict) -> None:
    """Each registered analysis's block in the schema's ``analyses`` (required)."""
    block = schema.get("properties", {}).get("analyses")
    if block is None:
        return
    for name, cls in ANALYSES.items():
        block["properties"][name] = cls.SCHEMA
        if name not in block["required"]:
            block["required"].append(name)


def context(job, name: str):
    """(device, settings, execution batch size) of an analysis job; sets torch's threads."""
    import torch

    from cdga.core import device

    torch.set_num_threads(job.threads)
    dev = device.resolve(job.config["device"])
    return dev, job.params.settings, job.config["analyses"][name]["batch_size"]


def _integer(minimum: int = 1) -> dict:
    return {"type": "integer", "minimum": minimum}


_SEED = {"$ref": "#/$defs/seed"}
_RUN_KEYS = ("dataset", "method", "test_env", "level", "trial")
_TRIALS_NOTE = ("The split is fixed across trials, so the error covers initialisation and "
                "minibatch sampling, not the split.")


def _cfg(name: str, key: str) -> str:
    return f'{{{{ snakemake.config["analyses"]["{name}"]["{key}"] }}}}'


@register
class Adversarial(Analysis):
    """FGSM and PGD accuracy of one selected model on its test domain (cdga.analyses.adversarial)."""

    name = "adversarial"
    subcategory = "Adversarial robustness"
    SCHEMA: ClassVar[dict] = {
        "type": "object", "additionalProperties": False,
        "required": ["attacks", "eps_255", "pgd_steps", "pgd_step_size", "images", "batch_size",
                     "seed"],
        "properties": {
            "attacks": {"type": "array", "minItems": 1, "uniqueItems": True,
                        "items": {"enum": ["fgsm", "pgd"]}},
            "eps_255": {"type": "array", "minItems": 1, "uniqueItems": True,
                        "items": {"type": "number", "minimum": 0, "maximum": 255}},
            "pgd_steps": _integer(), "pgd_step_size": {"type": "number", "exclusiveMinimum": 0,
                                                       "maximum": 2},
            "images": _integer(), "batch_size": _integer(), "seed": _SEED,
        },
    }
    caption = (
        "Adversarial robustness of the models selected by training-domain validation: one row "
        "per model (dataset, method, test domain, scale level, trial), attack and L-inf budget "
        "``eps`` (in pixel units, images in [0, 1] before normalisation), with the accuracy on a "
        f"seeded sample of {_cfg(name, 'images')} test-domain images. PGD uses "
        f"{_cfg(name, 'pgd_steps')} steps of {_cfg(name, 'pgd_step_size')} x eps from a random "
        "start; ``eps = 0`` is the clean accuracy.")
    figures: ClassVar[dict] = {"adversarial": (
        "Test-domain accuracy against the L-inf budget eps (in units of 1/255) under FGSM and "
        "PGD, one line per method. Accuracy is averaged over test domains within each trial; "
        "bands are standard errors over trials.")}

    @classmethod
    def run(cls, job, log) -> None:
        import pandas as pd

        from cdga.analyses import adversarial, probe
        from cdga.core import io

        dev, cfg, batch_size = context(job, cls.name)
        wc = job.wildcards
        rows = probe.real_rows(pd.read_csv(job.input.split), [wc.test_env], None)
        rows = probe.sample(rows, cfg["images"], cfg["seed"])
        batches = probe.load(rows, job.params.resolution, batch_size, dev)
        table = pd.DataFrame(adversarial.evaluate(probe.pixel_model(job.input.model, dev),
                                                  batches, cfg))
        table.insert(0, "images", len(rows))
        for i, key in enumerate(_RUN_KEYS):
            table.insert(i, key, wc[key])
        io.write_csv(job.output.table, table)
        log.info("%s", table[["attack", "eps", "acc"]].to_string(index=False))

    @classmethod
    def summarize(cls, tables, methods):
        from cdga.report import figures

        return tables["table"], {"adversarial": figures.adversarial(tables["table"], methods)}


@register
class Landscape(Analysis):
    """1-D/2-D loss surfaces and sharpness of one selected model, on training- and
    test-domain data (cdga.analyses.landscape)."""

    name = "landscape"
    subcategory = "Loss landscape"
    SCHEMA: ClassVar[dict] = {
        "type": "object", "additionalProperties": False,
        "required": ["images", "span", "points_1d", "points_2d", "radius", "radius_directions",
                     "power_iters", "batch_size", "seed"],
        "properties": {
            "images": _integer(), "span": {"type": "number", "exclusiveMinimum": 0},
            "points_1d": _integer(3), "points_2d": _integer(3),
            "radius": {"type": "number", "exclusiveMinimum": 0},
            "radius_directions": _integer(), "power_iters": _integer(),
            "batch_size": _integer(), "seed": _SEED,
        },
    }
    outputs: ClassVar[dict] = {"table": ".csv", "surface": "_surface.csv"}
    caption = (
        "Loss landscape summary per selected model and probe set (\"train domains\": real "
        "training-split images of the training domains; \"test domain\": the held-out domain), "
        f"each a seeded sample of {_cfg(name, 'images')} images per domain. ``loss`` is the "
        "cross-entropy at the trained weights, ``hessian_top_eig`` the top Hessian eigenvalue "
        f"({_cfg(name, 'power_iters')} power iterations with Hessian-vector products), "
        "``radius_sharpness`` the mean loss increase at alpha = +-``radius`` along "
        "filter-normalised random directions (Li et al. 2018). Larger means sharper.")
    figures: ClassVar[dict] = {
        "landscape_1d": (
            "1-D loss curves along a filter-normalised random direction (BatchNorm parameters "
            "and biases not perturbed), alpha = 0 being the trained model. Mean over test "
            "domains per trial; bands are standard errors over trials. Flatter, lower curves "
            f"mean a wider basin. {_TRIALS_NOTE}"),
        "landscape_2d": (
            "2-D loss contours along two filter-normalised random directions, one panel per "
            "method (the mean surface over test domains and trials), levels shared within a "
            "row; + marks the trained model."),
    }

    @classmethod
    def run(cls, job, log) -> None:
        import pandas as pd

        from cdga.analyses import landscape, probe
        from cdga.core import io

        dev, cfg, batch_size = context(job, cls.name)
        wc = job.wildcards
        split = pd.read_csv(job.input.split)
        train_envs = sorted(set(split["domain"]) - {wc.test_env})
        probes = {
            "train domains": probe.sample(probe.real_rows(split, train_envs, "train"),
                                          cfg["images"], cfg["seed"]),
            "test domain": probe.sample(probe.real_rows(split, [wc.test_env], None),
                                        cfg["images"], cfg["seed"]),
        }
        batches = {k: probe.load(v, job.params.resolution, batch_size, dev)
                   for k, v in probes.items()}
        surfaces, summary = landscape.analyse(probe.pixel_model(job.input.model, dev), batches, cfg)
        keys = {k: wc[k] for k in _RUN_KEYS}
        summary = pd.DataFrame([keys | row | {"images": len(probes[row["data"]])}
                                for row in summary])
        io.write_csv(job.output.table, summary)
        io.write_csv(job.output.surface, pd.DataFrame([keys | row for row in surfaces]))
        log.info("%s", summary.to_string(index=False))

    @classmethod
    def summarize(cls, tables, methods):
        from cdga.report import figures

        surfaces = tables["surface"]
        return tables["table"], {
            "landscape_1d": figures.landscape_1d(surfaces[surfaces["kind"] == "1d"], methods),
            "landscape_2d": figures.landscape_2d(surfaces[surfaces["kind"] == "2d"], methods),
        }


@register
class Shift(Analysis):
    """Transferability and diversity/correlation shift, training domains -> test domain, of
    every analysed model of a test domain (cdga.analyses.shift)."""

    name = "shift"
    per = "domain"
    subcategory = "Domain shift"
    SCHEMA: ClassVar[dict] = {
        "type": "object", "additionalProperties": False,
        "required": ["images", "radius", "steps", "lr", "pca_components", "kde_samples",
                     "eps_div", "eps_cor", "batch_size", "seed"],
        "properties": {
            "images": _integer(3), "radius": {"type": "number", "minimum": 0},
            "steps": _integer(0), "lr": {"type": "number", "exclusiveMinimum": 0},
            "pca_components": _integer(), "kde_samples": _integer(10),
            "eps_div": {"type": "number", "exclusiveMinimum": 0},
            "eps_cor": {"type": "number", "exclusiveMinimum": 0},
            "batch_size": _integer(), "seed": _SEED,
        },
    }
    caption = (
        "Domain shift from the training domains (their pooled real validation images, which "
        "the model was not fitted on) to the test domain (its real images), in each selected "
        "model's penultimate feature space. ``transfer``: Zhang et al. 2021's transferability, "
        "the largest test-minus-training loss gap over linear heads within radius "
        f"{_cfg(name, 'radius')} of the trained head (projected gradient ascent; "
        "``gap_at_head`` is the gap of the trained head itself). ``diversity`` and "
        "``correlation``: OoD-Bench's (Ye et al. 2022) shifts, estimated with Gaussian KDEs on "
        f"{_cfg(name, 'pca_components')} standardised PCA components of the features and "
        "importance sampling. Lower means less shift.")
    figures: ClassVar[dict] = {"shift": (
        "Transferability, diversity shift and correlation shift (training domains to test "
        "domain) per method: mean over test domains per trial; error bars are standard errors "
        f"over trials. {_TRIALS_NOTE}")}

    @classmethod
    def run(cls, job, log) -> None:
        import pandas as pd

        from cdga.analyses import embedding, probe, shift
        from cdga.core import io

        dev, cfg, batch_size = context(job, cls.name)
        res = job.params.resolution
        split = pd.read_csv(job.input.split)
        source, target = shift.probe_rows(split, job.wildcards.test_env, cfg["images"], cfg["seed"])
        source_batches = probe.load(source, res, batch_size, dev)
        target_batches = probe.load(target, res, batch_size, dev)
        rows = []
        for run, path in zip(job.params.runs, job.input.model, strict=True):
            model = probe.pixel_model(path, dev)
            result = shift.measure(model.model, embedding.extract_features(model, source_batches),
                                   embedding.extract_features(model, target_batches), cfg)
            rows.append(run | result | {"source_images": len(source),
                                        "target_images": len(target)})
            log.info("%s: %s", path, result)
        io.write_csv(job.output.table, pd.DataFrame(rows))

    @classmethod
    def summarize(cls, tables, methods):
        from cdga.report import figures

        return tables["table"], {"shift": figures.shift(tables["table"], methods)}


@register
class TSNE(Analysis):
    """t-SNE of penultimate features: real images by domain, the training set's synthetic
    images by pair (cdga.analyses.embedding); one map per dataset and test domain, no summary."""

    name = "tsne"
    per = "domain"
    subcategory = "t-SNE"
    SCHEMA: ClassVar[dict] = {
        "type": "object", "additionalProperties": False,
        "required": ["method", "synthetic_methods", "real_images", "synthetic_images",
                     "perplexity", "batch_size", "seed"],
        "properties": {
            "method": {"$ref": "#/$defs/method"},
            "synthetic_methods": {
                "description": "whose training-set synthetic images are shown; per dataset the "
                               "first that applies",
                "type": "array", "minItems": 1, "uniqueItems": True,
                "items": {"$ref": "#/$defs/synthetic_method"}},
            "real_images": _integer(2), "synthetic_images": _integer(),
            "perplexity": {"type": "number", "exclusiveMinimum": 0},
            "batch_size": _integer(), "seed": _SEED,
        },
    }
    outputs: ClassVar[dict] = {"points": ".csv"}
    job_figure = (
        f"t-SNE of penultimate features of the {_cfg(name, 'method')} model (trial 0) for this "
        "test domain: real images coloured by domain (the test domain outlined), and the "
        f"synthetic images that the first of {_cfg(name, 'synthetic_methods')} the dataset has "
        "trains on, coloured by their (source -> target) domain pair. Synthetic images lying "
        "between domain clusters \"fill the gap\" between domains, as the paper argues.")

    @classmethod
    def synthetic_method(cls, plan, dataset: str) -> str:
        """The first of tsne.synthetic_methods that the dataset's variants allow."""
        from cdga.core import methods

        return methods.first_runnable(plan.config["analyses"][cls.name]["synthetic_methods"],
                                      plan.settings(dataset)["variants"])

    @classmethod
    def job_inputs(cls, plan, wildcards):
        from cdga.core import layout

        method = plan.config["analyses"][cls.name]["method"]
        synth = cls.synthetic_method(plan, wildcards["dataset"])
        ds, env = wildcards["dataset"], wildcards["test_env"]
        return {"model": plan.selected_model(ds, method, env, plan.main_level(method), 0),
                "split": layout.split_table(ds),
                "assembly": layout.assembly_manifest(ds, synth, env, plan.main_level(synth))}

    @classmethod
    def param_names(cls) -> tuple[str, ...]:
        return ("resolution", "synthetic_method")

    @classmethod
    def job_params(cls, plan, wildcards):
        return {"resolution": plan.config["training"]["resolution"],
                "synthetic_method": cls.synthetic_method(plan, wildcards["dataset"])}

    @classmethod
    def run(cls, job, log) -> None:
        import pandas as pd

        from cdga.analyses import embedding, probe
        from cdga.core import io
        from cdga.report import figures

        dev, cfg, batch_size = context(job, cls.name)
        wc = job.wildcards
        real = probe.sample(pd.read_csv(job.input.split), cfg["real_images"], cfg["seed"])
        assembly = pd.read_csv(job.input.assembly, keep_default_na=False)
        synthetic = assembly[(assembly["origin"] == "synthetic") & (assembly["role"] == "train")]
        synthetic = probe.sample(synthetic.assign(pair=synthetic["source_domain"] + "--"
                                                  + synthetic["target_domain"]),
                                 cfg["synthetic_images"], cfg["seed"], by="pair")
        points = embedding.tsne_points(probe.pixel_model(job.input.model, dev), real, synthetic,
                                       wc.test_env, job.params.resolution, batch_size,
                                       cfg["perplexity"], cfg["seed"], dev)
        io.write_csv(job.output.points, points)
        title = (f"{wc.dataset}, test domain {wc.test_env}: {cfg['method']} features, "
                 f"{job.params.synthetic_method} synthetic images")
        figures.save(figures.tsne(points, title), job.output.png, job.output.pdf)
        log.info("embedded %d real and %d synthetic images", len(real), len(synthetic))
