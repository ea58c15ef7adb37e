//! Load benchmark of the county back office (issue 13 part 5): 500 simulated stations send a
//! heartbeat every (time-compressed) minute and submissions arrive at a village day's peak
//! rate, against `county-backoffice serve` processes: one on SQLite, one on PostgreSQL, two on
//! one PostgreSQL (stations split between them, each submission's retry sent to the other
//! process). Reports throughput, p50/p99 latency, errors (answers other than 2xx, transport
//! failures) and duplicates (receipts with more than one case).
//!
//! Time is compressed: `LOAD_COMPRESSION` (default 10) simulated minutes pass per real
//! minute, so heartbeats come every 6 s per station and submissions 10x the real peak rate.
//! `LOAD_SECS` (default 45) is each run's length, `LOAD_STATIONS` (default 500) the fleet.
//! Requests are paced by timers (an open loop), stopped after `LOAD_SECS`, then drained.
//!
//! Run: `cargo bench --no-default-features --features backoffice --bench backoffice_load`
//! (needs Debian's `postgresql` package).

use std::path::Path;
use std::process::Child;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use village_kiosk::backoffice::Db;
use village_kiosk::backoffice::pg_server::{PgServer, any_free_port as free_port, spawn_serve};
use village_kiosk::county::{CountyAuth, CountyClient};

const BIN: &str = env!("CARGO_BIN_EXE_county-backoffice");
const TOKEN: &str = "load-token";
/// A busy village service point takes about 30 applications on its busiest day, a fifth of
/// them in the peak hour: 6 an hour per station.
const PEAK_PER_STATION_HOUR: f64 = 6.0;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn submission(receipt: &str) -> String {
    serde_json::json!({
        "receipt_number": receipt,
        "item_code": "SB-001",
        "item_name": "城乡居民基本养老保险参保登记",
        "applicant": { "name": "王小明", "id_number": "410329198001010019" },
        "fields": {},
        "accepted_at": Utc::now(),
    })
    .to_string()
}

fn heartbeat() -> String {
    serde_json::json!({
        "software_version": "1.0.0",
        "reader": { "ok": true },
        "printer": { "ok": true },
        "paper": "ok",
        "queue_length": 0,
        "clock": Utc::now(),
    })
    .to_string()
}

#[derive(Default)]
struct Stats {
    heartbeats: Vec<Duration>,
    submissions: Vec<Duration>,
    errors: u64,
}

fn pct(v: &mut [Duration], p: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort();
    let i = ((v.len() as f64 * p).ceil() as usize).clamp(1, v.len()) - 1;
    v[i].as_secs_f64() * 1000.0
}

async fn timed(
    stats: &Mutex<Stats>,
    submission: bool,
    f: impl std::future::Future<Output = Result<u16, String>>,
) {
    let t = Instant::now();
    let r = f.await;
    let d = t.elapsed();
    let mut s = stats.lock().unwrap();
    match r {
        Ok(200..=299) => {}
        _ => s.errors += 1,
    }
    if submission {
        s.submissions.push(d);
    } else {
        s.heartbeats.push(d);
    }
}

