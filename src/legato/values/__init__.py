"""Where step values live: small JSON in the store, the rest in files (Parquet, pickle)."""
