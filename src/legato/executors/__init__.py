"""Where step bodies run: inline (debugging), threads (default), processes."""
