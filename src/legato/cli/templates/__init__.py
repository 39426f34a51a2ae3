"""Files that ``legato init`` writes into a new project."""
