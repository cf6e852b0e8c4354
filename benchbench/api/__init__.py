"""The contracts plugins implement: specs, datasets, models, metrics."""
