-- Catalogue tables (issue 2).
-- The installed catalogue: one row of metadata, one row per service item holding the item as
-- JSON (the bundle's shape) plus the columns lookups use. Replaced whole in one transaction.

CREATE TABLE catalog_meta (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    county       TEXT    NOT NULL,
    version      INTEGER NOT NULL,
    item_count   INTEGER NOT NULL,
    imported_at  TEXT    NOT NULL,  -- RFC 3339, UTC
    source       TEXT    NOT NULL,  -- file name or URL the bundle came from
    signer_key   TEXT    NOT NULL   -- hex public key that verified the bundle
);

CREATE TABLE catalog_item (
    code       TEXT    PRIMARY KEY NOT NULL,
    position   INTEGER NOT NULL UNIQUE,  -- order in the county's catalogue
    category   TEXT    NOT NULL,          -- Chinese label, e.g. 社保
    name       TEXT    NOT NULL,
    item_json  TEXT    NOT NULL
);

CREATE INDEX catalog_item_by_category ON catalog_item (category, position);
