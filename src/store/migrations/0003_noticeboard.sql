-- Signed bundles from the county kept as received (issue 6: announcements on the idle screen),
-- so that the kiosk shows the last verified announcements after a restart with the extranet
-- down. The signature is checked again whenever a bundle is read back.
CREATE TABLE county_bundle (
    kind       TEXT PRIMARY KEY CHECK (kind IN ('announcements')),
    bytes      BLOB NOT NULL,
    etag       TEXT,
    fetched_at TEXT NOT NULL
);
