//! Operator accounts (工作人员账号): a department clerk (部门经办人) bound to one department, or a
//! county supervisor (县级督办人) who sees every department and the report. Passwords are stored
//! as argon2id hashes (PHC strings with their own salt); after [`MAX_FAILED_LOGINS`] failures in
//! a row an account is locked for [`LOCKOUT`]. A login opens a session: a random token (the
//! cookie; only its SHA-256 is stored) and a CSRF token every form posts back.

use crate::backoffice::sql::{OptionalExtension, params};
use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use chrono::{DateTime, Duration, Utc};
use sha2::{Digest, Sha256};

use super::{StaffError, parse_ts, ts};
use crate::backoffice::Db;

/// Failed logins in a row after which an account is locked.
pub const MAX_FAILED_LOGINS: i64 = 5;
/// How long a locked account stays locked.
pub const LOCKOUT: Duration = Duration::minutes(15);
/// How long a session lasts after login.
pub const SESSION_TTL: Duration = Duration::hours(8);
/// The shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 10;

/// An operator's role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// 部门经办人: sees and advances the cases of one department.
    Clerk { department: String },
    /// 县级督办人: sees every department, the deadlines and the report.
    Supervisor,
}

impl Role {
    pub fn as_str(&self) -> &'static str {
        match self {
            Role::Clerk { .. } => "clerk",
            Role::Supervisor => "supervisor",
        }
    }

    /// The one department a clerk is bound to; `None` for a supervisor (all of them).
    pub fn department(&self) -> Option<&str> {
        match self {
            Role::Clerk { department } => Some(department),
            Role::Supervisor => None,
        }
    }

    /// Whether this role may see and act on cases of `department`.
    pub fn may_see(&self, department: &str) -> bool {
        self.department().is_none_or(|d| d == department)
    }
}

/// An operator account, without its password hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operator {
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub disabled: bool,
    pub locked_until: Option<DateTime<Utc>>,
}

/// A logged-in operator: the account and the session's CSRF token.
#[derive(Debug, Clone)]
pub struct Session {
    pub operator: Operator,
    pub csrf_token: String,
}

fn check_username(u: &str) -> Result<(), StaffError> {
    let ok = (2..=32).contains(&u.len())
        && u.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    if ok {
        Ok(())
    } else {
        Err(StaffError::BadUsername(u.to_string()))
    }
}

/// The argon2id PHC string of `password` with a fresh salt.
pub fn hash_password(password: &str) -> Result<String, StaffError> {
    let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>())
        .map_err(|e| StaffError::Hash(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| StaffError::Hash(e.to_string()))
}

fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

fn row_to_operator(
    username: String,
    display_name: String,
    role: String,
    department: Option<String>,
    disabled: i64,
    locked_until: Option<String>,
) -> Result<Operator, StaffError> {
    let role = match (role.as_str(), department) {
        ("clerk", Some(department)) => Role::Clerk { department },
        ("supervisor", None) => Role::Supervisor,
        _ => {
            return Err(StaffError::Corrupt {
                what: "operator role",
                value: role,
            });
        }
    };
    Ok(Operator {
        username,
        display_name,
        role,
        disabled: disabled != 0,
        locked_until: locked_until.as_deref().map(parse_ts).transpose()?,
    })
}

/// Adds an operator. A clerk's department must be one of `departments` (the catalogue's).
pub fn add(
    db: &Db,
    username: &str,
    display_name: &str,
    role: Role,
    password: &str,
    departments: &[String],
    now: DateTime<Utc>,
) -> Result<Operator, StaffError> {
    check_username(username)?;
    if let Role::Clerk { department } = &role
        && !departments.iter().any(|d| d == department)
    {
        return Err(StaffError::UnknownDepartment {
            given: department.clone(),
            known: departments.join(", "),
        });
    }
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(StaffError::WeakPassword(MIN_PASSWORD_CHARS));
    }
    let hash = hash_password(password)?;
    let inserted = db.conn().execute(
        "INSERT INTO staff_operators (username, display_name, role, department, password_hash,
             created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (username) DO NOTHING",
        params![
            username,
            display_name,
            role.as_str(),
            role.department(),
            hash,
            ts(now)
        ],
    )?;
    if inserted == 0 {
        return Err(StaffError::OperatorExists(username.to_string()));
    }
    tracing::info!(%username, role = role.as_str(), "operator added");
    get(db, username)?.ok_or_else(|| StaffError::NoOperator(username.to_string()))
}

/// One operator.
pub fn get(db: &Db, username: &str) -> Result<Option<Operator>, StaffError> {
    let row = db
        .conn()
        .query_row(
            "SELECT username, display_name, role, department, disabled, locked_until
             FROM staff_operators WHERE username = ?1",
            params![username],
            |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            },
        )
        .optional()?;
    row.map(|(a, b, c, d, e, f)| row_to_operator(a, b, c, d, e, f))
        .transpose()
}

