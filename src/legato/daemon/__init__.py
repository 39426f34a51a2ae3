"""Long-running parts of ``legato serve``: the scheduler, workers and backfills."""
