"""The compute device of every GPU rule, from the config's one ``device`` key.

torch is imported only when a device is resolved, so importing this module stays cheap.
"""

from __future__ import annotations

import logging
import os
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)
CHOICES = re.compile(r"auto|cpu|cuda(:[0-9]+)?")


def resolve(value: str) -> torch.device:
    """The torch device of config value ``value``.

    ``auto`` is the first visible GPU when CUDA is available, else the CPU; ``cpu``, ``cuda``
    and ``cuda:N`` are taken as named, and a GPU that torch cannot see is an error.
    """
    import torch

    if not isinstance(value, str) or not CHOICES.fullmatch(value):
        raise ValueError(f"config key device: bad value {value!r}; use auto, cpu, cuda or cuda:N")
    device = torch.device(("cuda" if torch.cuda.is_available() else "cpu") if value == "auto" else value)
    if device.type == "cuda":
        visible = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if (device.index or 0) >= visible:
            raise ValueError(
                f"config key device: {value!r} asks for a GPU torch cannot see ({visible} visible, "
                f"CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES')!r}); "
                "use device: auto to fall back to the CPU"
            )
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    log.info("device: %s (%s; config device: %s, %s=%s)", device, name, value, "CUDA_VISIBLE_DEVICES",
             os.environ.get("CUDA_VISIBLE_DEVICES"))
    return device
