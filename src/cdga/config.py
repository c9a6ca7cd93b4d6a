"""Validate a study config against the JSON schema and the registries (datasets, methods,
generation variants)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from cdga.analyses import registry as analysis
from cdga.core import hparams, methods, registry
from cdga.core.schedulers import SCHEDULERS
from cdga.data.shards import IMAGE_FORMATS
from cdga.filtering import keep as filtering
from cdga.generation import variants


class ConfigError(ValueError):
    """A config value is missing, unknown or invalid; the message names the key and value."""


def _key(path: Any) -> str:
    return ".".join(str(p) for p in path) or "<root>"


def registry_defs() -> dict[str, dict]:
    """The schema's $defs of registered names: methods, synthetic methods, filter rules,
    dataset names, the datasets cdga.data.download can fetch, the generation variants, the
    schedulers and the shard image formats."""
    return {
        "variant": {"enum": list(variants.VARIANTS)},
        "method": {"enum": list(methods.METHODS)},
        "synthetic_method": {"enum": [m for m, spec in methods.METHODS.items() if spec.synthetic]},
        "filter_rule": {"enum": list(filtering.RULES)},
        "dataset_name": {"type": "string", "pattern": f"^{registry.NAME.pattern}$"},
        "downloadable": {"enum": registry.downloadable()},
        "scheduler": {"enum": list(SCHEDULERS)},
        "image_format": {"enum": list(IMAGE_FORMATS)},
    }


def add_variants(schema: dict) -> None:
    """Each registered variant's schema parts: its ``generation.<name>`` block (required) and
    the dataset settings it reads (its prompt template)."""
    generation = schema.get("properties", {}).get("generation")
    dataset = schema["$defs"].get("dataset", {}).get("properties")
    for name, kind in variants.VARIANTS.items():
        if generation is not None:
            generation["properties"][name] = kind.block_schema()
            generation["required"].append(name)
        if dataset is not None:
            dataset.update(kind.DATASET_SCHEMA)


def add_hparams(schema: dict) -> None:
    """A ``training`` key for each registered algorithm's hyperparameter the schema lacks (a
    plugin's algorithm, cdga.core.plugins): its value is that hyperparameter's default."""
    training = schema.get("properties", {}).get("training", {}).get("properties", {})
    for algorithm, specs in hparams.ALGORITHM_HPARAMS.items():
        for spec in specs:
            training.setdefault(spec.key, {"description": f"hyperparameter of {algorithm}"})


def load_schema(path: str | Path) -> dict:
    """Read the YAML JSON-schema and add the registries' parts (``registry_defs``, the
    variants' blocks, the algorithms' hyperparameters, the analyses' blocks)."""
    with open(path) as fh:
        schema = yaml.safe_load(fh)
    schema.setdefault("$defs", {}).update(registry_defs())
    add_variants(schema)
    add_hparams(schema)
    analysis.add_schemas(schema)
    return schema


def schema_errors(config: Mapping, schema: Mapping) -> list[str]:
    """Every schema violation as 'config key <k>: <value>: <reason>', in document order."""
    validator = jsonschema.Draft202012Validator(schema)
    messages = []
    for err in sorted(validator.iter_errors(config), key=lambda e: list(map(str, e.absolute_path))):
        if err.validator == "additionalProperties":
            extra = sorted(set(err.instance) - set(err.schema.get("properties", {})))
            messages.append(f"config key {_key(err.absolute_path)}: unknown key(s) {extra}")
        elif err.validator == "required":
            messages.append(f"config key {_key(err.absolute_path)}: {err.message}")
        else:
            messages.append(
                f"config key {_key(err.absolute_path)}: bad value {err.instance!r}: {err.message}"
            )
    return messages


def registry_errors(config: Mapping) -> list[str]:
    """Checks the schema cannot express: names that must match the dataset registry, what
    each dataset's variants need of its block, the variants' own options."""
    messages = []
    settings = config.get("dataset_settings", {})
    for name in config.get("datasets", []):
        if name not in settings:
            messages.append(f"config key dataset_settings.{name}: missing for dataset {name!r}")
            continue
        ds = settings[name]
        key = f"dataset_settings.{name}"
        try:
            known = registry.resolve(name, ds, config.get("datasets_root", ".")).domains
        except ValueError as exc:
            messages.append(str(exc))
            continue
        for env in ds.get("test_envs", []):
            if env not in known:
                messages.append(
                    f"config key {key}.test_envs: unknown domain {env!r}; {name} has {list(known)}"
                )
        for env in ds.get("descriptions", {}):
            if env not in known:
                messages.append(
                    f"config key {key}.descriptions: unknown domain {env!r}; "
                    f"{name} has {list(known)}"
                )
        for variant in ds.get("variants", []):
            messages += variants.get(variant).dataset_errors(key, ds, known)
    blocks = config.get("generation", {})
    for variant, kind in variants.VARIANTS.items():
        if variant not in blocks:
            continue
        own = {k: v for k, v in blocks[variant].items() if k not in variants.IMG2IMG_SCHEMA}
        try:
            kind.options(own)
        except ValueError as exc:
            messages.append(f"config key generation.{variant}: {exc}")
    return messages


def validate(config: Mapping, schema_path: str | Path) -> None:
    """Raise ConfigError listing every problem in ``config``; return None when it is valid."""
    messages = schema_errors(config, load_schema(schema_path))
    if not messages:
        messages = registry_errors(config)
    if messages:
        raise ConfigError("invalid config:\n  " + "\n  ".join(messages))
