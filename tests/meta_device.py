"""A stand-in accelerator for the placement tests: torch's ``meta`` device, on any machine.

A stage runs with ``device = torch.device("meta")``: tensors there have shapes but no data,
and torch refuses most operations that mix them with CPU tensors, as it does for a GPU.
``on_meta()`` lets the whole stage run to its end: a read of a meta tensor back to the host
(``.item()``, ``float()``, ``bool()``, ``.tolist()``, ``.cpu()``, ``.to("cpu")``) gets made-up
values of the right shape (random floats, zero integers). As on a GPU, ``.numpy()`` needs a
``.cpu()`` first, and a random draw on the device from a CPU generator is refused. Every call
of a module with weights is recorded with the devices of its own weights and of its tensor
inputs, so a test can check that every forward pass ran on the device (weightless modules,
such as the torchvision transforms of CPU-side data loading, are left out).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_flatten

META = torch.device("meta")
READS = {Tensor.item, Tensor.tolist, Tensor.cpu, Tensor.__float__, Tensor.__int__, Tensor.__bool__,
         Tensor.__index__}
TO_NUMPY = {Tensor.numpy, Tensor.__array__}


def _host(t: Tensor) -> Tensor:
    """Made-up CPU values for meta tensor ``t``."""
    if t.dtype.is_floating_point:
        return torch.rand(t.shape, generator=torch.Generator().manual_seed(0)).to(t.dtype)
    return torch.zeros(t.shape, dtype=t.dtype)


def _is_meta(x: object) -> bool:
    return isinstance(x, Tensor) and x.is_meta


class _HostReads(TorchFunctionMode):
    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        generator = kwargs.get("generator")
        if (generator is not None and torch.device(kwargs.get("device") or "cpu") == META
                and generator.device != META):
            raise RuntimeError(f"{func.__name__}: a {generator.device} generator cannot draw on "
                               "the meta device (CUDA refuses a CPU generator the same way)")
        if func is Tensor.__getitem__ and _is_meta(args[1]):
            if not args[1].dim():
                args = (args[0], _host(args[1]))  # a 0-dim index is read back, as from a GPU
            elif not _is_meta(args[0]):
                raise RuntimeError("a CPU tensor indexed by a tensor on the meta device")
        if args and _is_meta(args[0]):
            if func in TO_NUMPY:
                raise TypeError("can't convert a meta tensor to numpy: call .cpu() first, "
                                "as a GPU tensor needs")
            if func in READS:
                args = (_host(args[0]), *args[1:])
            elif func is Tensor.to:
                try:
                    return func(*args, **kwargs)
                except NotImplementedError:  # a copy off the meta device
                    args = (_host(args[0]), *args[1:])
        return func(*args, **kwargs)


@dataclass
class Call:
    """One module call: the module's class, its own weights' devices, its inputs' devices."""

    module: str
    weights: set[torch.device]
    inputs: set[torch.device]


@dataclass
class Record:
    """A global forward pre-hook that records the calls of modules with weights."""

    calls: list[Call] = field(default_factory=list)

    def __call__(self, module: nn.Module, args: tuple) -> None:
        if next(module.parameters(), None) is None and next(module.buffers(), None) is None:
            return
        own = [*module.parameters(recurse=False), *module.buffers(recurse=False)]
        inputs = [a for a in tree_flatten(args)[0] if isinstance(a, Tensor)]
        self.calls.append(Call(type(module).__name__, {t.device for t in own},
                               {t.device for t in inputs}))

    def modules(self) -> set[str]:
        return {c.module for c in self.calls}

    def off_meta(self) -> list[Call]:
        """The calls whose weights or inputs were not all on the meta device."""
        return [c for c in self.calls if (c.weights | c.inputs) - {META}]


@contextmanager
def on_meta() -> Iterator[Record]:
    """Run the enclosed stage with host reads of meta tensors allowed; record module calls."""
    record = Record()
    handle = nn.modules.module.register_module_forward_pre_hook(record)
    try:
        with _HostReads():
            yield record
    finally:
        handle.remove()


def assert_all_on_meta(record: Record, *modules: str) -> None:
    """Every recorded forward pass ran with weights and inputs on meta, and ``modules`` ran."""
    assert set(modules) <= record.modules(), f"not called: {set(modules) - record.modules()}"
    off = record.off_meta()
    assert not off, f"{len(off)} of {len(record.calls)} module calls off the device, e.g. {off[:3]}"
