"""Integrations with other systems (a Dask executor, the control plane's sync, an
OpenLineage emitter), each behind an extra of its own.

They plug into the core through its registries, never the other way round: an executor
through the entry point group ``legato.executors`` (``executors/registry.py``), a loop of
``legato serve`` through ``legato.loops`` (``daemon/loops.py``). The import-linter
contract in pyproject.toml forbids the core to import this package.
"""
