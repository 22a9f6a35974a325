"""Checks of the keyword options a backend is created with, so that a misspelt option (`thread=1`) or a
meaningless batch limit (`max_batch=0`) is an error naming it rather than silently ignored."""
from __future__ import annotations

import inspect
from typing import Any, Iterable

from ..contract import InputError

__all__ = ["BadOption", "load_options", "check_options"]


class BadOption(InputError):
    """An option no backend could take (a misspelt name, max_batch < 1, an unknown precision or device): the
    caller's mistake, which auto() raises at once instead of trying the next backend."""

#: arguments every Backend.load takes that are not backend-specific options
_COMMON = {"path", "device", "precision", "max_batch"}


def load_options(cls: type) -> set[str]:
    """The keyword options `cls.load` names (device, precision, max_batch and its own, e.g. threads)."""
    params = inspect.signature(cls.load).parameters.values()
    return _COMMON | {p.name for p in params if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)} - {"cls"}


def check_options(options: dict[str, Any], classes: Iterable[type], what: str) -> None:
    """Raise BadOption for an option none of `classes` (the backends that may load) takes, or a max_batch
    that is not an integer ≥ 1 (None: no limit). `what` names the backend(s) in the message."""
    max_batch = options.get("max_batch")
    if max_batch is not None and (isinstance(max_batch, bool) or not isinstance(max_batch, int) or max_batch < 1):
        raise BadOption(f"max_batch must be an integer ≥ 1 (or None for no limit), got {max_batch!r}")
    known = set().union(*(load_options(c) for c in classes)) if classes else set(_COMMON)
    unknown = sorted(set(options) - known)
    if unknown:
        raise BadOption(f"unknown backend option{'s' if len(unknown) > 1 else ''} {unknown} for {what}: "
                         f"expected some of {sorted(known - {'path'})}")
