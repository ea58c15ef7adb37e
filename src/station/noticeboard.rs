//! The idle screen's announcements (公告栏) kept up to date: a tokio task around
//! `county::noticeboard` (fetch with ETag, verify, keep, pick what to show).
//!
//! First what the store kept is shown (even with the extranet down), then every `every`
//! whatever new the county published, verified against the trusted key and kept; what is shown
//! is filtered for the wall clock each time so expired ones leave the screen. Reports only
//! changes. Stopped by the station's shutdown (between refreshes, never inside one).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;

use super::ports::Announcement;
use crate::county::{CountyClient, noticeboard, wire};
use crate::store::Store;

fn lock(store: &Mutex<Store>) -> std::sync::MutexGuard<'_, Store> {
    store.lock().unwrap_or_else(|p| p.into_inner())
}

/// Starts the refresh loop on `rt`; `on_change` gets what the idle screen shows now.
pub fn start(
    rt: &tokio::runtime::Handle,
    store: Arc<Mutex<Store>>,
    client: Option<CountyClient>,
    trusted: ed25519_dalek::VerifyingKey,
    every: Duration,
    on_change: impl Fn(Vec<Announcement>) + Send + Sync + 'static,
) -> tokio::task::JoinHandle<()> {
    rt.spawn(async move {
        let (mut current, mut etag) = match noticeboard::stored(&lock(&store), &trusted) {
            Ok(Some((a, e))) => (Some(a), e),
            Ok(None) => (None, None),
            Err(e) => {
                tracing::warn!("kept announcements not shown: {e}");
                (None, None)
            }
        };
        let mut last: Option<Vec<Announcement>> = None;
        let mut publish = |current: &Option<wire::Announcements>| {
            let shown: Vec<Announcement> = current
                .as_ref()
                .map(|a| noticeboard::on_show(a, Utc::now()))
                .unwrap_or_default()
                .into_iter()
                .map(|a| Announcement {
                    title: a.title,
                    body: a.body,
                    published_at: a.published_at,
                })
                .collect();
            if last.as_ref() != Some(&shown) {
                on_change(shown.clone());
                last = Some(shown);
            }
        };
        publish(&current);
        loop {
            if let Some(client) = &client {
                match noticeboard::fetch(client, &trusted, etag.as_deref()).await {
                    Ok(Some((fresh, bytes, new_etag))) => {
                        let kept = noticeboard::keep(
                            &lock(&store),
                            &bytes,
                            new_etag.as_deref(),
                            Utc::now(),
                        );
                        if let Err(e) = kept {
                            tracing::warn!("announcements shown but not kept: {e}");
                        }
                        current = Some(fresh);
                        etag = new_etag;
                    }
                    Ok(None) => {}
                    Err(e) => tracing::warn!("announcements not refreshed: {e}"),
                }
            }
            publish(&current);
            tokio::time::sleep(every).await;
        }
    })
}
