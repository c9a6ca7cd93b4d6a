"""Config validation: the shipped configs pass; bad values are rejected by name."""

from pathlib import Path

import pytest
from conftest import REPO
from study import merged

from cdga.config import ConfigError, validate

SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"


# Configs merged over another than the demo: the paper-shaped test study over the paper's.
OVER = {"test_paper.yaml": "paper.yaml"}


@pytest.mark.parametrize("name", sorted(p.name for p in (REPO / "config").glob("*.yaml")))
def test_shipped_configs_are_valid(name: str) -> None:
    validate(merged(*(REPO / "config" / f for f in (OVER.get(name), name) if f)), SCHEMA)


@pytest.mark.parametrize(
    ("override", "pattern"),
    [
        ({"bogus": 1}, r"<root>: unknown key\(s\) \['bogus'\]"),
        ({"split": {"holdout_fraction": "lots"}}, r"split\.holdout_fraction: bad value 'lots'"),
        ({"split": {"holdout_fraction": 1.5}}, r"split\.holdout_fraction: bad value 1\.5"),
        ({"datasets": ["Scans/2"]}, r"datasets\.0: bad value 'Scans/2'"),
        ({"datasets": ["Imagenette"]}, r"dataset_settings\.Imagenette: missing for dataset"),
        ({"datasets": ["Imagenette"], "dataset_settings": {"Imagenette": {
            "variants": ["ig"], "test_envs": ["a"], "class_prompt_template": "{class_name}"}}},
         r"dataset_settings\.Imagenette\.domains: missing for dataset 'Imagenette'"),
        ({"dataset_settings": {"DemoDigits": {"test_envs": ["photo", "watercolor"]}}},
         r"DemoDigits\.test_envs: unknown domain 'watercolor'"),
        ({"dataset_settings": {"DemoDigits": {"descriptions": {"oils": "x"}}}},
         r"DemoDigits\.descriptions: unknown domain 'oils'"),
        ({"dataset_settings": {"Image nette": {}}}, r"dataset_settings: bad value 'Image nette'"),
        ({"downloads": {"DemoDigits": []}}, r"downloads: bad value 'DemoDigits'"),
        ({"methods": ["irm"]}, r"methods\.0: bad value 'irm'"),
        ({"generation": {"scheduler": "heun"}}, r"generation\.scheduler: bad value 'heun'"),
        ({"generation": {"image_format": "gif"}}, r"generation\.image_format: bad value 'gif'"),
        ({"generation": {"image_quality": 101}}, r"generation\.image_quality: bad value 101"),
    ],
)
def test_bad_values_are_named(override: dict, pattern: str) -> None:
    with pytest.raises(ConfigError, match=pattern):
        validate(merged(override), SCHEMA)


def test_missing_required_value_is_named() -> None:
    config = merged()
    del config["split"]["seed"]
    with pytest.raises(ConfigError, match=r"split: 'seed' is a required property"):
        validate(config, SCHEMA)


def test_pg_needs_every_domain_described() -> None:
    config = merged()
    del config["dataset_settings"]["DemoDigits"]["descriptions"]["sketch"]
    with pytest.raises(ConfigError, match=r"missing \['sketch'\]"):
        validate(config, SCHEMA)


def test_schema_file_is_what_validate_reads(tmp_path: Path) -> None:
    schema = tmp_path / "s.yaml"
    schema.write_text("type: object\nrequired: [nothing_here]\n")
    with pytest.raises(ConfigError, match="nothing_here"):
        validate(merged(), schema)


def test_every_scheduler_and_image_format_the_code_offers_is_valid() -> None:
    from cdga.core.schedulers import SCHEDULERS
    from cdga.data.shards import IMAGE_FORMATS

    for scheduler, image_format in zip(SCHEDULERS, [*IMAGE_FORMATS] * 2, strict=False):
        validate(merged({"generation": {"scheduler": scheduler, "image_format": image_format}}), SCHEMA)
