"""Every job a study config asks for, what each reads, and its params (torch-free).

``Plan(config)`` answers, once per DAG (its tables are cached): which generation shards exist
(only the pairs some training run reads), which filter and assembly jobs, which training runs
(with their hyperparameter draws), which models are analysed, and the params of each job,
which hold only what that job reads: never an execution setting (``cdga.core.execution``). Paths
come from ``cdga.core.layout``; ``workflow/rules/common.smk`` is thin glue over this.
"""

from __future__ import annotations

import functools
import os.path
import re
from collections.abc import Mapping
from typing import Any

from cdga.analyses import registry as analysis
from cdga.core import execution, hparams, layout, methods, registry
from cdga.data.shards import storage_settings
from cdga.generation import variants

# The rules whose jobs compute on a GPU when there is one (the profiles give each a GPU); the
# analyses add theirs (cdga.analyses.registry: gpu).
GPU_RULES = ("train_demo_ldm", "generate", "generation_quality", "filter_scorer",
             "filter_synthetic", "train")


def gpu_rules() -> list[str]:
    """Every GPU rule: the stages' and the registered analyses' with ``gpu``."""
    return [*GPU_RULES, *(name for name, a in analysis.ANALYSES.items() if a.gpu)]


def filter_rule_keys(filtering: Mapping) -> tuple[str, ...]:
    """The filtering keys a filter_synthetic job reads: the rule and the active rule's value."""
    return ("rule", filtering["rule"])


