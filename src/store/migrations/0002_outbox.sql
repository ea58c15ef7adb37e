-- Outbox, cases and evaluations (issue 5).
-- Every row here is written before the screen says "accepted"; nothing is deleted except the
-- personal part of a confirmed application after its retention.

-- Work for the county: applications, evaluations and heartbeats, oldest first.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    -- 'application' | 'evaluation' | 'heartbeat'
    kind            TEXT NOT NULL CHECK (kind IN ('application', 'evaluation', 'heartbeat')),
    idempotency_key TEXT NOT NULL UNIQUE,
    -- The exact JSON body sent on every attempt; NULL once purged after retention.
    body            TEXT,
    -- 'pending' | 'delivered' | 'needs_attention'
    state           TEXT NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'delivered', 'needs_attention')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    created_at      TEXT NOT NULL,
    last_attempt_at TEXT,
    delivered_at    TEXT,
    -- The county's answer (JSON) once delivered.
    response        TEXT,
    purged_at       TEXT
);
CREATE INDEX outbox_pending ON outbox (state, id);

-- What lookup needs about an application, kept after the personal record is purged.
CREATE TABLE local_cases (
    receipt_number        TEXT PRIMARY KEY,
    outbox_id             INTEGER NOT NULL UNIQUE REFERENCES outbox (id),
    item_code             TEXT NOT NULL,
    item_name             TEXT NOT NULL,
    applicant_name_masked TEXT NOT NULL,
    -- hex(HMAC-SHA256(local salt, ID number)): finds a person's cases after a card read.
    person_tag            TEXT NOT NULL,
    case_number           TEXT UNIQUE,
    status                TEXT,
    status_note           TEXT,
    status_checked_at     TEXT,
    accepted_at           TEXT NOT NULL
);
CREATE INDEX local_cases_person ON local_cases (person_tag);

-- Receipt numbers: one counter per day.
CREATE TABLE receipt_counters (
    day  TEXT PRIMARY KEY,
    last INTEGER NOT NULL
);

-- Small settings of the outbox (the local person-tag salt).
CREATE TABLE outbox_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
