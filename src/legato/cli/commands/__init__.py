"""One module per command; ``legato.cli.main`` registers them."""
