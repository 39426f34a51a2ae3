"""Long-running processes: the scheduler and workers."""
