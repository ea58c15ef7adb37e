//! The back office's database connection over either SQLite (rusqlite, the embedded default)
//! or PostgreSQL (the sync `postgres` client): the small subset of rusqlite's API the back
//! office uses (`execute`, `query_row`, `prepare` + `query_map`, `optional`, transactions,
//! `execute_batch`), with values typed by [`Value`] on both sides.
//!
//! The back office's SQL is written once, portable: numbered placeholders (`?1`, rewritten to
//! `$1` for PostgreSQL outside string literals), `ON CONFLICT`, `RETURNING`, `BIGINT` columns.
//! Schemas are translated for PostgreSQL by [`pg_schema`] (`INTEGER PRIMARY KEY` → an identity
//! column, `INTEGER` → `BIGINT`, `BLOB` → `BYTEA`).
//!
//! A PostgreSQL connection that broke (a server restart) fails the statement in flight with an
//! error whose [`Error::is_unavailable`] is true; the next statement outside a transaction
//! connects again. The `postgres` client runs its own small runtime: call it from a blocking
//! thread (`spawn_blocking`), never on a tokio worker.

use std::cell::RefCell;
use std::collections::HashMap;
use std::ops::Deref;

/// A value in a row or a parameter.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

/// A database error of either backend.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("PostgreSQL: {}", describe(.0))]
    Pg(#[from] postgres::Error),
    #[error("the query returned no rows")]
    NoRows,
    #[error("column {index}: {message}")]
    Type { index: usize, message: String },
    #[error("{url} is not a PostgreSQL URL ({reason}); use postgres://USER@HOST:PORT/DB")]
    BadUrl { url: String, reason: String },
    /// The PostgreSQL server cannot be reached now (down, restarting, the connection lost).
    #[error("PostgreSQL at {url} is unavailable: {reason}")]
    Unavailable { url: String, reason: String },
}

impl Error {
    /// True when the database is unreachable for now (retrying later may succeed): the
    /// PostgreSQL connection was lost or the server is shutting down or starting.
    pub fn is_unavailable(&self) -> bool {
        match self {
            Error::Unavailable { .. } => true,
            Error::Pg(e) => {
                e.is_closed()
                    || e.code().is_some_and(|c| {
                        let c = c.code();
                        // 08: connection exception; 57P: operator intervention (shutdown,
                        // crash recovery, cannot connect now).
                        c.starts_with("08") || c.starts_with("57P")
                    })
                    || std::error::Error::source(e).is_some_and(|s| s.is::<std::io::Error>())
            }
            _ => false,
        }
    }

