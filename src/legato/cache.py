"""Cache policies: ``@lg.task(cache=lg.cache.by_inputs)``, or a key of your own with
``lg.cache.by_key(fn)``, say one that includes a file's content (``file_digest``)."""

import hashlib
import os

from legato.definitions.options import CacheKey, CachePolicy
from legato.definitions.options import cache_by_key as _by_key

by_inputs = CachePolicy()
"""Reuse the last successful result of the same code version with the same inputs."""

def by_key(key: CacheKey) -> CachePolicy:
    """Reuse the last successful result of the same code version whose key ``key(inputs)``
    was the same.

    ``inputs`` is a dict of the step's arguments by parameter name (``ctx`` left out,
    defaults filled in). ``key`` returns a string, or any JSON value or picklable object; or
    None when the step must not be cached this time. It runs before the step, in the run's
    process: keep it quick. If it raises, the step fails without running, and the error
    names the step. ``by_key(key).within("1d")`` also expires results after a day.
    """
    return _by_key(key)


def file_digest(path: str | os.PathLike[str]) -> str:
    """The SHA-256 of a file's content (hex), for a key that changes when the file does:
    ``lg.cache.by_key(lambda inputs: lg.cache.file_digest(inputs["path"]))``."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


__all__ = ["CachePolicy", "by_inputs", "by_key", "file_digest"]
