//! Benchmark: draining queued applications after an outage through the outbox worker, side by
//! side, in the same run and against the same reference back office, with a plain loop of the
//! same POSTs that persists nothing on the kiosk.
//!
//! First a one-shot run at 10,000 applications each (the figure; printed as a table),
//! then a criterion group at a smaller size for repeatable statistics.
//! `OUTBOX_BENCH_N` overrides the one-shot size.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::Utc;
use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput};
use village_kiosk::backoffice::EmbeddedBackoffice;
use village_kiosk::county::outbox::{DueItem, WorkerConfig};
use village_kiosk::county::{CountyAuth, CountyClient, NewApplication, Outbox, spawn_worker};
use village_kiosk::store::Store;

fn app(i: usize) -> NewApplication {
    NewApplication {
        item_code: "SB-001".into(),
        item_name: "城乡居民基本养老保险参保登记".into(),
        applicant_name: "王小明".into(),
        id_number: {
            let first17 = format!("41032919800101{:03}", i % 1000);
            let check = village_kiosk::idcard::card::gb11643_check_char(&first17).unwrap();
            format!("{first17}{check}")
        },
        phone: Some("13800138000".into()),
        fields: BTreeMap::from([
            ("contribution_level".into(), "300".into()),
            ("insured_group".into(), "普通居民".into()),
            ("bank_account".into(), "6222020200112233445".into()),
        ]),
    }
}

/// A kiosk store holding `n` pending applications, as after an outage. Filled with
/// `synchronous=OFF` (setup only, not measured); the worker reopens it with FULL.
fn queued_store(dir: &Path, n: usize) -> (PathBuf, Vec<DueItem>) {
    let mut store = Store::open_in(dir).expect("store");
    store
        .conn()
        .pragma_update(None, "synchronous", "OFF")
        .expect("pragma");
    for i in 0..n {
        Outbox::accept(&mut store, app(i), Utc::now()).expect("accept");
    }
    let items = Outbox::due(&store, n).expect("due");
    (store.path().to_path_buf(), items)
}

fn client(bo: &EmbeddedBackoffice) -> CountyClient {
    CountyClient::new(
        &bo.url(),
        CountyAuth::DemoToken {
            token: bo.token().into(),
            station_id: "ST-BENCH".into(),
        },
        Duration::from_secs(30),
    )
    .expect("client")
}

/// Starts the worker on a full queue and waits until the county has all `n`.
async fn drain(path: PathBuf, client: CountyClient, n: usize) -> Duration {
    let start = Instant::now();
    let worker = spawn_worker(
        path,
        client,
        WorkerConfig {
            heartbeat_interval: None,
            poll_interval: Duration::from_secs(3600),
            ..WorkerConfig::default()
        },
    )
    .expect("worker");
    let mut status = worker.status();
    status
        .wait_for(|s| s.delivered_total >= n as u64 || s.needs_attention_total > 0)
        .await
        .expect("worker alive");
    let elapsed = start.elapsed();
    assert_eq!(status.borrow().needs_attention_total, 0);
    worker.shutdown().await;
    elapsed
}

/// The same bodies, POSTed one after another with fresh keys, nothing stored on the kiosk.
async fn plain_loop(client: &CountyClient, items: &[DueItem]) -> Duration {
    let start = Instant::now();
    for item in items {
        let key = uuid::Uuid::new_v4().to_string();
        let reply = client.submit_raw(&key, &item.body).await.expect("post");
        assert_eq!(reply.status, 201);
    }
    start.elapsed()
}

fn one_shot(rt: &tokio::runtime::Runtime, bo: &EmbeddedBackoffice, n: usize) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, items) = queued_store(dir.path(), n);
    let c = client(bo);
    let plain = rt.block_on(plain_loop(&c, &items));
    let drained = rt.block_on(drain(path, c, n));
    let rate = |d: Duration| n as f64 / d.as_secs_f64();
    println!("outbox one-shot, {n} applications, same back office, same run:");
    println!(
        "  plain loop (no persistence): {:>8.2} s  {:>8.1} applications/s",
        plain.as_secs_f64(),
        rate(plain)
    );
    println!(
        "  outbox drain after outage:   {:>8.2} s  {:>8.1} applications/s",
        drained.as_secs_f64(),
        rate(drained)
    );
    println!(
        "  drain / plain rate:          {:>8.2} (target >= 0.50)",
        rate(drained) / rate(plain)
    );
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let county_dir = tempfile::tempdir().expect("tempdir");
    let bo =
        EmbeddedBackoffice::start(&county_dir.path().join("county.sqlite3")).expect("back office");

    let n: usize = std::env::var("OUTBOX_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    one_shot(&rt, &bo, n);

    let mut c = Criterion::default().configure_from_args();
    let small = 200;
    let mut group = c.benchmark_group("outbox");
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
        .throughput(Throughput::Elements(small as u64));
    group.bench_function(BenchmarkId::new("plain_loop", small), |b| {
        b.iter_custom(|iters| {
            let dir = tempfile::tempdir().expect("tempdir");
            let (_, items) = queued_store(dir.path(), small);
            let c = client(&bo);
            (0..iters)
                .map(|_| rt.block_on(plain_loop(&c, &items)))
                .sum()
        })
    });
    group.bench_function(BenchmarkId::new("drain", small), |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| {
                    let dir = tempfile::tempdir().expect("tempdir");
                    let (path, _) = queued_store(dir.path(), small);
                    rt.block_on(drain(path, client(&bo), small))
                })
                .sum()
        })
    });
    group.finish();
    c.final_summary();
    drop(bo);
}
