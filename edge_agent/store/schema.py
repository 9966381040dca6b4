"""Versioned schema: forward-only migrations, applied in order, tracked by PRAGMA user_version."""

from __future__ import annotations

CATALOG_TABLES = ("customers", "customer_identifiers", "offers", "devices")


def _catalog_triggers(tables: tuple[str, ...] = CATALOG_TABLES) -> str:
    """Bump `state.catalog_version` on any change to what the running agent caches."""
    bump = (
        "INSERT INTO state(key, value) VALUES ('catalog_version', '1') "
        "ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1;"
    )
    return "\n".join(
        f"CREATE TRIGGER {table}_{op.lower()}_bump AFTER {op} ON {table} BEGIN {bump} END;"
        for table in tables
        for op in ("INSERT", "UPDATE", "DELETE")
    )


MIGRATIONS: tuple[str, ...] = (
    # 1: initial schema
    """
    CREATE TABLE devices (
        id TEXT PRIMARY KEY,
        profile TEXT NOT NULL,
        transport TEXT NOT NULL,
        zone TEXT,
        port TEXT,
        topic TEXT,
        identifier TEXT,
        settings TEXT NOT NULL DEFAULT '{}',
        auto_registered INTEGER NOT NULL DEFAULT 0,
        created_at REAL NOT NULL
    );
    CREATE UNIQUE INDEX devices_identifier ON devices(identifier) WHERE identifier IS NOT NULL;

    CREATE TABLE customers (
        customer_id TEXT PRIMARY KEY,
        display_name TEXT NOT NULL DEFAULT '',
        tier TEXT NOT NULL DEFAULT 'bronze',
        consent INTEGER NOT NULL DEFAULT 0,
        rotating_key TEXT,
        preferred_categories TEXT NOT NULL DEFAULT '[]',
        visits_90d INTEGER NOT NULL DEFAULT 0,
        spend_90d REAL NOT NULL DEFAULT 0,
        updated_at REAL NOT NULL
    );

    CREATE TABLE customer_identifiers (
        kind TEXT NOT NULL,
        value TEXT NOT NULL,
        customer_id TEXT NOT NULL REFERENCES customers(customer_id) ON DELETE CASCADE,
        PRIMARY KEY (kind, value)
    );
    CREATE INDEX customer_identifiers_customer ON customer_identifiers(customer_id);

    CREATE TABLE offers (
        offer_id TEXT PRIMARY KEY,
        title TEXT NOT NULL,
        category TEXT NOT NULL DEFAULT '',
        kind TEXT NOT NULL DEFAULT 'discount',
        min_tier TEXT NOT NULL DEFAULT 'bronze',
        starts TEXT,
        ends TEXT,
        in_stock INTEGER NOT NULL DEFAULT 1,
        skus TEXT NOT NULL DEFAULT '[]',
        value TEXT NOT NULL DEFAULT ''
    );

    CREATE TABLE events (
        id INTEGER PRIMARY KEY,
        ts REAL NOT NULL,
        device_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        payload TEXT NOT NULL DEFAULT '{}',
        customer_id TEXT,
        dedup_key TEXT UNIQUE
    );
    CREATE INDEX events_ts ON events(ts);
    CREATE INDEX events_customer ON events(customer_id) WHERE customer_id IS NOT NULL;

    CREATE TABLE visits (
        id INTEGER PRIMARY KEY,
        customer_id TEXT REFERENCES customers(customer_id) ON DELETE CASCADE,
        zone TEXT NOT NULL,
        entered_at REAL NOT NULL,
        exited_at REAL,
        dwell_s REAL
    );
    CREATE INDEX visits_customer ON visits(customer_id);

    CREATE TABLE alerts (
        alert_id TEXT PRIMARY KEY,
        ts REAL NOT NULL,
        customer_id TEXT REFERENCES customers(customer_id) ON DELETE CASCADE,
        zone TEXT NOT NULL,
        payload TEXT NOT NULL,
        action TEXT,
        action_offer_id TEXT,
        action_ts REAL
    );
    CREATE INDEX alerts_customer ON alerts(customer_id);
    CREATE INDEX alerts_ts ON alerts(ts);

    CREATE TABLE dead_letters (
        id INTEGER PRIMARY KEY,
        ts REAL NOT NULL,
        device_id TEXT NOT NULL,
        reason TEXT NOT NULL,
        detail TEXT NOT NULL DEFAULT '',
        sample BLOB NOT NULL
    );
    CREATE INDEX dead_letters_key ON dead_letters(device_id, reason, id);
    -- keep a bounded sample: the newest 20 per device and reason
    CREATE TRIGGER dead_letters_bound AFTER INSERT ON dead_letters BEGIN
        DELETE FROM dead_letters WHERE id IN (
            SELECT id FROM dead_letters
            WHERE device_id = NEW.device_id AND reason = NEW.reason
            ORDER BY id DESC LIMIT -1 OFFSET 20);
    END;

    CREATE TABLE dead_letter_counts (
        device_id TEXT NOT NULL,
        reason TEXT NOT NULL,
        count INTEGER NOT NULL,
        last_ts REAL NOT NULL,
        PRIMARY KEY (device_id, reason)
    );

    CREATE TABLE aggregates (
        bucket_start REAL NOT NULL,
        bucket_end REAL NOT NULL,
        name TEXT NOT NULL,
        labels TEXT NOT NULL,
        value REAL NOT NULL,
        PRIMARY KEY (bucket_start, name, labels)
    );

    CREATE TABLE outbox (
        seq INTEGER PRIMARY KEY,
        batch_id TEXT NOT NULL UNIQUE,
        created_at REAL NOT NULL,
        payload TEXT NOT NULL,
        size INTEGER NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT
    );

    CREATE TABLE state (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    """
    + _catalog_triggers(),
    # 2: every effect of an input is durable with its ack (open bucket, nonces, staff actions);
    # outbox sequence numbers are never reused (the drainer reads past the last one it sent).
    """
    CREATE TABLE open_counts (
        bucket_start REAL NOT NULL,
        name TEXT NOT NULL,
        labels TEXT NOT NULL,
        value REAL NOT NULL,
        PRIMARY KEY (bucket_start, name, labels)
    );
    CREATE TABLE open_visitors (
        bucket_start REAL NOT NULL,
        kind TEXT NOT NULL,
        key TEXT NOT NULL,
        PRIMARY KEY (bucket_start, kind, key)
    ) WITHOUT ROWID;
    CREATE TABLE open_sensors (
        bucket_start REAL NOT NULL,
        device TEXT NOT NULL,
        resource TEXT NOT NULL,
        lo REAL NOT NULL,
        total REAL NOT NULL,
        hi REAL NOT NULL,
        n INTEGER NOT NULL,
        PRIMARY KEY (bucket_start, device, resource)
    );
    CREATE TABLE seen_inputs (
        key TEXT PRIMARY KEY,
        ts REAL NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE checkin_nonces (
        nonce TEXT PRIMARY KEY,
        exp REAL NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE alert_actions (
        alert_id TEXT NOT NULL REFERENCES alerts(alert_id) ON DELETE CASCADE,
        action TEXT NOT NULL,
        ts REAL NOT NULL,
        offer_id TEXT,
        PRIMARY KEY (alert_id, action)
    );
    ALTER TABLE alerts ADD COLUMN published INTEGER NOT NULL DEFAULT 1;
    CREATE INDEX alerts_unpublished ON alerts(ts) WHERE published = 0;
    CREATE TABLE outbox_v2 (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        batch_id TEXT NOT NULL UNIQUE,
        created_at REAL NOT NULL,
        payload TEXT NOT NULL,
        size INTEGER NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT
    );
    INSERT INTO outbox_v2 SELECT seq, batch_id, created_at, payload, size, attempts, last_error FROM outbox;
    DROP TABLE outbox;
    ALTER TABLE outbox_v2 RENAME TO outbox;
    DELETE FROM state WHERE key = 'aggregator.open_bucket';
    """,
    # 3: outcomes and learning (docs/interface.md): products, sales, learned profiles, also-liked pairs
    """
    CREATE TABLE products (
        sku TEXT PRIMARY KEY,
        title TEXT NOT NULL DEFAULT '',
        category TEXT NOT NULL DEFAULT '',
        price REAL,
        accessory_of TEXT NOT NULL DEFAULT '[]'
    );
    CREATE TABLE sales (
        sale_id TEXT PRIMARY KEY,
        ts REAL NOT NULL,
        device_id TEXT NOT NULL,
        customer_id TEXT REFERENCES customers(customer_id) ON DELETE CASCADE,
        amount REAL NOT NULL,
        lines TEXT NOT NULL,
        offer_ids TEXT NOT NULL DEFAULT '[]',
        visit_id INTEGER,
        grp TEXT
    );
    CREATE INDEX sales_customer ON sales(customer_id) WHERE customer_id IS NOT NULL;
    CREATE INDEX sales_ts ON sales(ts);
    CREATE TABLE affinities (
        customer_id TEXT NOT NULL REFERENCES customers(customer_id) ON DELETE CASCADE,
        category TEXT NOT NULL,
        score REAL NOT NULL,
        updated_at REAL NOT NULL,
        PRIMARY KEY (customer_id, category)
    );
    CREATE TABLE owned (
        customer_id TEXT NOT NULL REFERENCES customers(customer_id) ON DELETE CASCADE,
        sku TEXT NOT NULL,
        bought_at REAL NOT NULL,
        PRIMARY KEY (customer_id, sku)
    );
    CREATE TABLE visit_days (
        customer_id TEXT NOT NULL REFERENCES customers(customer_id) ON DELETE CASCADE,
        day INTEGER NOT NULL,
        PRIMARY KEY (customer_id, day)
    ) WITHOUT ROWID;
    CREATE TABLE cooccurrence (
        source TEXT NOT NULL,
        a TEXT NOT NULL,
        b TEXT NOT NULL,
        ts REAL NOT NULL,
        PRIMARY KEY (source, a, b)
    ) WITHOUT ROWID;
    CREATE INDEX cooccurrence_a ON cooccurrence(a, b);
    ALTER TABLE visits ADD COLUMN entry INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE visits ADD COLUMN grp TEXT;
    ALTER TABLE visits ADD COLUMN offers TEXT NOT NULL DEFAULT '[]';
    ALTER TABLE visits ADD COLUMN converted INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX visits_entries ON visits(customer_id, entered_at) WHERE entry = 1;
    """
    + _catalog_triggers(("products",)),
    # From 2026.12.1 affinities are a belief forgotten per customer (learning.profile.forget): a
    # customer's rows share one updated_at and stay within ±10. Older rows decayed one by one
    # (30-day default half-life); bring each to its customer's newest time.
    """
    UPDATE affinities SET
        score = min(max(score * pow(0.5,
            ((SELECT max(b.updated_at) FROM affinities b WHERE b.customer_id = affinities.customer_id)
             - updated_at) / 2592000.0), -10.0), 10.0),
        updated_at = (SELECT max(b.updated_at) FROM affinities b WHERE b.customer_id = affinities.customer_id);
    """,
    # 14: k-anonymity by the people behind each value (keyed per bucket, deleted at close);
    # withdrawn and forgotten customers as keyed hashes, so that a re-import cannot undo them;
    # tablet sign-outs that hold across restarts.
    """
    CREATE TABLE open_support (
        bucket_start REAL NOT NULL,
        name TEXT NOT NULL,
        labels TEXT NOT NULL,
        subject TEXT NOT NULL,
        PRIMARY KEY (bucket_start, name, labels, subject)
    ) WITHOUT ROWID;
    CREATE TABLE suppressed (
        key TEXT PRIMARY KEY,
        reason TEXT NOT NULL,
        at REAL NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE revoked_sessions (
        sid TEXT PRIMARY KEY,
        expires REAL NOT NULL
    ) WITHOUT ROWID;
    """,
    # 15: offers read by query (store/offers.py) instead of held whole in memory: which offers
    # touch a SKU, kept by triggers whatever writes the offers (imports, the cloud's catalog).
    """
    CREATE TABLE offer_skus (
        sku TEXT NOT NULL,
        offer_id TEXT NOT NULL,
        PRIMARY KEY (sku, offer_id)
    ) WITHOUT ROWID;
    CREATE INDEX offer_skus_offer ON offer_skus(offer_id);
    CREATE INDEX offers_category ON offers(category);
    CREATE INDEX offers_kind ON offers(kind);
    INSERT OR IGNORE INTO offer_skus SELECT j.value, o.offer_id FROM offers o, json_each(o.skus) j;
    CREATE TRIGGER offers_insert_skus AFTER INSERT ON offers BEGIN
        DELETE FROM offer_skus WHERE offer_id = new.offer_id;
        INSERT OR IGNORE INTO offer_skus SELECT value, new.offer_id FROM json_each(new.skus);
    END;
    CREATE TRIGGER offers_update_skus AFTER UPDATE OF offer_id, skus ON offers BEGIN
        DELETE FROM offer_skus WHERE offer_id = old.offer_id;
        INSERT OR IGNORE INTO offer_skus SELECT value, new.offer_id FROM json_each(new.skus);
    END;
    CREATE TRIGGER offers_delete_skus AFTER DELETE ON offers BEGIN
        DELETE FROM offer_skus WHERE offer_id = old.offer_id;
    END;
    """,
    # 16: a bucket that cannot be rendered (a bug, a poison value) is set aside with the reason,
    # its open rows kept for inspection, so that the buckets after it still close
    """
    CREATE TABLE quarantined_buckets (
        bucket_start REAL PRIMARY KEY,
        reason TEXT NOT NULL,
        at REAL NOT NULL
    ) WITHOUT ROWID;
    """,
    # 17: a delivery record per sink (webhooks): what was committed and not yet delivered to a
    # sink is delivered after a crash
    """
    CREATE TABLE sink_deliveries (
        sink TEXT NOT NULL,
        alert_id TEXT NOT NULL,
        at REAL NOT NULL,
        PRIMARY KEY (sink, alert_id)
    ) WITHOUT ROWID;
    """,
    # 18: friends' advice (SPEC §16): shared looks, their seats and votes, and the trust each
    # remembered friend earned with one shopper (a keyed hash of the friend's browser key)
    """
    CREATE TABLE social_looks (
        look_id TEXT PRIMARY KEY,
        token TEXT NOT NULL UNIQUE,
        device_id TEXT NOT NULL,
        session_id TEXT NOT NULL,
        customer_id TEXT,
        circle TEXT NOT NULL,
        nickname TEXT NOT NULL DEFAULT '',
        skus TEXT NOT NULL DEFAULT '[]',
        key TEXT NOT NULL,
        created_at REAL NOT NULL,
        expires_at REAL NOT NULL,
        stopped_at REAL,
        ended_at REAL,
        disliked TEXT NOT NULL DEFAULT '[]',
        settled INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX social_looks_session ON social_looks(device_id, session_id);
    CREATE INDEX social_looks_customer ON social_looks(customer_id) WHERE customer_id IS NOT NULL;
    CREATE TABLE social_seats (
        look_id TEXT NOT NULL,
        seat TEXT NOT NULL,
        channel TEXT NOT NULL,
        friend TEXT,
        taken_at REAL NOT NULL,
        PRIMARY KEY (look_id, seat)
    ) WITHOUT ROWID;
    CREATE TABLE social_votes (
        vote_id TEXT PRIMARY KEY,
        look_id TEXT NOT NULL,
        seat TEXT NOT NULL,
        sku TEXT NOT NULL,
        value TEXT NOT NULL,
        ts REAL NOT NULL,
        channel TEXT NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX social_votes_look ON social_votes(look_id, seat, sku, ts);
    CREATE TABLE social_friends (
        customer_id TEXT NOT NULL,
        friend TEXT NOT NULL,
        alpha REAL NOT NULL,
        beta REAL NOT NULL,
        visits INTEGER NOT NULL DEFAULT 0,
        updated_at REAL NOT NULL,
        PRIMARY KEY (customer_id, friend)
    ) WITHOUT ROWID;
    CREATE INDEX social_friends_friend ON social_friends(friend);
    CREATE TRIGGER social_looks_erase AFTER DELETE ON social_looks BEGIN
        DELETE FROM social_seats WHERE look_id = old.look_id;
        DELETE FROM social_votes WHERE look_id = old.look_id;
    END;
    """,
)

SCHEMA_VERSION = len(MIGRATIONS)
