"""Model registry, provider-aware selection and a response cache."""

from components.model_management.cache import ResponseCache
from components.model_management.registry import (
    ModelRegistry,
    ModelSpec,
    Provider,
    UnknownModelError,
)
from components.model_management.selector import (
    ModelRequirements,
    ModelSelector,
    NoModelAvailableError,
)

__all__ = [
    "ModelRegistry",
    "ModelRequirements",
    "ModelSelector",
    "ModelSpec",
    "NoModelAvailableError",
    "Provider",
    "ResponseCache",
    "UnknownModelError",
]
