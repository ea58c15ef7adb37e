-- Catalogue sync and key rotation (issue 12).
-- What the county last offered per bundle kind: the ETag of the bundle installed or refused, so
-- an unchanged offer is answered 304 and not fetched again.
CREATE TABLE sync_state (
    kind       TEXT PRIMARY KEY CHECK (kind IN ('catalog', 'announcements', 'keyring')),
    etag       TEXT,
    -- The version installed or kept (announcements: their payload version).
    version    INTEGER,
    checked_at TEXT NOT NULL
);
-- The newest refusal per kind (downgrade, another county, replay, untrusted, invalid), reported
-- in heartbeats until a bundle of that kind installs.
CREATE TABLE sync_refusal (
    kind   TEXT PRIMARY KEY CHECK (kind IN ('catalog', 'announcements', 'keyring')),
    reason TEXT NOT NULL,
    detail TEXT NOT NULL,
    at     TEXT NOT NULL
);
-- Every key rotation bundle applied, as received, oldest first; replayed from the configured keys
-- (and verified again link by link) whenever the kiosk starts.
CREATE TABLE county_keyring (
    version    INTEGER PRIMARY KEY,
    bytes      BLOB NOT NULL,
    applied_at TEXT NOT NULL
);
