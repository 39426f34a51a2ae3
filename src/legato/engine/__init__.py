"""Runs flows and asset selections: steps, attempts, retries, fallbacks, caching."""