    /// True for a unique-constraint violation.
    pub fn is_unique_violation(&self) -> bool {
        match self {
            Error::Sqlite(rusqlite::Error::SqliteFailure(f, _)) => {
                f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
                    || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
            }
            Error::Pg(e) => e.code() == Some(&postgres::error::SqlState::UNIQUE_VIOLATION),
            _ => false,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A PostgreSQL error in one line: the server's message and SQLSTATE, or the client's error
/// with its cause (the client's own `Display` leaves the server's message out).
fn describe(e: &postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return format!("{} (SQLSTATE {})", db.message(), db.code().code());
    }
    match std::error::Error::source(e) {
        Some(cause) => format!("{e}: {cause}"),
        None => e.to_string(),
    }
}

/// `query_row(..).optional()`: no row is `Ok(None)`.
pub trait OptionalExtension<T> {
    fn optional(self) -> Result<Option<T>>;
}

impl<T> OptionalExtension<T> for Result<T> {
    fn optional(self) -> Result<Option<T>> {
        match self {
            Ok(v) => Ok(Some(v)),
            Err(Error::NoRows) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// A parameter value.
pub trait ToValue {
    fn to_value(&self) -> Value;
}

impl<T: ToValue + ?Sized> ToValue for &T {
    fn to_value(&self) -> Value {
        (**self).to_value()
    }
}

impl<T: ToValue> ToValue for Option<T> {
    fn to_value(&self) -> Value {
        self.as_ref().map_or(Value::Null, ToValue::to_value)
    }
}

impl ToValue for str {
    fn to_value(&self) -> Value {
        Value::Text(self.to_string())
    }
}

impl ToValue for String {
    fn to_value(&self) -> Value {
        Value::Text(self.clone())
    }
}

impl ToValue for [u8] {
    fn to_value(&self) -> Value {
        Value::Blob(self.to_vec())
    }
}

impl ToValue for Vec<u8> {
    fn to_value(&self) -> Value {
        Value::Blob(self.clone())
    }
}

impl ToValue for bool {
    fn to_value(&self) -> Value {
        Value::Int(i64::from(*self))
    }
}

impl ToValue for f64 {
    fn to_value(&self) -> Value {
        Value::Real(*self)
    }
}

impl ToValue for Value {
    fn to_value(&self) -> Value {
        self.clone()
    }
}

macro_rules! int_values {
    ($($t:ty),*) => {$(
        impl ToValue for $t {
            fn to_value(&self) -> Value {
                // Every integer the back office stores fits an i64 (counts, ids, levels).
                Value::Int(i64::try_from(*self).unwrap_or(i64::MAX))
            }
        }
        impl FromValue for $t {
            fn from_value(v: Value, index: usize) -> Result<Self> {
                let i = i64::from_value(v, index)?;
                <$t>::try_from(i).map_err(|_| Error::Type {
                    index,
                    message: format!("{i} is out of range for {}", stringify!($t)),
                })
            }
        }
    )*};
}

int_values!(i32, u8, u16, u32, u64, usize);

impl ToValue for i64 {
    fn to_value(&self) -> Value {
        Value::Int(*self)
    }
}

/// A column value as a Rust type.
pub trait FromValue: Sized {
    fn from_value(v: Value, index: usize) -> Result<Self>;
}

fn mismatch<T>(index: usize, v: &Value, wanted: &str) -> Result<T> {
    Err(Error::Type {
        index,
        message: format!("{v:?} is not {wanted}"),
    })
}

impl FromValue for Value {
    fn from_value(v: Value, _: usize) -> Result<Self> {
        Ok(v)
    }
}

impl FromValue for i64 {
    fn from_value(v: Value, index: usize) -> Result<Self> {
        match v {
            Value::Int(i) => Ok(i),
            other => mismatch(index, &other, "an integer"),
        }
    }
}

impl FromValue for bool {
    fn from_value(v: Value, index: usize) -> Result<Self> {
        Ok(i64::from_value(v, index)? != 0)
    }
}

impl FromValue for f64 {
    fn from_value(v: Value, index: usize) -> Result<Self> {
        match v {
            Value::Real(f) => Ok(f),
            Value::Int(i) => Ok(i as f64),
            other => mismatch(index, &other, "a number"),
        }
    }
}

impl FromValue for String {
    fn from_value(v: Value, index: usize) -> Result<Self> {
        match v {
            Value::Text(s) => Ok(s),
            other => mismatch(index, &other, "text"),
        }
    }
}

impl FromValue for Vec<u8> {
    fn from_value(v: Value, index: usize) -> Result<Self> {
        match v {
            Value::Blob(b) => Ok(b),
            Value::Text(s) => Ok(s.into_bytes()),
            other => mismatch(index, &other, "bytes"),
        }
    }
}

impl<T: FromValue> FromValue for Option<T> {
    fn from_value(v: Value, index: usize) -> Result<Self> {
        match v {
            Value::Null => Ok(None),
            v => T::from_value(v, index).map(Some),
        }
    }
}

/// The parameters of a statement: `params![a, b]` or `[]`.
pub trait Params {
    fn values(&self) -> Vec<Value>;
}

impl Params for &[&dyn ToValue] {
    fn values(&self) -> Vec<Value> {
        self.iter().map(|v| v.to_value()).collect()
    }
}

impl Params for [&dyn ToValue; 0] {
    fn values(&self) -> Vec<Value> {
        Vec::new()
    }
}

#[doc(hidden)]
#[macro_export]
macro_rules! __backoffice_sql_params {
    () => {
        &[] as &[&dyn $crate::backoffice::sql::ToValue]
    };
    ($($p:expr),+ $(,)?) => {
        &[$(&$p as &dyn $crate::backoffice::sql::ToValue),+] as &[&dyn $crate::backoffice::sql::ToValue]
    };
}

/// Statement parameters, as rusqlite's `params!`.
pub use crate::__backoffice_sql_params as params;

/// A column position (as rusqlite's `RowIndex`, positions only).
pub trait RowIndex {
    fn index(self) -> usize;
}

impl RowIndex for usize {
    fn index(self) -> usize {
        self
    }
}

/// A row of a result.
#[derive(Debug, Clone)]
pub struct Row {
    values: Vec<Value>,
}

impl Row {
    /// Column `index` as `T` (the first type parameter is only for rusqlite's call shape
    /// `get::<_, T>`).
    pub fn get<I: RowIndex, T: FromValue>(&self, index: I) -> Result<T> {
        let index = index.index();
        let v = self.values.get(index).cloned().ok_or(Error::Type {
            index,
            message: "no such column".into(),
        })?;
        T::from_value(v, index)
    }
}

/// A prepared statement (the SQL; the backend caches the real one).
pub struct Statement<'c> {
    conn: &'c Conn,
    sql: String,
}

impl Statement<'_> {
    /// Every row mapped by `f`.
    pub fn query_map<T, P: Params, F: FnMut(&Row) -> Result<T>>(
        &mut self,
        params: P,
        f: F,
    ) -> Result<std::vec::IntoIter<Result<T>>> {
        let rows = self.conn.rows(&self.sql, &params.values())?;
        Ok(rows.iter().map(f).collect::<Vec<_>>().into_iter())
    }
}

struct Pg {
    /// The URL with any password removed, for messages.
    shown: String,
    config: postgres::Config,
    client: Option<postgres::Client>,
    statements: HashMap<String, postgres::Statement>,
    in_tx: bool,
}

impl Pg {
    /// The client, connecting first when there is none or it closed (not inside a
    /// transaction: that one is lost with its connection).
    fn client(&mut self) -> Result<&mut postgres::Client> {
        let usable = self.client.as_ref().is_some_and(|c| !c.is_closed());
        if !usable {
            self.client = None;
            self.statements.clear();
            if self.in_tx {
                return Err(Error::Unavailable {
                    url: self.shown.clone(),
                    reason: "the connection was lost inside a transaction".into(),
                });
            }
            let client = self
                .config
                .connect(postgres::NoTls)
                .map_err(|e| Error::Unavailable {
                    url: self.shown.clone(),
                    reason: describe(&e),
                })?;
            self.client = Some(client);
        }
        self.client.as_mut().ok_or_else(|| Error::Unavailable {
            url: self.shown.clone(),
            reason: "no connection".into(),
        })
    }

    fn statement(&mut self, sql: &str) -> Result<postgres::Statement> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let prepared = self.client()?.prepare(sql).map_err(Error::from);
        let st = self.after(prepared)?;
        self.statements.insert(sql.to_string(), st.clone());
        Ok(st)
    }

    fn run<T>(
        &mut self,
        sql: &str,
        params: &[Value],
        f: impl FnOnce(
            &mut postgres::Client,
            &postgres::Statement,
            &[&(dyn postgres::types::ToSql + Sync)],
        ) -> std::result::Result<T, postgres::Error>,
    ) -> Result<T> {
        let sql = pg_placeholders(sql);
        let st = self.statement(&sql)?;
        let refs: Vec<&(dyn postgres::types::ToSql + Sync)> = params
            .iter()
            .map(|v| v as &(dyn postgres::types::ToSql + Sync))
            .collect();
        let client = self.client()?;
        let result = f(client, &st, &refs).map_err(Error::from);
        self.after(result)
    }

    /// Forgets a connection that failed (the next statement outside a transaction connects
    /// again) and statements the server no longer knows.
    fn after<T>(&mut self, result: Result<T>) -> Result<T> {
        if let Err(e) = &result {
            if e.is_unavailable() {
                self.client = None;
                self.statements.clear();
                if let Error::Pg(pe) = e {
                    return Err(Error::Unavailable {
                        url: self.shown.clone(),
                        reason: describe(pe),
                    });
                }
            }
            if let Error::Pg(pe) = e
                && pe.code() == Some(&postgres::error::SqlState::INVALID_SQL_STATEMENT_NAME)
            {
                self.statements.clear();
            }
        }
        result
    }
}

impl Drop for Pg {
    fn drop(&mut self) {
        // Closing the client blocks on its own runtime, which panics on a tokio thread (the
        // last handle of a server's database may go there): close it on a thread of its own.
        if let Some(client) = self.client.take()
            && tokio::runtime::Handle::try_current().is_ok()
        {
            let _ = std::thread::Builder::new()
                .name("pg-close".into())
                .spawn(move || drop(client));
        }
    }
}

/// The PostgreSQL side is boxed: its client, config and statement cache are several times the
/// size of an SQLite handle.
enum Inner {
    Sqlite(rusqlite::Connection),
    Pg(Box<RefCell<Pg>>),
}

/// A connection to the back office's database.
pub struct Conn {
    inner: Inner,
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.inner {
            Inner::Sqlite(c) => f.debug_tuple("Conn::Sqlite").field(&c.path()).finish(),
            Inner::Pg(p) => f
                .debug_tuple("Conn::Pg")
                .field(&p.try_borrow().map(|p| p.shown.clone()).ok())
                .finish(),
        }
    }
}

/// True when the `--db` argument names a PostgreSQL database (`postgres://` or
/// `postgresql://`) rather than an SQLite file.
pub fn is_postgres_url(db: &str) -> bool {
    db.starts_with("postgres://") || db.starts_with("postgresql://")
}

/// The URL with its password (if any) replaced by `***`, for messages and logs.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (authority, tail) = rest.split_at(rest.find(['/', '?']).unwrap_or(rest.len()));
    match authority.rsplit_once('@') {
        Some((user, host)) => match user.split_once(':') {
            Some((name, _)) => format!("{scheme}://{name}:***@{host}{tail}"),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

impl Conn {
    pub fn sqlite(conn: rusqlite::Connection) -> Conn {
        Conn {
            inner: Inner::Sqlite(conn),
        }
    }

    /// Connects to PostgreSQL at `url` (`postgres://USER[:PASSWORD]@HOST:PORT/DB`; `host` may
    /// be a socket directory, `?host=/run/postgresql`).
    pub fn postgres(url: &str) -> Result<Conn> {
        let shown = redact_url(url);
        let config: postgres::Config = url.parse().map_err(|e: postgres::Error| Error::BadUrl {
            url: shown.clone(),
            reason: e.to_string(),
        })?;
        let mut pg = Pg {
            shown,
            config,
            client: None,
            statements: HashMap::new(),
            in_tx: false,
        };
        pg.client()?;
        Ok(Conn {
            inner: Inner::Pg(Box::new(RefCell::new(pg))),
        })
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self.inner, Inner::Pg(_))
    }

    /// The SQLite connection, when this is one.
    pub fn as_sqlite(&self) -> Option<&rusqlite::Connection> {
        match &self.inner {
            Inner::Sqlite(c) => Some(c),
            Inner::Pg(_) => None,
        }
    }

    /// Runs a statement; the number of rows it changed.
    pub fn execute<P: Params>(&self, sql: &str, params: P) -> Result<usize> {
        let values = params.values();
        match &self.inner {
            Inner::Sqlite(c) => Ok(c
                .prepare_cached(sql)?
                .execute(rusqlite::params_from_iter(values.iter()))?),
            Inner::Pg(p) => {
                let n = p
                    .borrow_mut()
                    .run(sql, &values, |c, st, refs| c.execute(st, refs))?;
                Ok(usize::try_from(n).unwrap_or(usize::MAX))
            }
        }
    }

    fn rows(&self, sql: &str, values: &[Value]) -> Result<Vec<Row>> {
        match &self.inner {
            Inner::Sqlite(c) => {
                let mut st = c.prepare_cached(sql)?;
                let n = st.column_count();
                let mut rows = st.query(rusqlite::params_from_iter(values.iter()))?;
                let mut out = Vec::new();
                while let Some(r) = rows.next()? {
                    let values = (0..n)
                        .map(|i| Ok(sqlite_value(r.get_ref(i)?)))
                        .collect::<Result<Vec<_>>>()?;
                    out.push(Row { values });
                }
                Ok(out)
            }
            Inner::Pg(p) => {
                let rows = p
                    .borrow_mut()
                    .run(sql, values, |c, st, refs| c.query(st, refs))?;
                rows.iter()
                    .map(|r| {
                        let values = (0..r.len())
                            .map(|i| r.try_get::<_, Value>(i).map_err(Error::from))
                            .collect::<Result<Vec<_>>>()?;
                        Ok(Row { values })
                    })
                    .collect()
            }
        }
    }

    /// The first row mapped by `f`; [`Error::NoRows`] when there is none.
    pub fn query_row<T, P: Params, F: FnOnce(&Row) -> Result<T>>(
        &self,
        sql: &str,
        params: P,
        f: F,
    ) -> Result<T> {
        let rows = self.rows(sql, &params.values())?;
        rows.first().map_or(Err(Error::NoRows), f)
    }

    pub fn prepare(&self, sql: &str) -> Result<Statement<'_>> {
        Ok(Statement {
            conn: self,
            sql: sql.to_string(),
        })
    }

    /// As [`Conn::prepare`] (statements are cached by both backends anyway).
    pub fn prepare_cached(&self, sql: &str) -> Result<Statement<'_>> {
        self.prepare(sql)
    }