class Plan:
    """The jobs of one study config (validated: cdga.config)."""

    def __init__(self, config: Mapping):
        self.config = config
        self.root = config["datasets_root"]

    # ------------------------------------------------------------ datasets
    @property
    def datasets(self) -> list[str]:
        return list(self.config["datasets"])

    def settings(self, dataset: str) -> Mapping:
        """The config block of one dataset."""
        return self.config["dataset_settings"][dataset]

    @functools.cache  # noqa: B019  (one Plan per DAG)
    def entry(self, dataset: str) -> registry.Dataset:
        """The registry entry of a configured dataset: built in, or defined by its block."""
        return registry.resolve(dataset, self.settings(dataset), self.root)

    def domains(self, dataset: str) -> tuple[str, ...]:
        return self.entry(dataset).domains

    def test_envs(self, dataset: str) -> list[str]:
        return list(self.settings(dataset)["test_envs"])

    def test_env_pairs(self) -> list[tuple[str, str]]:
        return [(ds, t) for ds in self.datasets for t in self.test_envs(ds)]

    def dataset_pattern(self) -> str:
        """The {dataset} wildcard: the configured names, longest first (names hold '_')."""
        return "|".join(re.escape(d) for d in sorted(self.datasets, key=len, reverse=True))

    def dataset_input(self, dataset: str) -> str:
        """What stands for a dataset on disk: the prepare marker of one cdga.data.download fetches,
        else its folder (already there, or made by make_demo_digits)."""
        if self.entry(dataset).arranger:
            return layout.prepared_marker(dataset)
        return layout.dataset_dir(self.root, dataset)

    def ldm_inputs(self) -> list[str]:
        """The demo LDM directory when ldm.model names it (train_demo_ldm runs first); else
        nothing: a hub id or another directory is read as it is."""
        model = os.path.normpath(self.config["ldm"]["model"])
        return [layout.demo_ldm()] if model == os.path.normpath(layout.demo_ldm()) else []

    # ------------------------------------------------------------ methods and levels
    def dataset_methods(self, dataset: str) -> list[str]:
        """The configured methods that apply to ``dataset`` (its generation variants)."""
        own = self.settings(dataset)["variants"]
        return [m for m in self.config["methods"] if methods.runs_on(m, own)]

    def variant(self, dataset: str, method: str) -> str | None:
        return methods.variant(method, self.settings(dataset)["variants"])

    def levels(self, method: str) -> list[int]:
        """Scale levels a method runs at: 0 real-only, else the default (+ scaling levels)."""
        if methods.method(method).synthetic is None:
            return [0]
        scaling = self.config["scaling"]
        extra = scaling["levels"] if method in scaling["methods"] else []
        return sorted({scaling["default_level"], *extra})

    def main_level(self, method: str) -> int:
        synthetic = methods.method(method).synthetic is not None
        return self.config["scaling"]["default_level"] if synthetic else 0

    # ------------------------------------------------------------ generation
    def shard_count(self, dataset: str) -> int:
        """Shards per (variant, pair, rep): the dataset's own ``shards``, else generation's."""
        return self.settings(dataset).get("shards", self.config["generation"]["shards"])

    def manifests(self, dataset: str, variant: str, pairs, reps: int) -> list[str]:
        """Shard manifests of ordered domain ``pairs``, reps 0..reps-1, every shard."""
        return [layout.synthetic_manifest(dataset, variant, src, tgt, rep, shard)
                for src, tgt in pairs for rep in range(reps)
                for shard in range(self.shard_count(dataset))]

    @functools.cache  # noqa: B019
    def generation_shards(self, dataset: str) -> list[str]:
        """Every shard tar a dataset's runs read: the pairs of its configured methods over its
        test domains, reps 0..images_per_pair-1."""
        own = self.settings(dataset)
        families = methods.generation_pairs(self.config["methods"], self.domains(dataset),
                                            own["variants"], own["test_envs"])
        reps = self.config["generation"]["images_per_pair"]
        return [layout.tar_of(m) for v, src, tgt in families
                for m in self.manifests(dataset, v, [(src, tgt)], reps)]

    def generated_datasets(self) -> list[str]:
        """The configured datasets that have synthetic images to make (and to score)."""
        return [ds for ds in self.datasets if self.generation_shards(ds)]

    @functools.cache  # noqa: B019
    def generate_params(self, dataset: str, variant: str, tgt: str) -> dict[str, Any]:
        """What one generation job reads: its prompt's dataset settings, the generation keys
        shared by every variant plus its own variant's block, the storage keys (none for PNG),
        the shard count, the LDM."""
        gen = self.config["generation"]
        storage = ("image_format", "image_quality")
        shared = execution.job_block("generation", gen, *variants.VARIANTS, *storage)
        return {
            "settings": variants.get(variant).prompt_settings(self.settings(dataset), tgt),
            "generation": {**shared, variant: gen[variant], **storage_settings(gen)},
            "shards": self.shard_count(dataset),
            "ldm": self.config["ldm"],
        }

    # ------------------------------------------------------------ filtering
    def filtered_methods(self, dataset: str, variant: str) -> list[str]:
        """The configured filtered methods on ``dataset`` with generation ``variant``."""
        return [m for m in self.dataset_methods(dataset)
                if methods.method(m).filtered and self.variant(dataset, m) == variant]

    @functools.cached_property
    def filter_jobs(self) -> list[tuple[str, str, str]]:
        """(dataset, variant, test domain) of every filter job a configured run reads."""
        return [(ds, v, t) for ds in self.datasets for v in self.settings(ds)["variants"]
                if self.filtered_methods(ds, v) for t in self.test_envs(ds)]

    def filter_datasets(self) -> list[str]:
        return list(dict.fromkeys(ds for ds, _, _ in self.filter_jobs))

    @functools.cache  # noqa: B019
    def filter_manifests(self, dataset: str, variant: str, test_env: str) -> list[str]:
        """The manifests one filter job scores: its filtered methods' pairs at this test
        domain, reps 0 .. their highest scale level - 1."""
        names = self.filtered_methods(dataset, variant)
        if not names:
            raise ValueError(f"no configured filtered method runs on {dataset} with variant "
                             f"{variant!r}")
        reps = max(max(self.levels(m)) for m in names)
        self._check_level(reps, names)
        pairs = dict.fromkeys(p for m in names
                              for p in methods.synthetic_pairs(m, self.domains(dataset), test_env))
        return self.manifests(dataset, variant, list(pairs), reps)

    def filter_params(self) -> dict[str, Any]:
        """filter_synthetic's params: the keep rule and its own value only."""
        block = self.config["filtering"]
        return {k: block[k] for k in filter_rule_keys(block)}

    # ------------------------------------------------------------ assembly
    def _check_level(self, level: int, what) -> None:
        most = self.config["generation"]["images_per_pair"]
        if level > most:
            raise ValueError(f"scale level {level} (config scaling) of {what} exceeds "
                             f"generation.images_per_pair {most}")

    @functools.cache  # noqa: B019
    def assembly_synthetic(self, dataset: str, method: str, test_env: str, level: int) -> list[str]:
        """The shard manifests an assembly job reads: its method's variant and pairs (never the
        test domain), reps 0..level-1."""
        variant = self.variant(dataset, method)
        if (variant is None) != (level == 0):
            raise ValueError(f"method {method!r} runs at scale level "
                             f"{'0' if variant is None else '>= 1'}, not {level}")
        if variant is None:
            return []
        self._check_level(level, method)
        pairs = methods.synthetic_pairs(method, self.domains(dataset), test_env)
        return self.manifests(dataset, variant, pairs, level)

    def assembly_keep(self, dataset: str, method: str, test_env: str) -> list[str]:
        """The keep list a filtered method's assembly applies; none for other methods."""
        if not methods.method(method).filtered:
            return []
        return [layout.filter_decisions(dataset, self.variant(dataset, method), test_env)]

    # ------------------------------------------------------------ training
    @functools.cache  # noqa: B019
    def runs(self, main_only: bool = False) -> list[dict[str, Any]]:
        """Wildcards of every training run (main_only: at each method's main level), each
        with the defaults (draw '') and every hyperparameter draw (training.hparam_draws)."""
        training = self.config["training"]
        return [{"dataset": ds, "method": m, "test_env": env, "level": level, "trial": trial,
                     "draw": layout.draw_part(k)}
                for ds in self.datasets for m in self.dataset_methods(ds)
                for env in self.test_envs(ds)
                for level in ([self.main_level(m)] if main_only else self.levels(m))
                for trial in range(training["trials"])
                for k in range(training["hparam_draws"] + 1)]

    def training_results(self, main_only: bool = False) -> list[str]:
        return [layout.run_records(**r) for r in self.runs(main_only)]

    def training_params(self, dataset: str, method: str, trial: int, draw: str) -> dict[str, Any]:
        """What one train job reads of the training block (cdga.core.hparams.job_settings): its
        algorithm's (drawn) hyperparameters, synthetic_ratio only with synthetic images, no
        execution setting; a dataset's own checkpoint_freq (DomainBed: 1000 for its largest)."""
        spec = methods.method(method)
        own = hparams.job_settings(self.config["training"], spec.algorithm,
                                   spec.synthetic is not None, layout.draw_seed(draw), int(trial))
        if "checkpoint_freq" in self.settings(dataset):
            own["checkpoint_freq"] = self.settings(dataset)["checkpoint_freq"]
        return own

    # ------------------------------------------------------------ analyses
    def analysed_runs(self, dataset: str | None = None, test_env: str | None = None
                      ) -> list[dict[str, Any]]:
        """Wildcards of the analysed models: analyses.methods x test domains x first trials."""
        cfg = self.config["analyses"]
        trials = min(cfg["trials"], self.config["training"]["trials"])
        return [{"dataset": ds, "method": m, "test_env": t, "level": self.main_level(m), "trial": k}
                for ds in self.datasets if dataset in (None, ds)
                for m in cfg["methods"]
                if m in self.config["methods"] and methods.runs_on(m, self.settings(ds)["variants"])
                for t in self.test_envs(ds) if test_env in (None, t)
                for k in range(trials)]

    def analyses(self) -> list[str]:
        """The registered analyses the config has a block for, in registry order."""
        return [name for name in analysis.ANALYSES if name in self.config["analyses"]]

    def analysis_jobs(self, name: str) -> list[dict[str, Any]]:
        """Wildcards of one analysis's jobs: per analysed model, or per (dataset, test domain)."""
        if analysis.get(name).per == "model":
            return self.analysed_runs()
        return [{"dataset": ds, "test_env": t} for ds, t in self.test_env_pairs()]

    def analysis_params(self, name: str) -> dict[str, Any]:
        """An analysis job's settings: its own block without its execution settings."""
        return execution.job_block(f"analyses.{name}", self.config["analyses"][name])

    def selected_model(self, dataset, method, test_env, level, trial) -> str:
        """The weights training-domain validation kept: what the analyses examine."""
        return layout.run_model(dataset, method, test_env, level, trial)
