//! Benchmark: catalogue search over a generated 10,000-item catalogue, p50 and p99 per query for
//! Chinese, full pinyin and initials queries, side by side with SQLite FTS5 (trigram tokenizer)
//! on the same data in the same run; plus the time to verify and import 10,000 items.
//!
//! Run: `cargo bench --bench search --no-default-features`. Figures go to docs/PERFORMANCE.md.
//! A plain harness (not criterion) because the figures wanted are per-query percentiles.

use std::hint::black_box;
use std::time::{Duration, Instant};

use pinyin::ToPinyin;
use rusqlite::{Connection, params};
use village_kiosk::catalog::bundle;
use village_kiosk::catalog::repo::{self, ImportOptions};
use village_kiosk::catalog::sample::generated_catalog;
use village_kiosk::catalog::search::SearchIndex;
use village_kiosk::catalog::{ServiceItem, validate};
use village_kiosk::store::Store;

const ITEMS: usize = 10_000;
const RUNS: usize = 2_000;
const LIMIT: usize = 20;

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Chinese,
    FullPinyin,
    Initials,
}

const QUERIES: &[(&str, Kind)] = &[
    ("养老", Kind::Chinese),
    ("残疾人证", Kind::Chinese),
    ("最低生活保障", Kind::Chinese),
    ("银行代发", Kind::Chinese),
    ("yanglao", Kind::FullPinyin),
    ("canjiren", Kind::FullPinyin),
    ("yinhang", Kind::FullPinyin),
    ("ylbx", Kind::Initials),
    ("zdshbz", Kind::Initials),
    ("cjrz", Kind::Initials),
];

fn percentiles(mut samples: Vec<Duration>) -> (Duration, Duration, Duration) {
    samples.sort();
    let at = |p: f64| samples[((samples.len() as f64 * p) as usize).min(samples.len() - 1)];
    (at(0.50), at(0.90), at(0.99))
}

fn us(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}

/// First reading of each character, as FTS5 users usually store pinyin: full and initials.
fn pinyin_columns(text: &str) -> (String, String) {
    let mut full = String::new();
    let mut initials = String::new();
    for (c, p) in text.chars().zip(text.to_pinyin()) {
        match p {
            Some(p) => {
                full.push_str(p.plain());
                initials.push_str(p.first_letter());
            }
            None if c.is_ascii_alphanumeric() => {
                full.push(c.to_ascii_lowercase());
                initials.push(c.to_ascii_lowercase());
            }
            None => {}
        }
    }
    (full, initials)
}

fn guide(item: &ServiceItem) -> String {
    let mut g = vec![item.department.clone(), item.applicants.clone()];
    g.extend(item.conditions.iter().cloned());
    g.extend(item.materials.iter().map(|m| m.name.clone()));
    g.extend(item.steps.iter().map(|s| s.description.clone()));
    g.join(" ")
}

fn build_fts(items: &[ServiceItem]) -> Connection {
    let conn = Connection::open_in_memory().unwrap();
    conn.execute_batch(
        "CREATE VIRTUAL TABLE fts USING fts5(name, aliases, guide, py, initials, tokenize = 'trigram');",
    )
    .unwrap();
    let tx = conn.unchecked_transaction().unwrap();
    {
        let mut ins = tx
            .prepare("INSERT INTO fts (rowid, name, aliases, guide, py, initials) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")
            .unwrap();
        for (i, item) in items.iter().enumerate() {
            let mut aliases = item.aliases.clone();
            aliases.extend(item.short_name.clone());
            let mut py = Vec::new();
            let mut ini = Vec::new();
            for t in std::iter::once(&item.name).chain(aliases.iter()) {
                let (f, s) = pinyin_columns(t);
                py.push(f);
                ini.push(s);
            }
            ins.execute(params![
                i as i64,
                item.name,
                aliases.join(" "),
                guide(item),
                py.join(" "),
                ini.join(" ")
            ])
            .unwrap();
        }
    }
    tx.commit().unwrap();
    conn
}

