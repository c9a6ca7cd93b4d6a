"""Generation variants, a flat registry in the spirit of DomainBed's algorithms (torch-free at
import, so the workflow reads it cheaply; torch is imported where a pipeline input is made).

A variant is one class. It owns its prompt (the dataset setting holding the template and the
placeholders it fills), how it plans a row (a guide image and its weight, or none), how it
prepares the pipeline's input (images, or 4-channel latents), its ``generation.<name>`` config
block (parsed by ``options``, described by ``SCHEMA``) and the dataset settings it needs
(``DATASET_SCHEMA``, ``dataset_errors``, ``prompt_settings``). ``cdga.generation.generate.run_batch``
hands that input to the same img2img pipeline call for every variant.

* **pg** (prompt-guided): img2img from a training image x of domain i with the dataset's
  ``prompt_template`` filled with domain j's description and x's class name.
* **ig** (image-guided): a seeded same-class training image x' of domain j is mixed with x,
  ``(1 - lam) * x + lam * x'`` (lam = the weight of the target-domain guide), in VAE latent
  space (both images encoded to their posterior means, mixed, handed to the pipeline as
  4-channel latents) or in pixel space; img2img then runs over the mix with the dataset's
  ``class_prompt_template``, which names the class only.

A new variant: subclass ``Variant``, decorate it with ``register``, add its ``generation.<name>``
block to the config and name it in a dataset's ``variants`` (and a method that uses it,
``cdga.core.methods``).
"""

from __future__ import annotations

import hashlib
import string
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