    /// Runs several statements without parameters (a schema: translated by [`pg_schema`]
    /// for PostgreSQL).
    pub fn execute_batch(&self, sql: &str) -> Result<()> {
        match &self.inner {
            Inner::Sqlite(c) => Ok(c.execute_batch(sql)?),
            Inner::Pg(p) => {
                let mut p = p.borrow_mut();
                let done = p
                    .client()?
                    .batch_execute(&pg_schema(sql))
                    .map_err(Error::from);
                p.after(done)
            }
        }
    }

    /// The id the last insert into a table with an `INTEGER PRIMARY KEY` (an identity column
    /// in PostgreSQL) got, on this connection.
    pub fn last_insert_rowid(&self) -> Result<i64> {
        match &self.inner {
            Inner::Sqlite(c) => Ok(c.last_insert_rowid()),
            Inner::Pg(_) => self.query_row("SELECT lastval()", params![], |r| r.get(0)),
        }
    }

    /// Begins a write transaction: SQLite's `BEGIN IMMEDIATE` (the write lock up front, so the
    /// busy timeout applies), PostgreSQL's `BEGIN` (read committed; rows are locked as written).
    /// Rolled back when dropped uncommitted.
    pub fn transaction(&self) -> Result<Transaction<'_>> {
        match &self.inner {
            Inner::Sqlite(c) => c.execute_batch("BEGIN IMMEDIATE")?,
            Inner::Pg(p) => {
                let mut p = p.borrow_mut();
                let begun = p.client()?.batch_execute("BEGIN").map_err(Error::from);
                p.after(begun)?;
                p.in_tx = true;
            }
        }
        Ok(Transaction {
            conn: self,
            done: false,
        })
    }

    fn end(&self, sql: &str) -> Result<()> {
        match &self.inner {
            Inner::Sqlite(c) => Ok(c.execute_batch(sql)?),
            Inner::Pg(p) => {
                let mut p = p.borrow_mut();
                p.in_tx = false;
                let result = match p.client.as_mut() {
                    Some(c) if !c.is_closed() => c.batch_execute(sql).map_err(Error::from),
                    _ => Err(Error::Unavailable {
                        url: p.shown.clone(),
                        reason: "the connection was lost inside a transaction".into(),
                    }),
                };
                if result.as_ref().is_err_and(Error::is_unavailable) {
                    p.client = None;
                }
                result
            }
        }
    }

    /// Runs `f` holding a lock named `key` that every process using this database shares
    /// (PostgreSQL's advisory lock; SQLite takes its write lock instead): schema migrations
    /// run under it so two processes starting together do not both create tables.
    pub fn with_global_lock<T>(&self, key: i64, f: impl FnOnce(&Conn) -> Result<T>) -> Result<T> {
        match &self.inner {
            Inner::Sqlite(_) => {
                let tx = self.transaction()?;
                let v = f(&tx)?;
                tx.commit()?;
                Ok(v)
            }
            Inner::Pg(_) => {
                self.execute("SELECT pg_advisory_lock(?1)", params![key])?;
                let v = f(self);
                let unlock = self.execute("SELECT pg_advisory_unlock(?1)", params![key]);
                let v = v?;
                unlock?;
                Ok(v)
            }
        }
    }
}