/// The FTS5 way: MATCH on the trigram index (3+ characters), LIKE for shorter Chinese queries
/// (the trigram tokenizer cannot index fewer than three characters), ranked by bm25.
fn fts_search(conn: &Connection, q: &str, kind: Kind) -> Vec<i64> {
    let (sql, arg) = match kind {
        Kind::Chinese if q.chars().count() >= 3 => (
            "SELECT rowid FROM fts WHERE fts MATCH ?1 ORDER BY rank LIMIT 20",
            format!("{{name aliases guide}}: \"{q}\""),
        ),
        Kind::Chinese => (
            "SELECT rowid FROM fts WHERE name LIKE ?1 OR aliases LIKE ?1 OR guide LIKE ?1 LIMIT 20",
            format!("%{q}%"),
        ),
        Kind::FullPinyin => (
            "SELECT rowid FROM fts WHERE fts MATCH ?1 ORDER BY rank LIMIT 20",
            format!("py: \"{q}\""),
        ),
        Kind::Initials => (
            "SELECT rowid FROM fts WHERE fts MATCH ?1 ORDER BY rank LIMIT 20",
            format!("initials: \"{q}\""),
        ),
    };
    let mut stmt = conn.prepare_cached(sql).unwrap();
    stmt.query_map([arg], |r| r.get(0))
        .unwrap()
        .map(|r| r.unwrap())
        .collect()
}

fn main() {
    // `cargo bench` passes `--bench`; ignore arguments.
    println!(
        "catalogue search benchmark: {ITEMS} generated items, {RUNS} runs per query, limit {LIMIT}"
    );
    let catalog = generated_catalog(ITEMS);

    // Import: verify the signed bundle (signature, parse, completeness), then replace in SQLite.
    let key = bundle::demo_signing_key();
    let signed = bundle::sign_catalog(&catalog, &key).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open_in(dir.path()).unwrap();
    let t = Instant::now();
    let opened = bundle::open_catalog(&signed, &key.verifying_key()).unwrap();
    let verify = t.elapsed();
    let t = Instant::now();
    repo::replace(
        &mut store,
        &opened,
        &ImportOptions {
            source: "bench".into(),
            signer_key: bundle::DEMO_PUBLIC_KEY_HEX.into(),
            imported_at: chrono::Utc::now(),
            allow_downgrade: false,
        },
    )
    .unwrap();
    let replace = t.elapsed();
    let t = Instant::now();
    let (_, loaded) = repo::load(&store).unwrap().unwrap();
    let load = t.elapsed();
    let t = Instant::now();
    let index = SearchIndex::build(&loaded.items);
    let build = t.elapsed();
    let t = Instant::now();
    let fts = build_fts(&loaded.items);
    let fts_build = t.elapsed();
    let t = Instant::now();
    black_box(validate::catalog_problems(&loaded));
    let check = t.elapsed();
    println!(
        "import of {ITEMS} items ({} KiB bundle): verify+parse+check {:.0} ms (of which completeness check {:.0} ms), replace in SQLite (one transaction, WAL, synchronous=FULL) {:.0} ms; load {:.0} ms; build search index {:.0} ms; build FTS5 trigram index {:.0} ms",
        signed.len() / 1024,
        verify.as_secs_f64() * 1e3,
        check.as_secs_f64() * 1e3,
        replace.as_secs_f64() * 1e3,
        load.as_secs_f64() * 1e3,
        build.as_secs_f64() * 1e3,
        fts_build.as_secs_f64() * 1e3,
    );

    println!();
    println!(
        "| query | kind | kiosk hits | kiosk p50 | kiosk p90 | kiosk p99 | FTS5 hits | FTS5 p50 | FTS5 p90 | FTS5 p99 |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for &(q, kind) in QUERIES {
        // Warm up both.
        for _ in 0..50 {
            black_box(index.search(q, LIMIT));
            black_box(fts_search(&fts, q, kind));
        }
        let mut ours = Vec::with_capacity(RUNS);
        let mut theirs = Vec::with_capacity(RUNS);
        let mut our_hits = 0;
        let mut fts_hits = 0;
        for _ in 0..RUNS {
            let t = Instant::now();
            our_hits = black_box(index.search(q, LIMIT)).len();
            ours.push(t.elapsed());
            let t = Instant::now();
            fts_hits = black_box(fts_search(&fts, q, kind)).len();
            theirs.push(t.elapsed());
        }
        let (o50, o90, o99) = percentiles(ours);
        let (f50, f90, f99) = percentiles(theirs);
        let kind = match kind {
            Kind::Chinese => "Chinese",
            Kind::FullPinyin => "full pinyin",
            Kind::Initials => "initials",
        };
        println!(
            "| `{q}` | {kind} | {our_hits} | {} | {} | {} | {fts_hits} | {} | {} | {} |",
            us(o50),
            us(o90),
            us(o99),
            us(f50),
            us(f90),
            us(f99)
        );
    }
}
