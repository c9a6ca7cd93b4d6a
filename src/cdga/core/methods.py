"""The methods the study compares, a flat registry (torch-free, so the workflow imports it cheaply).

A method fixes which synthetic images join the real training data and which learning
algorithm (``cdga.training.algorithms.ALGORITHMS``) learns from the minibatches.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Method:
    """``synthetic``: None (real only), 'cross' (pairs i->j, i != j) or 'within' (pairs i->i).
    ``variant``: the generation variant used ('pg', 'ig'), or 'first' for the dataset's first.
    ``filtered``: train only on the synthetic images the filter stage keeps (cdga.filtering.keep)."""

    algorithm: str
    synthetic: str | None = None
    variant: str | None = None
    filtered: bool = False


METHODS: dict[str, Method] = {
    "erm": Method("ERM"),
    "cdga_pg": Method("ERM", synthetic="cross", variant="pg"),
    "cdga_ig": Method("ERM", synthetic="cross", variant="ig"),
    # the ablation: the same pairs, minibatch share and steps, only the kept synthetic images
    "cdga_pg_filtered": Method("ERM", synthetic="cross", variant="pg", filtered=True),
    "cdga_ig_filtered": Method("ERM", synthetic="cross", variant="ig", filtered=True),
    "ldm_within": Method("ERM", synthetic="within", variant="first"),
    "mixup_within": Method("MixupWithin"),  # the VRM baseline; no DomainBed counterpart
    "mixup_inter": Method("MixupInter"),    # DomainBed's Mixup
}


def method(name: str) -> Method:
    """The registered method ``name``; KeyError names the known ones."""
    try:
        return METHODS[name]
    except KeyError:
        raise KeyError(f"unknown method {name!r}; known: {sorted(METHODS)}") from None


def unfiltered_twin(name: str) -> str | None:
    """The registered method that ``name`` filters (same fields, ``filtered`` off); None for
    a method that is not filtered."""
    spec = method(name)
    if not spec.filtered:
        return None
    twin = replace(spec, filtered=False)
    return next(n for n, s in METHODS.items() if s == twin)


def beside_twins(names: Sequence[str]) -> list[str]:
    """``names`` in order, each filtered method moved to just after its unfiltered twin when
    that is among ``names`` (so tables show the ablation's rows side by side)."""
    twins = {n: unfiltered_twin(n) for n in names}
    placed = [n for n in names if twins[n] not in names]
    for name in [n for n in names if twins[n] in names]:
        at = placed.index(twins[name]) + 1
        while at < len(placed) and twins.get(placed[at]) == twins[name]:
            at += 1
        placed.insert(at, name)
    return placed


def variant(name: str, dataset_variants: Sequence[str]) -> str | None:
    """The generation variant method ``name`` uses on a dataset with ``dataset_variants``;
    None for real-only methods. Raises ValueError when the dataset lacks that variant."""
    spec = method(name)
    if spec.synthetic is None:
        return None
    wanted = dataset_variants[0] if spec.variant == "first" else spec.variant
    if wanted not in dataset_variants:
        raise ValueError(f"method {name!r} needs variant {wanted!r}; the dataset has "
                         f"{list(dataset_variants)}")
    return wanted


def runs_on(name: str, dataset_variants: Sequence[str]) -> bool:
    """Whether method ``name`` applies to a dataset generated with ``dataset_variants``."""
    try:
        variant(name, dataset_variants)
    except ValueError:
        return False
    return True


def first_runnable(names: Sequence[str], dataset_variants: Sequence[str]) -> str:
    """The first of methods ``names`` that applies to a dataset with ``dataset_variants``."""
    for name in names:
        if runs_on(name, dataset_variants):
            return name
    raise ValueError(f"none of the methods {list(names)} applies to a dataset with variants "
                     f"{list(dataset_variants)}")


def synthetic_pairs(name: str, domains: Sequence[str], test_env: str) -> list[tuple[str, str]]:
    """Ordered (source, target) domain pairs whose synthetic images method ``name`` trains on.

    Neither end is ever the test domain.
    """
    spec = method(name)
    train = [d for d in domains if d != test_env]
    if spec.synthetic == "cross":
        return [(i, j) for i in train for j in train if i != j]
    if spec.synthetic == "within":
        return [(i, i) for i in train]
    return []


def generation_pairs(names: Sequence[str], domains: Sequence[str], variants: Sequence[str],
                     test_envs: Sequence[str]) -> list[tuple[str, str, str]]:
    """(variant, source, target) of every generation job family that the training runs of
    methods ``names`` read, over held-out ``test_envs``: nothing is generated that no run uses.

    Ordered as the variants, cross-domain pairs (i != j) before within-domain ones (i, i), then
    as the domains.
    """
    used = {
        (variant(name, variants), src, tgt)
        for name in names
        if runs_on(name, variants)  # a real-only method has no synthetic pairs
        for env in test_envs
        for src, tgt in synthetic_pairs(name, domains, env)
    }
    return sorted(used, key=lambda f: (f[1] == f[2], list(variants).index(f[0]),
                                       list(domains).index(f[1]), list(domains).index(f[2])))