/// A write transaction; derefs to its connection.
pub struct Transaction<'c> {
    conn: &'c Conn,
    done: bool,
}

impl Transaction<'_> {
    pub fn commit(mut self) -> Result<()> {
        self.done = true;
        self.conn.end("COMMIT")
    }
}

impl Deref for Transaction<'_> {
    type Target = Conn;
    fn deref(&self) -> &Conn {
        self.conn
    }
}

impl Drop for Transaction<'_> {
    fn drop(&mut self) {
        if !self.done {
            let _ = self.conn.end("ROLLBACK");
        }
    }
}

fn sqlite_value(v: rusqlite::types::ValueRef<'_>) -> Value {
    use rusqlite::types::ValueRef;
    match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Int(i),
        ValueRef::Real(f) => Value::Real(f),
        ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Value::Blob(b.to_vec()),
    }
}

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match self {
            Value::Null => ValueRef::Null,
            Value::Int(i) => ValueRef::Integer(*i),
            Value::Real(f) => ValueRef::Real(*f),
            Value::Text(s) => ValueRef::Text(s.as_bytes()),
            Value::Blob(b) => ValueRef::Blob(b),
        }))
    }
}

type BoxError = Box<dyn std::error::Error + Sync + Send>;

impl postgres::types::ToSql for Value {
    fn to_sql(
        &self,
        ty: &postgres::types::Type,
        out: &mut postgres::types::private::BytesMut,
    ) -> std::result::Result<postgres::types::IsNull, BoxError> {
        use postgres::types::{IsNull, Type};
        let text = |ty: &Type| {
            [
                Type::TEXT,
                Type::VARCHAR,
                Type::BPCHAR,
                Type::NAME,
                Type::UNKNOWN,
            ]
            .contains(ty)
        };
        match self {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(i) => match *ty {
                Type::INT8 => i.to_sql(ty, out),
                Type::INT4 => i32::try_from(*i)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(*i)?.to_sql(ty, out),
                Type::BOOL => (*i != 0).to_sql(ty, out),
                Type::FLOAT8 => (*i as f64).to_sql(ty, out),
                ref t if text(t) => i.to_string().as_str().to_sql(ty, out),
                _ => Err(format!("cannot send an integer as {ty}").into()),
            },
            Value::Real(f) => match *ty {
                Type::FLOAT8 => f.to_sql(ty, out),
                Type::FLOAT4 => (*f as f32).to_sql(ty, out),
                ref t if text(t) => f.to_string().as_str().to_sql(ty, out),
                _ => Err(format!("cannot send a number as {ty}").into()),
            },
            Value::Text(s) => match *ty {
                ref t if text(t) => s.as_str().to_sql(ty, out),
                Type::INT8 => s.parse::<i64>()?.to_sql(ty, out),
                Type::INT4 => s.parse::<i32>()?.to_sql(ty, out),
                _ => Err(format!("cannot send text as {ty}").into()),
            },
            Value::Blob(b) => match *ty {
                Type::BYTEA => b.as_slice().to_sql(ty, out),
                _ => Err(format!("cannot send bytes as {ty}").into()),
            },
        }
    }

