"""The public data contract: what the services return and what ``--json`` prints.

Every interface (the CLI's tables and ``--json``; the REST API, web UI and MCP server to
come) renders these views, so a person, a script and an agent see the same facts. They hold
no storage internals (no lease tokens, value ids or cache keys) and use the words of
``docs/concepts.md``. Times are Unix timestamps in seconds (``*_at``); durations are
seconds (``duration_s``). New fields may be added; existing ones keep their name and
meaning. ``docs/reference/views.md`` is generated from these modules
(``python -m legato.services.reference``).

One module per concern: ``runs``, ``steps`` (steps, attempts, logs), ``assets``, ``triggers``,
``backfills``, so that a command imports only the views it prints. ``serialize.to_json``
is the one way a view (or a list of views) becomes JSON-able data.
"""
