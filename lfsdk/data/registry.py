"""Datasets by name: `@register_dataset("nyu")` on a factory, `make_dataset(name, split, root, preprocess)` to
build one, so readers plug into `lfsdk-train --dataset NAME --root PATH` without touching training. The
built-in datasets register when lfsdk.data is imported (lfsdk/data/__init__.py)."""
from __future__ import annotations

import os
from typing import Callable

from ..preprocess import PreprocessConfig

__all__ = ["DATASETS", "register_dataset", "make_dataset"]

#: name → factory(split, root, preprocess, **options) -> HandCropDataset
DATASETS: dict[str, Callable] = {}


def register_dataset(name: str):
    """Decorator: register `factory(split, root, preprocess, **options) -> HandCropDataset` under `name`."""
    def deco(factory):
        if name in DATASETS:
            raise ValueError(f"dataset {name!r} is already registered")
        DATASETS[name] = factory
        return factory
    return deco


def make_dataset(name: str, split: str, root: str | os.PathLike | None = None,
                 preprocess: PreprocessConfig = PreprocessConfig(), **options):
    """The `split` ('train', 'val', 'test') of dataset `name`; root is its folder (or cache folder)."""
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}: expected one of {sorted(DATASETS)}")
    return DATASETS[name](split, root, preprocess, **options)
