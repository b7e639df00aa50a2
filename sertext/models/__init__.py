"""Models: one file per family, declared in :mod:`.registry`, built by :func:`build`.

Importing this package is light (no torch): :func:`build` imports the model's file.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .registry import ARCHITECTURES, Architecture, Training, display_name

if TYPE_CHECKING:
    from torch import nn


def build(name: str, *, n_outputs: int, **options) -> nn.Module:
    """Build architecture ``name`` with ``n_outputs`` outputs; options it does not take are ignored.

    Raises:
        ValueError: for an unknown architecture, or a needed option that is missing.
    """
    if name not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {name!r}; expected one of {sorted(ARCHITECTURES)}")
    architecture = ARCHITECTURES[name]
    used = {k: v for k, v in options.items() if k in architecture.options}
    missing = sorted(k for k in architecture.infer if used.get(k) is None)
    if missing:
        raise ValueError(f"{name} needs {', '.join(missing)} (read off its input features)")
    return architecture.model_class()(n_outputs, **architecture.fixed_options, **used)


__all__ = ["ARCHITECTURES", "Architecture", "Training", "build", "display_name"]
