"""Generation variants as registered classes (cdga.generation.variants): the schema, wildcard and config
checks derive from the registry, and the values a variant records are those the shards were
made with before the variants became classes (a finished study does not rerun)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from conftest import REPO

from cdga import config
from cdga.generation import variants
from cdga.generation.generate import GenerationParams

SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"
GENERATION = yaml.safe_load((REPO / "config" / "config.yaml").read_text())["generation"]


def test_the_schema_holds_every_registered_variant_and_its_block() -> None:
    schema = config.load_schema(SCHEMA)
    assert schema["$defs"]["variant"]["enum"] == list(variants.VARIANTS) == ["pg", "ig"]
    generation = schema["properties"]["generation"]
    for name, kind in variants.VARIANTS.items():
        assert name in generation["required"]
        assert set(generation["properties"][name]["required"]) == {"strength", "guidance_scale",
                                                                   *kind.SCHEMA}
        assert kind.TEMPLATE in schema["$defs"]["dataset"]["properties"]
    text = SCHEMA.read_text()
    assert not re.search(r"\b(pg|ig)\b", text.split("properties:", 1)[1])  # no name repeated


def test_the_variant_wildcard_derives_from_the_registry() -> None:
    rules = (REPO / "workflow" / "rules" / "generate.smk").read_text()
    assert 'variant="|".join(map(re.escape, variants.VARIANTS))' in rules


def test_records_are_the_values_the_shards_were_made_with() -> None:
    """The resume stamp of before, field for field (dataclasses.asdict of the flat params)."""
    shared = {"steps": 10, "scheduler": "ddim", "resolution": 32, "seed": 0, "batch_size": 64}
    pg = GenerationParams.from_config(GENERATION, "pg").record()
    assert pg == {"variant": "pg", "strength": 0.8, "guidance_scale": 7.5, **shared,
                  "lam": None, "mix_space": None}
    ig = GenerationParams.from_config(GENERATION, "ig").record()
    assert ig == {"variant": "ig", "strength": 0.7, "guidance_scale": 3.0, **shared,
                  "lam": (0.3, 0.7), "mix_space": "latent"}
    assert list(ig) == ["variant", "strength", "guidance_scale", "steps", "scheduler",
                        "resolution", "seed", "batch_size", "lam", "mix_space"]
    assert json.loads(json.dumps(ig))["lam"] == [0.3, 0.7]


def test_prompt_settings_are_the_rule_params_of_before() -> None:
    own = {"descriptions": {"a": "an A", "b": "a B"}, "prompt_template": "{domain} {class_name}",
           "class_prompt_template": "a {class_name}", "variants": ["pg", "ig"]}
    assert variants.get("pg").prompt_settings(own, "b") == {
        "prompt_template": "{domain} {class_name}", "descriptions": {"b": "a B"}}
    assert variants.get("ig").prompt_settings(own, "b") == {"class_prompt_template": "a {class_name}"}
    assert variants.get("pg").prompt_settings({}, "b") == {"prompt_template": None,
                                                          "descriptions": {"b": None}}


def test_config_checks_come_from_the_variants(tmp_path: Path) -> None:
    cfg = {"datasets_root": str(tmp_path), "datasets": ["Set"],
           "dataset_settings": {"Set": {"domains": ["a", "b"], "variants": ["pg", "ig"],
                                        "test_envs": ["a"], "descriptions": {"a": "an A"}}},
           "generation": {"ig": {"strength": 0.5, "guidance_scale": 1.0, "lam": [0.9, 0.1],
                                 "mix_space": "latent"}}}
    errors = config.registry_errors(cfg)
    assert ("config key dataset_settings.Set.descriptions: variant 'pg' needs a description "
            "for every domain, missing ['b']") in errors
    assert "config key dataset_settings.Set.prompt_template: required by variant 'pg'" in errors
    assert "config key dataset_settings.Set.class_prompt_template: required by variant 'ig'" in errors
    assert any(e.startswith("config key generation.ig: IG lam (0.9, 0.1)") for e in errors)


def test_unknown_variants_and_duplicate_names_are_errors() -> None:
    with pytest.raises(ValueError, match=r"unknown generation variant 'xx'; known: \['pg', 'ig'\]"):
        variants.get("xx")

    class Again(variants.Variant):
        name = "pg"

    with pytest.raises(ValueError, match="'pg' is registered twice"):
        variants.register(Again)
    assert variants.VARIANTS["pg"] is variants.PromptGuided
