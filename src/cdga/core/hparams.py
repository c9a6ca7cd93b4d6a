"""Hyperparameters of the learning algorithms, as DomainBed's hparams_registry (torch-free, so
the workflow imports it cheaply to build each training job's params).

Every hyperparameter is a key of the config's ``training`` block: that value is its default
(hparams seed 0, the study's runs). Each also has DomainBed's random distribution, from which
``training.hparam_draws`` adds seeded draws (hparams seeds 1..N). ``SHARED`` are every
algorithm's; ``ALGORITHM_HPARAMS`` adds each algorithm's own (the classes of
``cdga.training.algorithms.ALGORITHMS``, same names). A job's params hold only the keys it reads
(``job_settings``).
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from cdga.core import execution

Distribution = Callable[[np.random.RandomState], Any]


@dataclass(frozen=True)
class HParam:
    """A ``training`` key and its random distribution; ``small`` replaces ``large`` for
    backbones trained from scratch on small images (DomainBed's SMALL_IMAGES ranges)."""

    key: str
    large: Distribution
    small: Distribution | None = None

    def sample(self, rng: np.random.RandomState, backbone: str) -> Any:
        fn = self.small if self.small is not None and backbone in SMALL_BACKBONES else self.large
        value = fn(rng)
        return int(value) if isinstance(value, (int, np.integer)) else float(value)


SMALL_BACKBONES = ("small_cnn",)
SHARED: tuple[HParam, ...] = (
    HParam("lr", large=lambda r: 10 ** r.uniform(-5, -3.5), small=lambda r: 10 ** r.uniform(-4.5, -2.5)),
    HParam("weight_decay", large=lambda r: 10 ** r.uniform(-6, -2), small=lambda r: 0.0),
    HParam("batch_size", large=lambda r: int(2 ** r.uniform(3, 5.5)),
           small=lambda r: int(2 ** r.uniform(3, 9))),
)
MIXUP_ALPHA = HParam("mixup_alpha", large=lambda r: 10 ** r.uniform(-1, 1))
ALGORITHM_HPARAMS: dict[str, tuple[HParam, ...]] = {
    "ERM": (),
    "MixupWithin": (MIXUP_ALPHA,),
    "MixupInter": (MIXUP_ALPHA,),
}
# Read by the methods with synthetic images only (cdga.core.methods); never drawn.
SYNTHETIC_KEYS = ("synthetic_ratio",)
# Change no result: never in a job's params nor the resume fingerprint (declared in
# cdga.core.execution; ``trials`` and ``hparam_draws`` say which runs exist, not what one computes).
EXECUTION_KEYS = execution.keys("training")


def own(algorithm: str) -> tuple[HParam, ...]:
    """The hyperparameters algorithm ``algorithm`` adds; KeyError names the known ones."""
    try:
        return ALGORITHM_HPARAMS[algorithm]
    except KeyError:
        raise KeyError(f"unknown algorithm {algorithm!r}; known: {sorted(ALGORITHM_HPARAMS)}") from None


def seed_hash(*args: Any) -> int:
    """A 31-bit seed from any JSON-able arguments (stable across processes)."""
    return int(hashlib.sha256(json.dumps(args).encode()).hexdigest()[:8], 16) & 0x7FFFFFFF


def draw(algorithm: str, training: Mapping, hparams_seed: int, trial: int) -> dict[str, Any]:
    """The shared and own hyperparameters of one run: the ``training`` values for hparams
    seed 0, else each drawn from its distribution, seeded by (hparams seed, trial, key)."""
    specs = (*SHARED, *own(algorithm))
    if hparams_seed == 0:
        return {h.key: training[h.key] for h in specs}
    return {h.key: drawn(h, training["backbone"], hparams_seed, trial) for h in specs}


@functools.cache
def drawn(spec: HParam, backbone: str, hparams_seed: int, trial: int) -> Any:
    """One hyperparameter's draw, seeded by (hparams seed, trial, key). Cached: the DAG asks
    once per training job (thousands at DomainBed's 20 draws), but there are only draws x
    trials x keys distinct values, and each costs a RandomState."""
    return spec.sample(np.random.RandomState(seed_hash(hparams_seed, trial, spec.key)), backbone)


def job_settings(training: Mapping, algorithm: str, synthetic: bool, hparams_seed: int,
                 trial: int) -> dict[str, Any]:
    """What one training job reads of the ``training`` block: the shared settings, its
    algorithm's hyperparameters (drawn for ``hparams_seed`` > 0), and the synthetic keys only
    when its method has synthetic images. No execution setting."""
    others = {h.key for specs in ALGORITHM_HPARAMS.values() for h in specs} | set(SYNTHETIC_KEYS)
    out = {k: v for k, v in training.items() if k not in EXECUTION_KEYS and k not in others}
    if synthetic:
        out |= {k: training[k] for k in SYNTHETIC_KEYS}
    return out | draw(algorithm, training, hparams_seed, trial)