    fn accepts(_: &postgres::types::Type) -> bool {
        true
    }

    postgres::types::to_sql_checked!();
}

impl<'a> postgres::types::FromSql<'a> for Value {
    fn from_sql(ty: &postgres::types::Type, raw: &'a [u8]) -> std::result::Result<Value, BoxError> {
        use postgres::types::Type;
        Ok(match *ty {
            Type::INT8 => Value::Int(i64::from_sql(ty, raw)?),
            Type::INT4 => Value::Int(i32::from_sql(ty, raw)?.into()),
            Type::INT2 => Value::Int(i16::from_sql(ty, raw)?.into()),
            Type::OID => Value::Int(u32::from_sql(ty, raw)?.into()),
            Type::BOOL => Value::Int(bool::from_sql(ty, raw)?.into()),
            Type::FLOAT8 => Value::Real(f64::from_sql(ty, raw)?),
            Type::FLOAT4 => Value::Real(f32::from_sql(ty, raw)?.into()),
            Type::BYTEA => Value::Blob(Vec::<u8>::from_sql(ty, raw)?),
            Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN => {
                Value::Text(String::from_sql(ty, raw)?)
            }
            // `pg_advisory_lock` and friends answer void.
            Type::VOID => Value::Null,
            _ => return Err(format!("unsupported column type {ty}").into()),
        })
    }

