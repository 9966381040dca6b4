"""Aggregation: privacy-safe rollups into buckets and outbox batches."""
