"""The ``legato`` command line: thin commands over the core (typer + rich).

Each command translates its arguments, calls the core, and renders what it got back; the
core never imports this package. The entry point is ``legato.cli.main:main``.
"""
