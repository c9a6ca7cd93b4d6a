"""Validate a study config against the JSON schema and the registries (datasets, methods)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from cdga import filtering, methods, registry


class ConfigError(ValueError):
    """A config value is missing, unknown or invalid; the message names the key and value."""


def _key(path: Any) -> str:
    return ".".join(str(p) for p in path) or "<root>"


def registry_defs() -> dict[str, dict]:
    """The schema's $defs of registered names: methods, synthetic methods, filter rules,
    dataset names and the datasets cdga.download can fetch."""
    return {
        "method": {"enum": list(methods.METHODS)},
        "synthetic_method": {"enum": [m for m, spec in methods.METHODS.items() if spec.synthetic]},
        "filter_rule": {"enum": list(filtering.RULES)},
        "dataset_name": {"type": "string", "pattern": f"^{registry.NAME.pattern}$"},
        "downloadable": {"enum": registry.downloadable()},
    }


def load_schema(path: str | Path) -> dict:
    """Read the YAML JSON-schema and add the registries' $defs (``registry_defs``)."""
    with open(path) as fh:
        schema = yaml.safe_load(fh)
    schema.setdefault("$defs", {}).update(registry_defs())
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
    """Checks the schema cannot express: names that must match the dataset registry."""
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
        if "pg" in ds.get("variants", []):
            missing = [d for d in known if d not in ds.get("descriptions", {})]
            if missing:
                messages.append(
                    f"config key {key}.descriptions: variant 'pg' needs a description "
                    f"for every domain, missing {missing}"
                )
            if "prompt_template" not in ds:
                messages.append(f"config key {key}.prompt_template: required by variant 'pg'")
        if "ig" in ds.get("variants", []) and "class_prompt_template" not in ds:
            messages.append(f"config key {key}.class_prompt_template: required by variant 'ig'")
    return messages


def validate(config: Mapping, schema_path: str | Path) -> None:
    """Raise ConfigError listing every problem in ``config``; return None when it is valid."""
    messages = schema_errors(config, load_schema(schema_path))
    if not messages:
        messages = registry_errors(config)
    if messages:
        raise ConfigError("invalid config:\n  " + "\n  ".join(messages))
