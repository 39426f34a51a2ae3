"""The long-running processes of ``legato serve``: workers that claim queued runs and
execute them (``worker.py``), and the scheduler that enqueues them.

Like the engine, this package never imports the CLI, typer or rich: the commands drive it.
"""