/// One run against `dbs` (the `--db` of each process; two entries: two processes).
fn run(label: &str, dbs: &[String], stations: usize, secs: u64, compression: f64) -> String {
    let ports: Vec<u16> = dbs.iter().map(|_| free_port()).collect();
    let children: Vec<Child> = dbs
        .iter()
        .zip(&ports)
        .map(|(db, p)| spawn_serve(BIN, db, *p, TOKEN))
        .collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let clients: Vec<Vec<Arc<CountyClient>>> = (0..stations)
        .map(|i| {
            ports
                .iter()
                .map(|p| {
                    Arc::new(
                        CountyClient::new(
                            &format!("http://127.0.0.1:{p}"),
                            CountyAuth::DemoToken {
                                token: TOKEN.into(),
                                station_id: format!("ST-{i:04}"),
                            },
                            Duration::from_secs(30),
                        )
                        .unwrap(),
                    )
                })
                .collect()
        })
        .collect();
    let stats = Arc::new(Mutex::new(Stats::default()));
    let heartbeat_every = Duration::from_secs_f64(60.0 / compression);
    let rate = stations as f64 * PEAK_PER_STATION_HOUR / 3600.0 * compression;
    let started = Instant::now();
    let deadline = started + Duration::from_secs(secs);
    rt.block_on(async {
        let mut tasks = Vec::new();
        for (i, own) in clients.iter().enumerate() {
            let c = own[i % own.len()].clone();
            let stats = stats.clone();
            // Spread over the minute, as stations booted at different times.
            let offset = heartbeat_every.mul_f64(i as f64 / stations as f64);
            tasks.push(tokio::spawn(async move {
                let start = tokio::time::Instant::now() + offset;
                let mut tick = tokio::time::interval_at(start, heartbeat_every);
                loop {
                    tick.tick().await;
                    if Instant::now() >= deadline {
                        break;
                    }
                    let body = heartbeat();
                    timed(&stats, false, async {
                        c.heartbeat_raw(&body)
                            .await
                            .map(|r| r.status)
                            .map_err(|e| e.to_string())
                    })
                    .await;
                }
            }));
        }
        let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
        let mut n = 0usize;
        let mut sends = Vec::new();
        loop {
            tick.tick().await;
            if Instant::now() >= deadline {
                break;
            }
            let station = n % stations;
            let own = &clients[station];
            let (first, retry) = (
                own[station % own.len()].clone(),
                own[(station + 1) % own.len()].clone(),
            );
            let stats = stats.clone();
            let key = format!("load-{n}");
            let body = submission(&format!("CG-LOAD-{n:06}"));
            n += 1;
            sends.push(tokio::spawn(async move {
                // The application, then the same again (a retry after a lost answer), to the
                // other process when there are two.
                for c in [first, retry] {
                    timed(&stats, true, async {
                        c.submit_raw(&key, &body)
                            .await
                            .map(|r| r.status)
                            .map_err(|e| e.to_string())
                    })
                    .await;
                }
            }));
        }
        for t in tasks.into_iter().chain(sends) {
            t.await.unwrap();
        }
    });
    let wall = started.elapsed().as_secs_f64();
    for mut c in children {
        let _ = c.kill();
        let _ = c.wait();
    }
    let receipts = Db::open(Path::new(&dbs[0])).unwrap().receipts().unwrap();
    let duplicates = receipts.iter().filter(|(_, _, n)| *n > 1).count();
    let mut s = stats.lock().unwrap();
    let total = s.heartbeats.len() + s.submissions.len();
    let line = format!(
        "| {label} | {} | {} ({} cases) | {:.1} req/s | {:.1} / {:.1} ms | {:.1} / {:.1} ms | {} | {} |",
        s.heartbeats.len(),
        s.submissions.len(),
        receipts.len(),
        total as f64 / wall,
        pct(&mut s.heartbeats, 0.5),
        pct(&mut s.heartbeats, 0.99),
        pct(&mut s.submissions, 0.5),
        pct(&mut s.submissions, 0.99),
        s.errors,
        duplicates
    );
    println!("{line}");
    line
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else is read from the command line.
    let stations: usize = env_or("LOAD_STATIONS", 500);
    let secs: u64 = env_or("LOAD_SECS", 45);
    let compression: f64 = env_or("LOAD_COMPRESSION", 10.0);
    println!(
        "{stations} stations, heartbeat every {:.1} s, submissions {:.2}/s (each sent twice), {secs} s per run",
        60.0 / compression,
        stations as f64 * PEAK_PER_STATION_HOUR / 3600.0 * compression
    );
    println!(
        "| back office | heartbeats | submissions | throughput | heartbeat p50 / p99 | submission p50 / p99 | errors | duplicates |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let dir = tempfile::tempdir().unwrap();
    let sqlite = dir.path().join("county.sqlite3").display().to_string();
    run("1 process, SQLite", &[sqlite], stations, secs, compression);
    let pg = PgServer::start().unwrap_or_else(|e| panic!("{e}"));
    let one = pg.create_database("one").unwrap();
    run("1 process, PostgreSQL", &[one], stations, secs, compression);
    let two = pg.create_database("two").unwrap();
    run(
        "2 processes, one PostgreSQL",
        &[two.clone(), two],
        stations,
        secs,
        compression,
    );
}
