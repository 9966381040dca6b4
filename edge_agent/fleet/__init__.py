"""The chain's side: lands every store's batches in PostgreSQL and pools experiments across stores.

Installed with the `fleet` extra only (`pip install 'edge-agent[fleet]'`); the box never imports
it. It shares one thing with the box, the batch schema (`aggregation/aggregates-v1.schema.json`).
Layers: `batches` (bytes → a validated batch, no I/O), `store` (PostgreSQL: migrations,
landing in one transaction, the queries), `consumers` (MQTT and NATS JetStream, each yielding
messages that are acknowledged after the commit), `land` (the workers), `uplift` (statistics,
no I/O).
"""
