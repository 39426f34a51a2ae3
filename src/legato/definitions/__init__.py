"""What users write: assets, tasks, flows and the options they take."""
