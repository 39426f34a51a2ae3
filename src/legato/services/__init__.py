"""The application's services: what every interface (the CLI today; the REST API, web UI
and MCP server next) asks of legato, answered as frozen views (``legato.services.views``).

One module per concern: ``runs``, ``execution``, ``steps`` (steps and logs), ``assets``,
``triggers`` (schedules and sensors), ``backfills``, ``queue``, and ``daemons`` (the
long-running worker, scheduler and server). Interfaces import these and never the store,
the engine or the daemon, so every interface gives the same answer in the same shape.
Modules are imported lazily by their callers: importing one costs no store library.
"""
