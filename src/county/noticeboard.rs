//! 公告栏: the county's announcements (通知公告, policy publicity) on the idle screen.
//!
//! The county publishes them as a signed bundle (`GET /v1/announcements`, kind
//! `announcements`, ed25519 like the catalogue). The payload carries a version and an issue time
//! (签发时间); a bundle older than the one kept is refused as a replay, and one with the same
//! version but other content is refused too (the county must raise the version). The kiosk keeps
//! the last bundle it verified in the store, exactly as received, so that after a restart with the
//! extranet down it still shows what the county last said; the signature is checked again
//! whenever it is read back. A refused or unreadable new bundle never replaces a good one.
//!
//! What is shown at a given time ([`on_show`]) and whether an offered set may replace the kept
//! one ([`judge`]) are pure. Announcements carry nothing personal.

use chrono::{DateTime, Utc};
use ed25519_dalek::VerifyingKey;
use rusqlite::{OptionalExtension, params};

use super::client::{BundleKind, ClientError, CountyClient};
use super::wire::{Announcement, Announcements};
use crate::catalog::bundle;
use crate::catalog::keyring::Keyring;
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
    #[error(
        "announcements bundle refused: version {offered} is older than the kept version {kept}; a replayed old bundle is ignored"
    )]
    Replay { kept: u64, offered: u64 },
    #[error(
        "announcements bundle refused: version {version} again, but with other content; the county must publish a new version"
    )]
    SameVersionChanged { version: u64 },
}

impl NoticeError {
    /// The stable word the heartbeat reports for a refusal (`None`: not a refusal).
    pub fn refusal_reason(&self) -> Option<&'static str> {
        match self {
            NoticeError::Replay { .. } => Some("replay"),
            NoticeError::SameVersionChanged { .. } => Some("invalid"),
            NoticeError::Refused(detail) if detail.contains("signed by key") => Some("untrusted"),
            NoticeError::Refused(detail) if detail.contains("bad signature") => Some("untrusted"),
            NoticeError::Refused(_) => Some("invalid"),
            NoticeError::Store(_) | NoticeError::Fetch(_) => None,
        }
    }
}

/// What an offered set of announcements is, next to the kept one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    /// Newer (or nothing kept yet): keep and show it.
    Newer,
    /// The same version and content (perhaps signed again with a rotated key): keep its bytes.
    Same,
}

/// Whether `offered` may replace `kept`: a lower version is a replay, the same version with other
/// content is refused. Pure.
pub fn judge(
    kept: Option<&Announcements>,
    offered: &Announcements,
) -> Result<Freshness, NoticeError> {
    let Some(kept) = kept else {
        return Ok(Freshness::Newer);
    };
    if offered.version < kept.version {
        return Err(NoticeError::Replay {
            kept: kept.version,
            offered: offered.version,
        });
    }
    if offered.version == kept.version {
        return if offered == kept {
            Ok(Freshness::Same)
        } else if kept.version == 0 {
            // Two unversioned bundles (made before versions existed): the newer fetch wins.
            Ok(Freshness::Newer)
        } else {
            Err(NoticeError::SameVersionChanged {
                version: offered.version,
            })
        };
    }
    Ok(Freshness::Newer)
}

/// Checks a payload county staff are about to sign: a version of at least 1 and an issue time.
pub fn check_for_signing(payload: &[u8]) -> Result<Announcements, String> {
    let a: Announcements = serde_json::from_slice(payload)
        .map_err(|e| format!("line {} column {}: {e}", e.line(), e.column()))?;
    if a.version == 0 {
        return Err(
            "`version` is missing or 0: give every announcements set a version above the last one published"
                .into(),
        );
    }
    if a.issued_at.is_none() {
        return Err(
            "`issued_at` is missing: give the time the county issues this set (RFC 3339)".into(),
        );
    }
    Ok(a)
}

/// Verifies an announcements bundle with any key of `ring` and reads its payload.
pub fn open_with(bytes: &[u8], ring: &Keyring) -> Result<Announcements, NoticeError> {
    let opened = ring
        .open(bytes, bundle::KIND_ANNOUNCEMENTS)
        .map_err(|e| NoticeError::Refused(e.to_string()))?;
    serde_json::from_slice(&opened.payload)
        .map_err(|e| NoticeError::Refused(format!("payload: {e}")))
}

/// The kept announcements verified against `ring`, with their ETag; `None` before the first.
pub fn stored_with(
    store: &Store,
    ring: &Keyring,
) -> Result<Option<(Announcements, Option<String>)>, NoticeError> {
    match kept_bytes(store)? {
        None => Ok(None),
        Some((bytes, etag)) => Ok(Some((open_with(&bytes, ring)?, etag))),
    }
}

/// A kept bundle's bytes and its ETag.
type Kept = (Vec<u8>, Option<String>);

