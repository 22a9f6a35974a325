"""Hand data: the synthetic renderer and its scenes, augmentation, the official datasets' readers and training
datasets.

Importing the package registers the built-in datasets ("synthetic", "nyu", "icvl", "msra") for make_dataset.
"""
from . import dataset, icvl, msra, nyu
from .registry import DATASETS, make_dataset, register_dataset

__all__ = ["DATASETS", "dataset", "icvl", "make_dataset", "msra", "nyu", "register_dataset"]