/// Every operator, by username.
pub fn list(db: &Db) -> Result<Vec<Operator>, StaffError> {
    let mut stmt = db.conn().prepare(
        "SELECT username, display_name, role, department, disabled, locked_until
         FROM staff_operators ORDER BY username",
    )?;
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    rows.into_iter()
        .map(|(a, b, c, d, e, f)| row_to_operator(a, b, c, d, e, f))
        .collect()
}

/// Disables (or enables again) an account; disabling ends its sessions. Enabling also lifts a
/// lockout.
pub fn set_disabled(db: &Db, username: &str, disabled: bool) -> Result<(), StaffError> {
    let n = db.conn().execute(
        "UPDATE staff_operators SET disabled = ?2, failed_logins = 0,
             locked_until = CASE WHEN ?2 = 0 THEN NULL ELSE locked_until END
         WHERE username = ?1",
        params![username, i64::from(disabled)],
    )?;
    if n == 0 {
        return Err(StaffError::NoOperator(username.to_string()));
    }
    if disabled {
        db.conn().execute(
            "DELETE FROM staff_sessions WHERE username = ?1",
            params![username],
        )?;
    }
    tracing::info!(%username, disabled, "operator account changed");
    Ok(())
}

fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Checks a password and opens a session: `(cookie token, session)`. Counts failures and locks
/// the account after [`MAX_FAILED_LOGINS`] in a row; a locked or disabled account is refused
/// even with the right password.
pub fn login(
    db: &Db,
    username: &str,
    password: &str,
    now: DateTime<Utc>,
) -> Result<(String, Session), StaffError> {
    let row: Option<(String, i64, i64, Option<String>)> = db
        .conn()
        .query_row(
            "SELECT password_hash, disabled, failed_logins, locked_until
             FROM staff_operators WHERE username = ?1",
            params![username],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .optional()?;
    let Some((hash, disabled, failed, locked_until)) = row else {
        // The same work and the same answer as a wrong password.
        let _ = verify_password(password, DUMMY_HASH);
        tracing::warn!(%username, "login for an unknown operator");
        return Err(StaffError::BadLogin);
    };
    if let Some(until) = locked_until.as_deref().map(parse_ts).transpose()?
        && until > now
    {
        tracing::warn!(%username, "login while locked");
        return Err(StaffError::Locked {
            username: username.to_string(),
            until,
        });
    }
    if !verify_password(password, &hash) {
        let failed = failed + 1;
        if failed >= MAX_FAILED_LOGINS {
            let until = now + LOCKOUT;
            db.conn().execute(
                "UPDATE staff_operators SET failed_logins = 0, locked_until = ?2
                 WHERE username = ?1",
                params![username, ts(until)],
            )?;
            tracing::warn!(%username, "operator locked after repeated failed logins");
            return Err(StaffError::Locked {
                username: username.to_string(),
                until,
            });
        }
        db.conn().execute(
            "UPDATE staff_operators SET failed_logins = ?2 WHERE username = ?1",
            params![username, failed],
        )?;
        tracing::warn!(%username, failed, "failed login");
        return Err(StaffError::BadLogin);
    }
    if disabled != 0 {
        return Err(StaffError::Disabled(username.to_string()));
    }
    db.conn().execute(
        "UPDATE staff_operators SET failed_logins = 0, locked_until = NULL WHERE username = ?1",
        params![username],
    )?;
    let token = hex::encode(rand::random::<[u8; 32]>());
    let csrf = hex::encode(rand::random::<[u8; 32]>());
    db.conn().execute(
        "INSERT INTO staff_sessions (token_sha256, username, csrf_token, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            token_hash(&token),
            username,
            csrf,
            ts(now),
            ts(now + SESSION_TTL)
        ],
    )?;
    tracing::info!(%username, "operator logged in");
    let operator = get(db, username)?.ok_or_else(|| StaffError::NoOperator(username.into()))?;
    Ok((
        token,
        Session {
            operator,
            csrf_token: csrf,
        },
    ))
}

/// The live session of a cookie token: not expired, account not disabled.
pub fn session(db: &Db, token: &str, now: DateTime<Utc>) -> Result<Option<Session>, StaffError> {
    let row: Option<(String, String, String)> = db
        .conn()
        .query_row(
            "SELECT s.username, s.csrf_token, s.expires_at FROM staff_sessions s
             JOIN staff_operators o ON o.username = s.username
             WHERE s.token_sha256 = ?1 AND o.disabled = 0",
            params![token_hash(token)],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    let Some((username, csrf_token, expires)) = row else {
        return Ok(None);
    };
    if parse_ts(&expires)? <= now {
        return Ok(None);
    }
    Ok(get(db, &username)?.map(|operator| Session {
        operator,
        csrf_token,
    }))
}

/// Ends a session.
pub fn logout(db: &Db, token: &str) -> Result<(), StaffError> {
    db.conn().execute(
        "DELETE FROM staff_sessions WHERE token_sha256 = ?1",
        params![token_hash(token)],
    )?;
    Ok(())
}

/// A valid argon2id hash of a random password, verified against for unknown usernames.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$CTFhFdXPJO1aFaMaO6Mm5c/y7cJHAph8ShfUVA9LpHI";
