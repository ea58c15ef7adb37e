//! 联系电话留存: the phone a person agreed the county may keep, offered (masked) at their next
//! application so they need not type it again. Kept only with the consent given on the kiosk's
//! screen (`ApplicationSubmission::keep_phone`); an application without that consent removes
//! what was kept, so the newest application's choice always holds.
//!
//! Its table lives in its own schema constant, applied when the database opens; portable SQL
//! (numbered placeholders, `ON CONFLICT ... DO UPDATE`), so it runs on PostgreSQL too. Answered
//! only through the card-proof person lookup (`POST /v1/persons/cases`), never by ID number.

use super::sql::{Conn, OptionalExtension, params};
use chrono::{DateTime, Utc};

pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS kept_phones (
    person_key TEXT PRIMARY KEY,
    phone      TEXT NOT NULL,
    kept_at    TEXT NOT NULL
);
";

/// Records the choice of the person's newest application: keeps `phone` when they consented
/// (and gave one), forgets it otherwise.
pub fn record(
    conn: &Conn,
    person_key: &str,
    phone: Option<&str>,
    keep: bool,
    now: DateTime<Utc>,
) -> crate::backoffice::sql::Result<()> {
    match phone.filter(|_| keep) {
        Some(phone) => conn.execute(
            "INSERT INTO kept_phones (person_key, phone, kept_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (person_key) DO UPDATE SET phone = excluded.phone, kept_at = excluded.kept_at",
            params![
                person_key,
                phone,
                now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
            ],
        )?,
        None => conn.execute(
            "DELETE FROM kept_phones WHERE person_key = ?1",
            params![person_key],
        )?,
    };
    Ok(())
}

/// The phone kept for `person_key`, if they consented.
pub fn kept(conn: &Conn, person_key: &str) -> crate::backoffice::sql::Result<Option<String>> {
    conn.query_row(
        "SELECT phone FROM kept_phones WHERE person_key = ?1",
        params![person_key],
        |r| r.get(0),
    )
    .optional()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_only_with_consent_and_forgotten_when_a_later_application_withdraws_it() {
        let conn = Conn::sqlite(rusqlite::Connection::open_in_memory().unwrap());
        conn.execute_batch(SCHEMA).unwrap();
        let now = Utc::now();
        record(&conn, "pk", Some("13800138000"), false, now).unwrap();
        assert_eq!(kept(&conn, "pk").unwrap(), None);
        record(&conn, "pk", Some("13800138000"), true, now).unwrap();
        assert_eq!(kept(&conn, "pk").unwrap().as_deref(), Some("13800138000"));
        record(&conn, "pk", Some("13900139000"), true, now).unwrap();
        assert_eq!(kept(&conn, "pk").unwrap().as_deref(), Some("13900139000"));
        record(&conn, "pk", Some("13900139000"), false, now).unwrap();
        assert_eq!(kept(&conn, "pk").unwrap(), None);
        assert_eq!(kept(&conn, "other").unwrap(), None);
    }
}