    fn from_sql_null(_: &postgres::types::Type) -> std::result::Result<Value, BoxError> {
        Ok(Value::Null)
    }

    fn accepts(_: &postgres::types::Type) -> bool {
        true
    }
}

/// `?N` placeholders as PostgreSQL's `$N`, outside string literals and quoted names. A
/// parameter tested with `IS NULL` (an optional filter: `?1 IS NULL OR col = ?1`) is given the
/// type `text`, which PostgreSQL cannot infer from the test alone: the back office's optional
/// filters are all text.
pub fn pg_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut quote: Option<char> = None;
    let mut chars = sql.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if quote.is_none() && c == '?' && chars.peek().is_some_and(|(_, d)| d.is_ascii_digit()) {
            out.push('$');
            let mut end = i + 1;
            while let Some((j, d)) = chars.peek().copied().filter(|(_, d)| d.is_ascii_digit()) {
                out.push(d);
                end = j + 1;
                chars.next();
            }
            let rest = &sql[end..];
            if rest.starts_with(" IS NULL") || rest.starts_with(" IS NOT NULL") {
                out.push_str("::text");
            }
            continue;
        }
        match (quote, c) {
            (Some(q), c) if c == q => {
                quote = None;
                out.push(c);
            }
            (Some(_), c) => out.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                out.push(c);
            }
            (None, c) => out.push(c),
        }
    }
    out
}