fn kept_bytes(store: &Store) -> Result<Option<Kept>, NoticeError> {
    Ok(store
        .conn()
        .query_row(
            "SELECT bytes, etag FROM county_bundle WHERE kind = 'announcements'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?)
}

/// Verifies an offered bundle, refuses a replay, and keeps it: the one path by which new
/// announcements enter the store. A kept bundle that no longer verifies (a retired key) counts
/// as nothing kept.
pub fn accept(
    store: &Store,
    ring: &Keyring,
    bytes: &[u8],
    etag: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(Announcements, Freshness), NoticeError> {
    let offered = open_with(bytes, ring)?;
    let kept = match stored_with(store, ring) {
        Ok(k) => k.map(|(a, _)| a),
        Err(NoticeError::Refused(e)) => {
            tracing::warn!("kept announcements no longer verify ({e}); replacing them");
            None
        }
        Err(e) => return Err(e),
    };
    let freshness = judge(kept.as_ref(), &offered)?;
    keep(store, bytes, etag, now)?;
    Ok((offered, freshness))
}

/// Asks the county for announcements newer than the kept ones (by ETag) and [`accept`]s them:
/// `Some` when a new bundle was kept, `None` when unchanged.
pub async fn refresh(
    client: &CountyClient,
    store: &Store,
    ring: &Keyring,
    now: DateTime<Utc>,
) -> Result<Option<(Announcements, Freshness)>, NoticeError> {
    let etag = kept_bytes(store)?.and_then(|(_, e)| e);
    match client
        .bundle(BundleKind::Announcements, etag.as_deref())
        .await?
    {
        None => Ok(None),
        Some((bytes, etag)) => accept(store, ring, &bytes, etag.as_deref(), now).map(Some),
    }
}

/// Verifies a signed announcements bundle against one key and reads its payload (see
/// [`open_with`] for a set of keys).
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

/// Keeps a verified bundle (the caller verified it with [`open`]); prefer [`accept`], which also
/// refuses replays.
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
/// there is a new bundle, `None` when unchanged. The caller keeps it with [`keep`]. This does not
/// refuse a replay of an older bundle; [`refresh`] does.
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

    fn set(version: u64, items: Vec<Announcement>) -> Announcements {
        Announcements {
            version,
            issued_at: Some(at("2026-11-01T00:00:00Z")),
            items,
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
        let shown = on_show(&set(0, items.clone()), now);
        let ids: Vec<&str> = shown.iter().map(|a| a.id.as_str()).collect();
        assert_eq!(ids, ["new", "old"]);
        // Expiry is exclusive: at the instant it expires it is gone.
        let gone = on_show(&set(0, items.clone()), at("2027-01-01T00:00:00Z"));
        assert!(gone.iter().all(|a| a.id != "new"));
        for i in 0..8 {
            items.push(notice(&format!("n{i}"), "2026-11-10T00:00:00Z", None));
        }
        assert_eq!(on_show(&set(0, items), now).len(), MAX_SHOWN);
    }

    #[test]
    fn kept_bundle_is_verified_again_when_read_back() {
        let dir = tempfile::tempdir().expect("dir");
        let store = Store::open(dir.path().join("k.sqlite3")).expect("store");
        let key = demo_signing_key().verifying_key();
        assert!(stored(&store, &key).expect("empty").is_none());
        let a = set(1, vec![notice("a", "2026-11-01T00:00:00Z", None)]);
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

    #[test]
    fn an_older_bundle_is_a_replay_and_the_same_version_must_not_change() {
        let v1 = set(1, vec![notice("a", "2026-11-01T00:00:00Z", None)]);
        let mut v2 = set(2, vec![notice("b", "2026-11-20T00:00:00Z", None)]);
        assert_eq!(judge(None, &v1).unwrap(), Freshness::Newer);
        assert_eq!(judge(Some(&v1), &v2).unwrap(), Freshness::Newer);
        assert_eq!(judge(Some(&v2), &v2).unwrap(), Freshness::Same);
        assert!(matches!(
            judge(Some(&v2), &v1),
            Err(NoticeError::Replay {
                kept: 2,
                offered: 1
            })
        ));
        v2.items[0].title = "改过的标题".into();
        let kept = set(2, vec![notice("b", "2026-11-20T00:00:00Z", None)]);
        assert!(matches!(
            judge(Some(&kept), &v2),
            Err(NoticeError::SameVersionChanged { version: 2 })
        ));
        // Unversioned bundles from before versions existed replace each other.
        let legacy = set(0, vec![]);
        assert_eq!(
            judge(
                Some(&legacy),
                &set(0, vec![notice("x", "2026-11-01T00:00:00Z", None)])
            )
            .unwrap(),
            Freshness::Newer
        );
    }

    #[test]
    fn accept_keeps_newer_and_refuses_a_replay_leaving_the_kept_one() {
        let dir = tempfile::tempdir().expect("dir");
        let store = Store::open(dir.path().join("k.sqlite3")).expect("store");
        let ring = Keyring::demo();
        let v1 = signed(&set(1, vec![notice("a", "2026-11-01T00:00:00Z", None)]));
        let v2 = signed(&set(2, vec![notice("b", "2026-11-20T00:00:00Z", None)]));
        accept(&store, &ring, &v1, Some("\"1\""), Utc::now()).expect("v1");
        accept(&store, &ring, &v2, Some("\"2\""), Utc::now()).expect("v2");
        let err = accept(&store, &ring, &v1, Some("\"1\""), Utc::now()).unwrap_err();
        assert_eq!(err.refusal_reason(), Some("replay"));
        let (kept, etag) = stored_with(&store, &ring).expect("read").expect("kept");
        assert_eq!(kept.version, 2);
        assert_eq!(etag.as_deref(), Some("\"2\""));
    }

    #[test]
    fn signing_needs_a_version_and_an_issue_time() {
        assert!(
            check_for_signing(br#"{"items":[]}"#)
                .unwrap_err()
                .contains("version")
        );
        assert!(
            check_for_signing(br#"{"version":3,"items":[]}"#)
                .unwrap_err()
                .contains("issued_at")
        );
        let ok =
            check_for_signing(br#"{"version":3,"issued_at":"2026-12-01T00:00:00Z","items":[]}"#)
                .unwrap();
        assert_eq!(ok.version, 3);
    }
}
