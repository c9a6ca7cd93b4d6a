"""The config's ``plugins``: Python files that register a study's own generation variants
(``cdga.generation.variants.register``), algorithms (``cdga.training.algorithms.ALGORITHMS`` with their
``cdga.core.hparams.ALGORITHM_HPARAMS``) and methods (``cdga.core.methods.METHODS``) without editing the
library. The workflow imports them before it checks the config, and so does every rule script
(``workflow/scripts/_logging.setup``), each at most once per process."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterable
from pathlib import Path


def load(paths: Iterable[str]) -> None:
    """Import each plugin file (a path relative to the working directory); ValueError names a
    missing one."""
    for path in paths:
        file = Path(path).resolve()
        name = f"cdga_plugin_{file.stem}"
        if name in sys.modules:
            continue
        if not file.is_file():
            raise ValueError(f"config key plugins: {path!r} is not a file")
        spec = importlib.util.spec_from_file_location(name, file)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
