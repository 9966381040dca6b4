-- edge-agent fleet: the landing tables (public interface: the data team queries them).
-- A batch lands exactly once: its row and its metric rows commit in one transaction, keyed by
-- batch_id; a redelivered batch finds its key and changes nothing.
CREATE TABLE IF NOT EXISTS batches (
    batch_id      text PRIMARY KEY,
    store_id      text NOT NULL,
    group_id      text,
    part          int,
    parts         int,
    bucket_start  timestamptz NOT NULL,
    bucket_end    timestamptz NOT NULL,
    agent_version text,
    model_version text,
    health        jsonb,
    received_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS batches_store_received ON batches (store_id, received_at DESC);

CREATE TABLE IF NOT EXISTS metrics (
    batch_id     text NOT NULL REFERENCES batches (batch_id),
    store_id     text NOT NULL,
    bucket_start timestamptz NOT NULL,
    name         text NOT NULL,
    labels       jsonb NOT NULL,
    value        double precision NOT NULL
);
CREATE INDEX IF NOT EXISTS metrics_name_start ON metrics (name, bucket_start);
CREATE INDEX IF NOT EXISTS metrics_batch ON metrics (batch_id);

-- What could not be landed (not JSON, not the schema): kept with the reason, never lost.
CREATE TABLE IF NOT EXISTS rejected (
    received_at timestamptz NOT NULL DEFAULT now(),
    reason      text NOT NULL,
    payload     bytea NOT NULL
);
