//! `kiosk catalog …`: import, verify, list, show, search, export and sign the service catalogue
//! (事项目录), and generate the county's signing key.
//!
//! Human output by default (guides in Chinese, aligned), `--json` for machines. Errors name the
//! file, line or field and the fix, and exit non-zero. When nothing has been imported yet and the
//! kiosk is in demo mode, read commands use the built-in demo catalogue and say so on stderr.
//! Nothing here changes the installed catalogue except `import`, and that only in one transaction.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, anyhow, bail};
use ed25519_dalek::VerifyingKey;
use serde_json::json;

use super::Globals;
use crate::catalog::bundle::{self, BundleError, TrustedKey};
use crate::catalog::repo::{self, CatalogMeta, CatalogSource, ImportOptions, RepoError};
use crate::catalog::search::{MatchVia, MatchedField, SearchIndex};
use crate::catalog::{Catalog, Category, FieldKind, ServiceItem, validate};
use crate::config::{self, LoadedConfig};
use crate::store::Store;

#[derive(Debug, clap::Subcommand)]
pub enum CatalogCommand {
    /// Verify a signed catalogue bundle from the county and install it, replacing the catalogue
    /// in use in one transaction (nothing changes if anything is wrong).
    Import {
        /// The signed bundle (made by `kiosk catalog sign`).
        file: PathBuf,
        /// Accept a catalogue version older than the installed one (a deliberate roll-back).
        #[arg(long)]
        allow_downgrade: bool,
        #[arg(long)]
        json: bool,
    },
    /// Verify a signed catalogue bundle without installing it.
    Verify {
        file: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// List the service items, all or of one category (社保, 医保, 民政, 残联, 卫健, 司法,
    /// 农业农村, 退役军人, 就业).
    List {
        #[arg(long, short)]
        category: Option<String>,
        /// Only items under this life event (主题), e.g. 退休养老 (an unknown one lists them all).
        #[arg(long)]
        life_event: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Show one item's complete guide (办事指南) and application form.
    Show {
        /// The item code (事项编码), e.g. SB-001.
        code: String,
        #[arg(long)]
        json: bool,
    },
    /// Search by Chinese (养老), full pinyin (yanglao) or pinyin initials (ylbx).
    Search {
        #[arg(required = true, num_args = 1..)]
        query: Vec<String>,
        /// At most this many results.
        #[arg(long, default_value_t = 20)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
    /// Write the catalogue in use as plain JSON (the shape `kiosk catalog sign` takes).
    Export {
        /// Write to this file instead of stdout.
        #[arg(long, short)]
        out: Option<PathBuf>,
    },
    /// Sign a catalogue JSON file into a bundle the kiosks import (county staff).
    Sign {
        /// The catalogue JSON (or, with --kind announcements, the announcements JSON).
        input: PathBuf,
        /// Where to write the signed bundle.
        #[arg(long, short)]
        out: PathBuf,
        /// The county's signing key file (made by `kiosk catalog keygen`).
        #[arg(long, value_name = "KEYFILE", required_unless_present = "demo_key")]
        key: Option<PathBuf>,
        /// Sign with the public DEMO key instead (demo and test bundles only).
        #[arg(long, conflicts_with = "key")]
        demo_key: bool,
        /// The payload kind: `catalog`, `announcements` or `keyring` (a key rotation).
        #[arg(long, default_value = bundle::KIND_CATALOG)]
        kind: String,
    },
    /// Generate the county's signing key pair: KEYFILE (secret, mode 0600) and KEYFILE.pub.
    Keygen {
        /// Where to write the secret key.
        #[arg(long, short, value_name = "KEYFILE")]
        out: PathBuf,
        /// Overwrite an existing key file.
        #[arg(long)]
        force: bool,
    },
}

pub fn run(cmd: CatalogCommand, g: &Globals) -> anyhow::Result<ExitCode> {
    match cmd {
        CatalogCommand::Import {
            file,
            allow_downgrade,
            json,
        } => import(g, &file, allow_downgrade, json),
        CatalogCommand::Verify { file, json } => verify(g, &file, json),
        CatalogCommand::List {
            category,
            life_event,
            json,
        } => list(g, category.as_deref(), life_event.as_deref(), json),
        CatalogCommand::Show { code, json } => show(g, &code, json),
        CatalogCommand::Search { query, limit, json } => search(g, &query.join(" "), limit, json),
        CatalogCommand::Export { out } => export(g, out.as_deref()),
        CatalogCommand::Sign {
            input,
            out,
            key,
            demo_key,
            kind,
        } => sign(&input, &out, key.as_deref(), demo_key, &kind),
        CatalogCommand::Keygen { out, force } => keygen(&out, force),
    }
}

/// Loads the config and reports unknown keys on stderr (only `kiosk config check` fails on them).
pub(crate) fn load_config(g: &Globals) -> anyhow::Result<LoadedConfig> {
    Ok(g.loaded()?.clone())
}

/// The key bundles must be signed with: `county.catalog_public_key`, or the DEMO key in demo mode.
fn trusted_key(cfg: &LoadedConfig) -> anyhow::Result<VerifyingKey> {
    match bundle::trusted_key(&cfg.config) {
        Ok(TrustedKey::Configured(k)) => Ok(k),
        Ok(TrustedKey::Demo(k)) => {
            eprintln!(
                "note: demo mode: verifying against the DEMO county key (set county.catalog_public_key for a real county)"
            );
            Ok(k)
        }
        Err(e) => match crate::catalog::keyring::Keyring::from_config(&cfg.config) {
            // Only county.trusted_keys is set: any of them (the keyring verifies with all).
            Ok(ring) if !ring.keys().is_empty() => Ok(ring.keys()[0]),
            _ => bail!("{}: {e}", cfg.path.display()),
        },
    }
}

/// The catalogue in use: the installed one, or the demo catalogue in demo mode.
fn catalog_in_use(cfg: &LoadedConfig) -> anyhow::Result<(Catalog, CatalogSource)> {
    let (catalog, source) = repo::in_use(&cfg.config)?;
    if source == CatalogSource::Demo {
        eprintln!(
            "note: no catalogue imported yet in {}; using the built-in demo catalogue (demo mode)",
            config::data_dir(&cfg.config).display()
        );
    }
    Ok((catalog, source))
}

fn read_file(path: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

fn bundle_error(file: &Path, e: BundleError) -> anyhow::Error {
    match e {
        BundleError::Incomplete { problems } => anyhow!(
            "{}: the catalogue is incomplete; the county must fix these and sign again:\n  {}",
            file.display(),
            problems.join("\n  ")
        ),
        e => anyhow!("{}: {e}", file.display()),
    }
}

fn summary_json(catalog: &Catalog, meta: Option<&CatalogMeta>) -> serde_json::Value {
    json!({
        "county": catalog.county,
        "version": catalog.version,
        "items": catalog.items.len(),
        "installed": meta,
        "demo": meta.is_none(),
    })
}

fn import(g: &Globals, file: &Path, allow_downgrade: bool, json: bool) -> anyhow::Result<ExitCode> {
    let cfg = load_config(g)?;
    let key = trusted_key(&cfg)?;
    let bytes = read_file(file)?;
    let (catalog, key) = open_with_keyring(&cfg, &bytes, key).map_err(|e| bundle_error(file, e))?;
    let dir = config::data_dir(&cfg.config);
    let mut store = Store::open_in(&dir)?;
    let previous = repo::meta(&store)?;
    let opts = ImportOptions {
        source: file.display().to_string(),
        signer_key: hex::encode(key.to_bytes()),
        imported_at: chrono::Utc::now(),
        allow_downgrade,
    };
    let meta = repo::replace(&mut store, &catalog, &opts).map_err(|e| match e {
        RepoError::Incomplete { problems } => anyhow!(
            "{}: not imported, the catalogue is incomplete:\n  {}",
            file.display(),
            problems.join("\n  ")
        ),
        e => anyhow!(
            "{}: not imported: {e}; the catalogue in use is unchanged",
            file.display()
        ),
    })?;
    if json {
        outln!(
            "{}",
            json!({ "imported": meta, "previous": previous, "store": store.path() })
        );
    } else {
        outln!(
            "imported catalogue of {} version {} ({} items) from {}",
            meta.county,
            meta.version,
            meta.item_count,
            file.display()
        );
        match previous {
            Some(p) => outln!("replaced version {} ({} items)", p.version, p.item_count),
            None => outln!("first catalogue installed in {}", store.path().display()),
        }
        outln!(
            "已导入事项目录：{} 第 {} 版，共 {} 项。",
            meta.county,
            meta.version,
            meta.item_count
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Verifies with the keys trusted now (the configured key and the county's key rotations kept
/// in the store); returns the catalogue and the key that verified it.
fn open_with_keyring(
    cfg: &LoadedConfig,
    bytes: &[u8],
    configured: VerifyingKey,
) -> Result<(Catalog, VerifyingKey), BundleError> {
    match super::county::trusted_keyring(&cfg.config) {
        Ok(ring) => {
            let (catalog, signer) = ring.open_catalog(bytes)?;
            let key = bundle::parse_verifying_key(&signer).unwrap_or(configured);
            Ok((catalog, key))
        }
        Err(_) => bundle::open_catalog(bytes, &configured).map(|c| (c, configured)),
    }
}

fn verify(g: &Globals, file: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let cfg = load_config(g)?;
    let key = trusted_key(&cfg)?;
    let bytes = read_file(file)?;
    let (catalog, key) = open_with_keyring(&cfg, &bytes, key).map_err(|e| bundle_error(file, e))?;
    if json {
        outln!(
            "{}",
            json!({
                "ok": true,
                "county": catalog.county,
                "version": catalog.version,
                "items": catalog.items.len(),
                "key": hex::encode(key.to_bytes()),
            })
        );
    } else {
        outln!(
            "ok: {} is signed by {} and complete: {} version {}, {} items",
            file.display(),
            hex::encode(key.to_bytes()),
            catalog.county,
            catalog.version,
            catalog.items.len()
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn header(catalog: &Catalog, source: &CatalogSource) -> String {
    match source {
        CatalogSource::Installed(m) => format!(
            "{} 事项目录 第 {} 版 · 共 {} 项 (imported {} from {})",
            catalog.county,
            catalog.version,
            catalog.items.len(),
            m.imported_at,
            m.source
        ),
        CatalogSource::Demo => format!(
            "{} 事项目录 第 {} 版 · 共 {} 项 (built-in demo catalogue)",
            catalog.county,
            catalog.version,
            catalog.items.len()
        ),
    }
}

fn meta_of(source: &CatalogSource) -> Option<&CatalogMeta> {
    match source {
        CatalogSource::Installed(m) => Some(m),
        CatalogSource::Demo => None,
    }
}

fn item_brief_json(item: &ServiceItem) -> serde_json::Value {
    json!({
        "code": item.code,
        "name": item.name,
        "short_name": item.short_name,
        "category": item.category,
        "item_type": item.item_type,
        "case_kind": item.case_kind,
        "promised_time_limit_days": item.promised_time_limit_days,
        "village_online": item.village_online,
        "trips_to_hall": item.trips_to_hall,
    })
}

fn list(
    g: &Globals,
    category: Option<&str>,
    life_event: Option<&str>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let category = match category {
        Some(c) => Some(Category::parse(c).ok_or_else(|| {
            anyhow!(
                "--category {c:?} is not a category; use one of: {}",
                Category::ALL
                    .iter()
                    .map(|c| format!("{} ({:?})", c.label_zh(), c))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })?),
        None => None,
    };
    let cfg = load_config(g)?;
    let (catalog, source) = catalog_in_use(&cfg)?;
    let index = SearchIndex::build(&catalog.items);
    let in_event: Option<&[usize]> = match life_event.map(str::trim) {
        None => None,
        Some(e) if index.by_life_event(e).is_empty() => {
            let known: Vec<&str> = index
                .life_events()
                .iter()
                .map(|e| e.name.as_str())
                .collect();
            bail!(
                "--life-event {e:?} matches no item; the catalogue's life events are: {}",
                known.join(", ")
            );
        }
        Some(e) => Some(index.by_life_event(e)),
    };
    let items: Vec<&ServiceItem> = catalog
        .items
        .iter()
        .enumerate()
        .filter(|(n, i)| {
            category.is_none_or(|c| i.category == c) && in_event.is_none_or(|l| l.contains(n))
        })
        .map(|(_, i)| i)
        .collect();
    if json {
        let out = json!({
            "catalog": summary_json(&catalog, meta_of(&source)),
            "category": category,
            "life_event": life_event,
            "items": items.iter().map(|i| item_brief_json(i)).collect::<Vec<_>>(),
        });
        outln!("{out}");
        return Ok(ExitCode::SUCCESS);
    }
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", header(&catalog, &source))?;
    for c in Category::ALL {
        let in_cat: Vec<&&ServiceItem> = items.iter().filter(|i| i.category == c).collect();
        if in_cat.is_empty() {
            continue;
        }
        writeln!(out, "\n{}（{} 项）", c.label_zh(), in_cat.len())?;
        for i in in_cat {
            let time = if i.promised_time_limit_days == 0 {
                "即办".to_string()
            } else {
                format!("承诺 {} 个工作日", i.promised_time_limit_days)
            };
            let online = if i.village_online {
                "村级可网办"
            } else {
                "需到窗口"
            };
            writeln!(
                out,
                "  {}  {}  {}  {}",
                pad(&i.code, 8),
                pad(&i.name, 36),
                pad(&time, 16),
                online
            )?;
        }
    }
    if items.is_empty() {
        writeln!(out, "\n（该分类下没有事项）")?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Display width: CJK and full-width characters take two columns.
fn width(s: &str) -> usize {
    s.chars()
        .map(|c| if (c as u32) >= 0x1100 { 2 } else { 1 })
        .sum()
}

fn pad(s: &str, w: usize) -> String {
    let mut out = s.to_string();
    for _ in width(s)..w {
        out.push(' ');
    }
    out
}

fn find_item<'a>(catalog: &'a Catalog, code: &str) -> Option<&'a ServiceItem> {
    catalog.items.iter().find(|i| i.code == code).or_else(|| {
        catalog
            .items
            .iter()
            .find(|i| i.code.eq_ignore_ascii_case(code.trim()))
    })
}

fn show(g: &Globals, code: &str, json: bool) -> anyhow::Result<ExitCode> {
    let cfg = load_config(g)?;
    let (catalog, _source) = catalog_in_use(&cfg)?;
    let Some(item) = find_item(&catalog, code) else {
        let index = SearchIndex::build(&catalog.items);
        let hint: Vec<String> = index
            .search(code, 3)
            .into_iter()
            .map(|h| format!("{} {}", h.code, catalog.items[h.index].name))
            .collect();
        if hint.is_empty() {
            bail!("no item with code {code:?}; list the codes with `kiosk catalog list`");
        }
        bail!(
            "no item with code {code:?}; did you mean: {}? (or search with `kiosk catalog search`)",
            hint.join(", ")
        );
    };
    if json {
        outln!("{}", serde_json::to_string_pretty(item)?);
    } else {
        out!("{}", render_guide(item));
    }
    Ok(ExitCode::SUCCESS)
}

fn days(n: u32) -> String {
    if n == 0 {
        "即时办结".into()
    } else {
        format!("{n} 个工作日")
    }
}

fn kind_label(k: &FieldKind) -> String {
    match k {
        FieldKind::Text { max_chars } => format!("文字，最多 {max_chars} 字"),
        FieldKind::Phone => "电话号码".into(),
        FieldKind::Number { min, max, unit } => format!("数字 {min}–{max}{unit}"),
        FieldKind::Date => "日期（年-月-日）".into(),
        FieldKind::Choice { options } => format!("选择：{}", options.join(" / ")),
        FieldKind::IdNumber => "公民身份号码".into(),
        FieldKind::BankAccount => "银行卡号".into(),
    }
}

/// The complete guide as text, in the order a villager reads it.
pub fn render_guide(item: &ServiceItem) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let numbered = |s: &mut String, title: &str, lines: &[String]| {
        let _ = writeln!(s, "{title}：");
        for (i, l) in lines.iter().enumerate() {
            let _ = writeln!(s, "  {}. {l}", i + 1);
        }
    };
    let _ = writeln!(s, "【{}】{}", item.code, item.name);
    if let Some(short) = &item.short_name {
        let _ = writeln!(s, "简称：{short}");
    }
    if !item.aliases.is_empty() {
        let _ = writeln!(s, "别名：{}", item.aliases.join("、"));
    }
    let type_label = serde_json::to_value(item.item_type)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    let _ = writeln!(
        s,
        "事项类型：{type_label}    事项分类：{}",
        item.category.label_zh()
    );
    let _ = writeln!(s, "主管部门：{}", item.department);
    let _ = writeln!(s, "实施机关：{}", item.implementing_body);
    let _ = writeln!(s, "服务对象：{}", item.applicants);
    numbered(&mut s, "设定依据", &item.legal_basis);
    numbered(&mut s, "受理条件", &item.conditions);
    let materials: Vec<String> = item
        .materials
        .iter()
        .map(|m| {
            let mut l = format!(
                "{}（{}，{} {} 份，来源：{}）",
                m.name,
                if m.required {
                    "必要"
                } else {
                    "视情况提供"
                },
                m.form.label_zh(),
                m.copies,
                m.source
            );
            if !m.notes.is_empty() {
                l.push_str(&format!("\n     说明：{}", m.notes));
            }
            l
        })
        .collect();
    numbered(&mut s, "申请材料", &materials);
    let steps: Vec<String> = item
        .steps
        .iter()
        .map(|st| {
            format!(
                "{}（{}，{}）：{}",
                st.name,
                st.actor,
                days(st.time_limit_days),
                st.description
            )
        })
        .collect();
    numbered(&mut s, "办理流程", &steps);
    let _ = writeln!(
        s,
        "办理时限：法定 {}，承诺 {}（{}）",
        days(item.legal_time_limit_days),
        days(item.promised_time_limit_days),
        match item.case_kind {
            crate::catalog::CaseKind::Immediate => "即办件",
            crate::catalog::CaseKind::Committed => "承诺件",
        }
    );
    let _ = writeln!(s, "收费标准：{}", item.fee.description);
    let locations: Vec<String> = item
        .locations
        .iter()
        .map(|l| format!("{}，{}（{}）", l.name, l.address, l.hours))
        .collect();
    numbered(&mut s, "办理地点和时间", &locations);
    let _ = writeln!(s, "到现场次数：{} 次", item.trips_to_hall);
    let _ = writeln!(
        s,
        "村级网上受理：{}",
        if item.village_online {
            "可以在本终端申请"
        } else {
            "不可以，请到窗口办理"
        }
    );
    let _ = writeln!(s, "办理结果：{}", item.result);
    let _ = writeln!(
        s,
        "咨询电话：{}    监督投诉电话：{}",
        item.consult_phone, item.complaint_phone
    );
    if !item.form.is_empty() {
        let fields: Vec<String> = item
            .form
            .iter()
            .map(|f| {
                let mut l = format!(
                    "{}（{}，{}）",
                    f.label,
                    kind_label(&f.kind),
                    if f.required { "必填" } else { "选填" }
                );
                if f.card_fill.is_some() {
                    l.push_str(" 读身份证自动填写");
                }
                if !f.hint.is_empty() {
                    l.push_str(&format!("：{}", f.hint));
                }
                l
            })
            .collect();
        numbered(&mut s, "申请表", &fields);
    }
    if !item.faq.is_empty() {
        let _ = writeln!(s, "常见问题：");
        for f in &item.faq {
            let _ = writeln!(s, "  问：{}\n  答：{}", f.question, f.answer);
        }
    }
    if !item.life_events.is_empty() {
        let _ = writeln!(s, "主题：{}", item.life_events.join("、"));
    }
    s
}

fn field_label(f: MatchedField) -> &'static str {
    match f {
        MatchedField::Code => "编码",
        MatchedField::Name => "名称",
        MatchedField::ShortName => "简称",
        MatchedField::Alias(_) => "别名",
        MatchedField::Guide => "办事指南",
    }
}

fn via_label(v: MatchVia) -> &'static str {
    match v {
        MatchVia::Text => "文字",
        MatchVia::FullPinyin => "全拼",
        MatchVia::Initials => "首字母",
        MatchVia::MixedPinyin => "拼音",
    }
}

fn search(g: &Globals, query: &str, limit: usize, json: bool) -> anyhow::Result<ExitCode> {
    let cfg = load_config(g)?;
    let (catalog, _source) = catalog_in_use(&cfg)?;
    let index = SearchIndex::build(&catalog.items);
    let hits = index.search(query, limit);
    if json {
        let out: Vec<serde_json::Value> = hits
            .iter()
            .map(|h| {
                json!({
                    "code": h.code,
                    "name": catalog.items[h.index].name,
                    "category": catalog.items[h.index].category,
                    "score": h.score,
                    "field": h.field,
                    "via": h.via,
                    "span": h.span,
                })
            })
            .collect();
        outln!("{}", json!({ "query": query, "hits": out }));
        return Ok(ExitCode::SUCCESS);
    }
    if hits.is_empty() {
        outln!("没有找到与“{query}”相关的事项。可以换个说法，或用拼音首字母（如 ylbx）搜索。");
        return Ok(ExitCode::SUCCESS);
    }
    outln!("找到 {} 项（按相关程度排序）：", hits.len());
    for (n, h) in hits.iter().enumerate() {
        let item = &catalog.items[h.index];
        outln!(
            "{:>3}. {}  {}  [{} · {} · {}]",
            n + 1,
            pad(&item.code, 8),
            pad(&item.name, 36),
            item.category.label_zh(),
            field_label(h.field),
            via_label(h.via)
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes `bytes` to `path` through a temporary file and a rename, so a reader never sees half.
fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .ok_or_else(|| anyhow!("{} is not a file path", path.display()))?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    std::fs::write(&tmp, bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

fn export(g: &Globals, out: Option<&Path>) -> anyhow::Result<ExitCode> {
    let cfg = load_config(g)?;
    let (catalog, _source) = catalog_in_use(&cfg)?;
    let mut text = serde_json::to_string_pretty(&catalog)?;
    text.push('\n');
    match out {
        Some(p) => {
            write_atomically(p, text.as_bytes())?;
            eprintln!(
                "exported {} version {} ({} items) to {}",
                catalog.county,
                catalog.version,
                catalog.items.len(),
                p.display()
            );
        }
        None => std::io::stdout().lock().write_all(text.as_bytes())?,
    }
    Ok(ExitCode::SUCCESS)
}

fn sign(
    input: &Path,
    out: &Path,
    key_file: Option<&Path>,
    demo_key: bool,
    kind: &str,
) -> anyhow::Result<ExitCode> {
    let key = match key_file {
        Some(path) => {
            let text = zeroize::Zeroizing::new(
                std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read key file {}", path.display()))?,
            );
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt as _;
                if let Ok(m) = std::fs::metadata(path)
                    && m.permissions().mode() & 0o077 != 0
                {
                    eprintln!(
                        "warning: key file {} is readable by others; run `chmod 600 {}`",
                        path.display(),
                        path.display()
                    );
                }
            }
            bundle::parse_signing_key(&text)
                .map_err(|e| anyhow!("key file {}: {e}", path.display()))?
        }
        None if demo_key => {
            eprintln!(
                "note: signing with the public DEMO key: only demo-mode kiosks accept this bundle"
            );
            bundle::demo_signing_key()
        }
        None => bail!("name the signing key with --key KEYFILE (or --demo-key for a demo bundle)"),
    };
    let bytes = read_file(input)?;
    let signed = match kind {
        bundle::KIND_CATALOG => {
            let catalog = bundle::parse_catalog_json(&bytes).map_err(|e| {
                anyhow!("{}: {e}; fix the catalogue and sign again", input.display())
            })?;
            let problems = validate::catalog_problems(&catalog);
            if !problems.is_empty() {
                bail!(
                    "{}: not signed, the catalogue is incomplete:\n  {}",
                    input.display(),
                    problems.join("\n  ")
                );
            }
            let signed =
                bundle::sign_catalog(&catalog, &key).map_err(|e| bundle_error(input, e))?;
            eprintln!(
                "signed catalogue of {} version {} ({} items)",
                catalog.county,
                catalog.version,
                catalog.items.len()
            );
            signed
        }
        bundle::KIND_ANNOUNCEMENTS => {
            let a = crate::county::noticeboard::check_for_signing(&bytes)
                .map_err(|e| anyhow!("{}: not signed: {e}", input.display()))?;
            eprintln!(
                "signed announcements version {} ({} items)",
                a.version,
                a.items.len()
            );
            bundle::sign(kind, &bytes, &key)
        }
        crate::catalog::keyring::KIND_KEYRING => {
            let rotation = crate::catalog::keyring::parse_rotation_json(&bytes).map_err(|e| {
                anyhow!(
                    "{}: {e}; fix the key rotation and sign again",
                    input.display()
                )
            })?;
            let signed = crate::catalog::keyring::sign_rotation(&rotation, &key)
                .map_err(|e| anyhow!("{}: not signed: {e}", input.display()))?;
            eprintln!(
                "signed key rotation version {} for {}: {} key(s)",
                rotation.version,
                rotation.county,
                rotation.keys.len()
            );
            signed
        }
        other => bail!(
            "--kind {other:?} is unknown; use {:?}, {:?} or {:?}",
            bundle::KIND_CATALOG,
            bundle::KIND_ANNOUNCEMENTS,
            crate::catalog::keyring::KIND_KEYRING
        ),
    };
    write_atomically(out, &signed)?;
    outln!(
        "wrote {} (kind {kind}, signed by {})",
        out.display(),
        hex::encode(key.verifying_key().to_bytes())
    );
    Ok(ExitCode::SUCCESS)
}

fn keygen(out: &Path, force: bool) -> anyhow::Result<ExitCode> {
    let pub_path = PathBuf::from(format!("{}.pub", out.display()));
    if !force && (out.exists() || pub_path.exists()) {
        bail!(
            "{} already exists; pass --force to replace it (kiosks trusting the old key will refuse new bundles)",
            out.display()
        );
    }
    let seed = zeroize::Zeroizing::new(rand::random::<[u8; 32]>());
    let key = ed25519_dalek::SigningKey::from_bytes(&seed);
    let text = bundle::format_signing_key(&key, "county catalogue signer");
    {
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            opts.mode(0o600);
        }
        let mut f = opts
            .open(out)
            .with_context(|| format!("cannot create {}", out.display()))?;
        f.write_all(text.as_bytes())
            .and_then(|_| f.sync_all())
            .with_context(|| format!("cannot write {}", out.display()))?;
    }
    let public = hex::encode(key.verifying_key().to_bytes());
    std::fs::write(&pub_path, format!("{public}\n"))
        .with_context(|| format!("cannot write {}", pub_path.display()))?;
    outln!("secret key: {} (keep it offline; mode 0600)", out.display());
    outln!("public key: {} ({public})", pub_path.display());
    outln!("put this in every kiosk's config:\n\n[county]\ncatalog_public_key = \"{public}\"");
    Ok(ExitCode::SUCCESS)
}
