"""Cache policies: ``@lg.task(cache=lg.cache.by_inputs)``."""

from legato.definitions.options import CachePolicy

by_inputs = CachePolicy()
"""Reuse the last successful result of the same code version with the same inputs."""

__all__ = ["CachePolicy", "by_inputs"]
