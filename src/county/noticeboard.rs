//! 公告栏: the county's announcements (通知公告, policy publicity) on the idle screen.
//!
//! The county publishes them as a signed bundle (`GET /v1/announcements`, kind
//! `announcements`, ed25519 like the catalogue). The kiosk keeps the last bundle it verified in
//! the store, exactly as received, so that after a restart with the extranet down it still
//! shows what the county last said; the signature is checked again whenever it is read back.
//! A refused or unreadable new bundle never replaces a good one.
//!
//! What is shown at a given time ([`on_show`]) is pure: published, not expired, newest first,
//! at most [`MAX_SHOWN`]. Announcements carry nothing personal.

use chrono::{DateTime, Utc};
use ed25519_dalek::VerifyingKey;
use rusqlite::{OptionalExtension, params};

use super::client::{BundleKind, ClientError, CountyClient};
use super::wire::{Announcement, Announcements};
use crate::catalog::bundle;
use crate::store::Store;

/// At most this many announcements are on the idle screen (the newest).
pub const MAX_SHOWN: usize = 5;

#[derive(Debug, thiserror::Error)]
pub enum NoticeError {
    #[error("announcements store: {0}")]
    Store(#[from] rusqlite::Error),
    #[error("announcements bundle refused: {0}")]
    Refused(String),
    #[error("announcements fetch: {0}")]
    Fetch(#[from] ClientError),
}

/// Verifies a signed announcements bundle and reads its payload.
pub fn open(bytes: &[u8], trusted: &VerifyingKey) -> Result<Announcements, NoticeError> {
    let payload = bundle::open(bytes, bundle::KIND_ANNOUNCEMENTS, trusted)
        .map_err(|e| NoticeError::Refused(e.to_string()))?;
    serde_json::from_slice(&payload).map_err(|e| NoticeError::Refused(format!("payload: {e}")))
}

/// The announcements last kept, verified again, with their ETag; `None` before the first.
pub fn stored(
    store: &Store,
    trusted: &VerifyingKey,
) -> Result<Option<(Announcements, Option<String>)>, NoticeError> {
    let row: Option<(Vec<u8>, Option<String>)> = store
        .conn()
        .query_row(
            "SELECT bytes, etag FROM county_bundle WHERE kind = 'announcements'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    match row {
        None => Ok(None),
        Some((bytes, etag)) => Ok(Some((open(&bytes, trusted)?, etag))),
    }
}

/// Keeps a verified bundle (the caller verified it with [`open`]).
pub fn keep(
    store: &Store,
    bytes: &[u8],
    etag: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), NoticeError> {
    store.conn().execute(
        "INSERT INTO county_bundle (kind, bytes, etag, fetched_at)
         VALUES ('announcements', ?1, ?2, ?3)
         ON CONFLICT (kind) DO UPDATE
         SET bytes = excluded.bytes, etag = excluded.etag, fetched_at = excluded.fetched_at",
        params![bytes, etag, now.to_rfc3339()],
    )?;
    Ok(())
}

/// What the idle screen shows at `now`: published, not expired, newest first, at most
/// [`MAX_SHOWN`].
pub fn on_show(all: &Announcements, now: DateTime<Utc>) -> Vec<Announcement> {
    let mut shown: Vec<Announcement> = all
        .items
        .iter()
        .filter(|a| a.published_at <= now && a.expires_at.is_none_or(|e| now < e))
        .cloned()
        .collect();
    shown.sort_by(|a, b| {
        b.published_at
            .cmp(&a.published_at)
            .then_with(|| a.id.cmp(&b.id))
    });
    shown.truncate(MAX_SHOWN);
    shown
}

/// Asks the county for announcements newer than `etag`: `Some((verified, bytes, etag))` when
/// there is a new bundle, `None` when unchanged. The caller keeps it with [`keep`].
pub async fn fetch(
    client: &CountyClient,
    trusted: &VerifyingKey,
    etag: Option<&str>,
) -> Result<Option<(Announcements, Vec<u8>, Option<String>)>, NoticeError> {
    match client.bundle(BundleKind::Announcements, etag).await? {
        None => Ok(None),
        Some((bytes, etag)) => {
            let verified = open(&bytes, trusted)?;
            Ok(Some((verified, bytes, etag)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::bundle::{demo_signing_key, sign};

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("time")
            .with_timezone(&Utc)
    }

    fn notice(id: &str, published: &str, expires: Option<&str>) -> Announcement {
        Announcement {
            id: id.into(),
            title: format!("标题{id}"),
            body: "正文".into(),
            published_at: at(published),
            expires_at: expires.map(at),
        }
    }

    fn signed(a: &Announcements) -> Vec<u8> {
        sign(
            bundle::KIND_ANNOUNCEMENTS,
            &serde_json::to_vec(a).expect("json"),
            &demo_signing_key(),
        )
    }

    #[test]
    fn shows_published_unexpired_newest_first_and_at_most_five() {
        let mut items = vec![
            notice("old", "2026-01-01T00:00:00Z", None),
            notice(
                "expired",
                "2026-06-01T00:00:00Z",
                Some("2026-11-01T00:00:00Z"),
            ),
            notice("future", "2026-12-24T00:00:00Z", None),
            notice("new", "2026-11-20T00:00:00Z", Some("2027-01-01T00:00:00Z")),
        ];
        let now = at("2026-11-28T08:00:00Z");
        let shown = on_show(
            &Announcements {
                items: items.clone(),
            },
            now,
        );
        let ids: Vec<&str> = shown.iter().map(|a| a.id.as_str()).collect();
        assert_eq!(ids, ["new", "old"]);
        // Expiry is exclusive: at the instant it expires it is gone.
        let gone = on_show(
            &Announcements {
                items: items.clone(),
            },
            at("2027-01-01T00:00:00Z"),
        );
        assert!(gone.iter().all(|a| a.id != "new"));
        for i in 0..8 {
            items.push(notice(&format!("n{i}"), "2026-11-10T00:00:00Z", None));
        }
        assert_eq!(on_show(&Announcements { items }, now).len(), MAX_SHOWN);
    }

    #[test]
    fn kept_bundle_is_verified_again_when_read_back() {
        let dir = tempfile::tempdir().expect("dir");
        let store = Store::open(dir.path().join("k.sqlite3")).expect("store");
        let key = demo_signing_key().verifying_key();
        assert!(stored(&store, &key).expect("empty").is_none());
        let a = Announcements {
            items: vec![notice("a", "2026-11-01T00:00:00Z", None)],
        };
        let bytes = signed(&a);
        assert_eq!(open(&bytes, &key).expect("verifies"), a);
        keep(&store, &bytes, Some("\"e1\""), Utc::now()).expect("keep");
        let (back, etag) = stored(&store, &key).expect("read").expect("kept");
        assert_eq!(back, a);
        assert_eq!(etag.as_deref(), Some("\"e1\""));

        // Another key (a rotated or wrong key): what is kept is refused, not shown.
        let other = ed25519_dalek::SigningKey::from_bytes(&[7; 32]).verifying_key();
        assert!(matches!(
            stored(&store, &other),
            Err(NoticeError::Refused(_))
        ));

        // A tampered bundle is refused.
        let mut bad = bytes.clone();
        let n = bad.len();
        bad[n / 2] ^= 1;
        assert!(open(&bad, &key).is_err());
    }
}