/// A schema written for SQLite, in PostgreSQL's words: `INTEGER PRIMARY KEY` (SQLite's rowid)
/// becomes an identity column, `INTEGER` `BIGINT` and `BLOB` `BYTEA`.
pub fn pg_schema(sql: &str) -> String {
    sql.replace(
        "INTEGER PRIMARY KEY",
        "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
    )
    .replace("INTEGER", "BIGINT")
    .replace("BLOB", "BYTEA")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_rewritten_outside_literals() {
        assert_eq!(
            pg_placeholders("SELECT a FROM t WHERE b = ?1 AND c = '?2' AND d = ?12 AND e = ?"),
            "SELECT a FROM t WHERE b = $1 AND c = '?2' AND d = $12 AND e = ?"
        );
        assert_eq!(
            pg_placeholders("WHERE (?1 IS NULL OR s = ?1) AND ?2 IS NOT NULL"),
            "WHERE ($1::text IS NULL OR s = $1) AND $2::text IS NOT NULL"
        );
    }

    #[test]
    fn schema_translation() {
        assert_eq!(
            pg_schema("id INTEGER PRIMARY KEY, n INTEGER NOT NULL, b BLOB"),
            "id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, n BIGINT NOT NULL, b BYTEA"
        );
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact_url("postgres://county:s3cret@db.example:5432/cases"),
            "postgres://county:***@db.example:5432/cases"
        );
        assert_eq!(
            redact_url("postgres://county@127.0.0.1:5432/cases"),
            "postgres://county@127.0.0.1:5432/cases"
        );
    }

    #[test]
    fn sqlite_round_trip_and_rollback() {
        let c = Conn::sqlite(rusqlite::Connection::open_in_memory().unwrap());
        c.execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, s TEXT, b BLOB, f REAL)")
            .unwrap();
        {
            let tx = c.transaction().unwrap();
            tx.execute(
                "INSERT INTO t (s, b, f) VALUES (?1, ?2, ?3)",
                params!["x", vec![1u8, 2], 1.5],
            )
            .unwrap();
        }
        let n: i64 = c
            .query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 0, "an uncommitted transaction is rolled back");
        let tx = c.transaction().unwrap();
        tx.execute(
            "INSERT INTO t (s, b, f) VALUES (?1, ?2, ?3)",
            params![None::<String>, vec![1u8, 2], 1.5],
        )
        .unwrap();
        assert_eq!(tx.last_insert_rowid().unwrap(), 1);
        tx.commit().unwrap();
        let (s, b, f): (Option<String>, Vec<u8>, f64) = c
            .query_row("SELECT s, b, f FROM t", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .unwrap();
        assert_eq!((s, b, f), (None, vec![1, 2], 1.5));
        assert!(matches!(
            c.query_row("SELECT s FROM t WHERE id = 9", [], |r| r
                .get::<_, String>(0))
                .optional(),
            Ok(None)
        ));
    }
}
