-- Ratings of applications the county has not confirmed yet (issue 14 #5).
-- A rating (好差评) given on the receipt page while the application is still queued (no case
-- number yet) waits here under its receipt number. In the transaction that records the
-- application's delivery it moves into the outbox as an evaluation with the case number the
-- county gave, keeping its idempotency key: it reaches the county once, after the application.
CREATE TABLE waiting_evaluations (
    receipt_number  TEXT PRIMARY KEY REFERENCES local_cases (receipt_number),
    idempotency_key TEXT NOT NULL UNIQUE,
    level           INTEGER NOT NULL CHECK (level BETWEEN 1 AND 5),
    comment         TEXT,
    evaluated_at    TEXT NOT NULL
);
