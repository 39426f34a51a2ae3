"""Long-running parts of ``legato serve``: the scheduler that enqueues runs
(``scheduler.py``), workers that claim queued runs and execute them (``worker.py``), and
backfills.

Like the engine, this package never imports the CLI, typer or rich: the commands drive it.
"""
