"""Inference backends behind one interface (see base.py)."""
from .base import (AUTO_ORDER, PRECISIONS, REGISTRY, Availability, Backend, BackendUnavailable, BadOption,
                   Outputs, auto, availability, backend_class, create, register, resolve_device)

__all__ = ["AUTO_ORDER", "PRECISIONS", "REGISTRY", "Availability", "Backend", "BackendUnavailable", "BadOption",
           "Outputs", "auto", "availability", "backend_class", "create", "register", "resolve_device"]