IMG2IMG_SCHEMA = {  # the pipeline-call keys every variant's block holds
    "strength": {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
    "guidance_scale": {"type": "number", "minimum": 0},
}


def stable_seed(*parts: object) -> int:
    """A 63-bit seed from the parts' text: the same on every machine and Python run."""
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") & (2**63 - 1)


class Variant:
    """One generation variant (never instantiated: every method is a classmethod).

    ``TEMPLATE``: the dataset setting holding its prompt template; ``PLACEHOLDERS``: the
    fields it fills; ``SCHEMA``: the JSON schema of its own keys of ``generation.<name>``
    (beside ``strength`` and ``guidance_scale``); ``DATASET_SCHEMA``: the dataset settings
    it adds to a dataset's block."""

    name: ClassVar[str]
    TEMPLATE: ClassVar[str]
    PLACEHOLDERS: ClassVar[frozenset[str]]
    SCHEMA: ClassVar[dict[str, dict]] = {}
    DATASET_SCHEMA: ClassVar[dict[str, dict]] = {}

    @classmethod
    def block_schema(cls) -> dict:
        """The JSON schema of ``generation.<name>``."""
        keys = {**IMG2IMG_SCHEMA, **cls.SCHEMA}
        return {"type": "object", "additionalProperties": False, "required": list(keys),
                "properties": keys}

    @classmethod
    def options(cls, own: Mapping) -> dict[str, Any]:
        """The variant's own keys of its block (without strength, guidance_scale), checked and
        normalised; ValueError names the bad value."""
        if own:
            raise ValueError(f"variant {cls.name!r} takes no options beside strength and "
                             f"guidance_scale, got {sorted(own)}")
        return {}

    @classmethod
    def dataset_errors(cls, key: str, settings: Mapping, domains: Sequence[str]) -> list[str]:
        """What a dataset block ``settings`` (config key ``key``) lacks for this variant."""
        if cls.TEMPLATE not in settings:
            return [f"config key {key}.{cls.TEMPLATE}: required by variant {cls.name!r}"]
        return []

    @classmethod
    def prompt_settings(cls, settings: Mapping, target: str) -> dict:
        """The dataset settings the prompts of one job towards ``target`` read (rule params)."""
        return {cls.TEMPLATE: settings.get(cls.TEMPLATE)}

    @classmethod
    def fields(cls, settings: Mapping, target: str) -> dict[str, str]:
        """The template's fields beside ``class_name`` for images towards ``target``."""
        return {}

    @classmethod
    def check_template(cls, template: str) -> None:
        """Raise naming the template when it uses a placeholder the variant does not fill."""
        fields = {f for _, f, _, _ in string.Formatter().parse(template) if f is not None}
        unknown = fields - cls.PLACEHOLDERS
        if unknown:
            raise ValueError(f"prompt template {template!r} has unknown placeholder(s) "
                             f"{sorted(unknown)}; {cls.name} templates may use "
                             f"{sorted(cls.PLACEHOLDERS)}")

    @classmethod
    def prompt(cls, settings: Mapping, target: str, class_name: str) -> str:
        """The prompt of one synthetic image; ``Alarm_Clock`` is written ``Alarm Clock``."""
        template = settings.get(cls.TEMPLATE)
        if template is None:
            raise ValueError(f"CDGA-{cls.name.upper()} needs the dataset's {cls.TEMPLATE}")
        cls.check_template(template)
        return template.format(class_name=class_name.replace("_", " "),
                               **cls.fields(settings, target))

    @classmethod
    def guide(cls, options: Mapping, seed: int, row: Any, rel: str, guides: Mapping[int, list[str]],
              target: str, rep: int) -> tuple[str, float]:
        """(guide image path, its weight) of plan row ``row`` (source ``rel``); ``guides``:
        the target's training images per class. ("", nan): no guide."""
        return "", np.nan

    @classmethod
    def pipeline_image(cls, pipe, batch, sources: list, options: Mapping, resolution: int):
        """The pipeline's ``image`` argument for a batch of plan rows: PIL images or latents."""
        return sources


VARIANTS: dict[str, type[Variant]] = {}


def register(cls: type[Variant]) -> type[Variant]:
    """Class decorator: add ``cls`` to ``VARIANTS`` under ``cls.name``."""
    if cls.name in VARIANTS and VARIANTS[cls.name] is not cls:
        raise ValueError(f"generation variant {cls.name!r} is registered twice")
    VARIANTS[cls.name] = cls
    return cls


def get(name: str) -> type[Variant]:
    """The registered variant ``name``; ValueError names the known ones."""
    try:
        return VARIANTS[name]
    except KeyError:
        raise ValueError(f"unknown generation variant {name!r}; known: {list(VARIANTS)}") from None


@register
class PromptGuided(Variant):
    name = "pg"
    TEMPLATE = "prompt_template"
    PLACEHOLDERS = frozenset({"domain", "class_name"})
    DATASET_SCHEMA: ClassVar[dict[str, dict]] = {"prompt_template": {
        "description": "PG prompt; placeholders {domain} and {class_name}",
        "type": "string", "pattern": "\\{domain\\}"}}

    @classmethod
    def dataset_errors(cls, key: str, settings: Mapping, domains: Sequence[str]) -> list[str]:
        messages = []
        missing = [d for d in domains if d not in settings.get("descriptions", {})]
        if missing:
            messages.append(f"config key {key}.descriptions: variant {cls.name!r} needs a "
                            f"description for every domain, missing {missing}")
        return messages + super().dataset_errors(key, settings, domains)

    @classmethod
    def prompt_settings(cls, settings: Mapping, target: str) -> dict:
        return {cls.TEMPLATE: settings.get(cls.TEMPLATE),
                "descriptions": {target: settings.get("descriptions", {}).get(target)}}

    @classmethod
    def fields(cls, settings: Mapping, target: str) -> dict[str, str]:
        descriptions = settings.get("descriptions") or {}
        if target not in descriptions:
            raise ValueError(f"domain {target!r} has no text description (descriptions.{target}); "
                             "CDGA-PG needs one, or use variant ig")
        return {"domain": descriptions[target]}


@register
class ImageGuided(Variant):
    name = "ig"
    TEMPLATE = "class_prompt_template"
    PLACEHOLDERS = frozenset({"class_name"})
    MIX_SPACES = ("latent", "pixel")
    SCHEMA: ClassVar[dict[str, dict]] = {
        "lam": {"description": "weight of the target-domain guide image, fixed or a [low, high] "
                               "range",
                "oneOf": [{"$ref": "#/$defs/probability"},
                          {"type": "array", "minItems": 2, "maxItems": 2,
                           "items": {"$ref": "#/$defs/probability"}}]},
        "mix_space": {"enum": list(MIX_SPACES)},
    }
    DATASET_SCHEMA: ClassVar[dict[str, dict]] = {"class_prompt_template": {
        "description": "IG prompt; placeholder {class_name}, no domain words",
        "type": "string", "pattern": "\\{class_name\\}"}}

    @classmethod
    def options(cls, own: Mapping) -> dict[str, Any]:
        lam, mix_space = own.get("lam"), own.get("mix_space")
        if lam is not None and not isinstance(lam, tuple):
            lam = (float(lam), float(lam)) if np.isscalar(lam) else (float(lam[0]), float(lam[1]))
        if mix_space not in cls.MIX_SPACES:
            raise ValueError(f"unknown IG mix_space {mix_space!r}; known: {list(cls.MIX_SPACES)}")
        if lam is None or not 0 <= lam[0] <= lam[1] <= 1:
            raise ValueError(f"IG lam {lam} must be a weight or a range [low, high] within [0, 1]")
        return {"lam": lam, "mix_space": mix_space}

    @classmethod
    def guide(cls, options: Mapping, seed: int, row: Any, rel: str, guides: Mapping[int, list[str]],
              target: str, rep: int) -> tuple[str, float]:
        candidates = [g for g in guides.get(row.class_index, []) if g != row.path]
        if not candidates:
            raise ValueError(f"no training image of class {row.class_name!r} in domain {target!r} "
                             f"to guide {row.path!r}")
        rng = np.random.default_rng(stable_seed(seed, "guide", rel, target, rep))
        guide = candidates[rng.integers(len(candidates))]
        low, high = options["lam"]
        return guide, float(rng.uniform(low, high)) if low < high else low

    @classmethod
    def pipeline_image(cls, pipe, batch, sources: list, options: Mapping, resolution: int):
        import torch
        from PIL import Image

        from cdga.generation.images import latents, load_image

        guides = [load_image(p, resolution) for p in batch["guide_path"]]
        lam = torch.tensor(batch["lam"].to_numpy(), dtype=torch.float32)
        if options["mix_space"] == "pixel":
            return [Image.blend(s, g, float(w)) for s, g, w in zip(sources, guides, lam)]
        w = lam.to(pipe.device, pipe.vae.dtype).view(-1, 1, 1, 1)
        mixed = (1 - w) * latents(pipe, sources, resolution) + w * latents(pipe, guides, resolution)
        return mixed * pipe.vae.config.scaling_factor
