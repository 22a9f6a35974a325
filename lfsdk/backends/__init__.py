"""Inference backends behind one interface (see base.py)."""
from .base import REGISTRY, Backend, BackendUnavailable, Outputs, auto, availability, create, register

__all__ = ["REGISTRY", "Backend", "BackendUnavailable", "Outputs", "auto", "availability", "create", "register"]
