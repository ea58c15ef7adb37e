//! `county-backoffice operator ...` and `county-backoffice report ...`, and the pieces of
//! `case list --department` / `case show` that staff data adds. Reads the holiday calendar and
//! catalogue files named on the command line.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use chrono::Utc;
use clap::Subcommand;

use super::operators::{self, Role};
use super::{CalendarError, HolidayCalendar, Routes, StaffError, cases, followup, report};
use crate::backoffice::Db;

/// Why a staff command failed.
#[derive(Debug, thiserror::Error)]
pub enum StaffCliError {
    #[error(transparent)]
    Staff(#[from] StaffError),
    #[error("holiday calendar {}: {source}", path.display())]
    Holidays {
        path: PathBuf,
        source: CalendarError,
    },
    #[error("cannot read the {what} {}: {source}", path.display())]
    Read {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("catalogue {}: {detail}", path.display())]
    Catalogue { path: PathBuf, detail: String },
    #[error("operator add reads the password from standard input (one line): {0}")]
    Password(String),
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl From<crate::backoffice::DbError> for StaffCliError {
    fn from(e: crate::backoffice::DbError) -> Self {
        StaffCliError::Staff(StaffError::Db(e))
    }
}

/// The holiday calendar file, or weekends only without one.
pub fn load_holidays(path: Option<&Path>) -> Result<HolidayCalendar, StaffCliError> {
    let Some(path) = path else {
        return Ok(HolidayCalendar::weekends_only());
    };
    let text = std::fs::read_to_string(path).map_err(|source| StaffCliError::Read {
        what: "holiday calendar",
        path: path.to_path_buf(),
        source,
    })?;
    HolidayCalendar::parse(&text).map_err(|source| StaffCliError::Holidays {
        path: path.to_path_buf(),
        source,
    })
}

/// The routes of the catalogue file, or of the demo catalogue without one (as `serve`).
pub fn load_routes(path: Option<&Path>) -> Result<Routes, StaffCliError> {
    let Some(path) = path else {
        return Ok(Routes::from_catalog(
            crate::catalog::demo::demo_catalog_ref(),
        ));
    };
    let bytes = std::fs::read(path).map_err(|source| StaffCliError::Read {
        what: "catalogue",
        path: path.to_path_buf(),
        source,
    })?;
    let catalog = crate::catalog::bundle::parse_catalog_json(&bytes).map_err(|detail| {
        StaffCliError::Catalogue {
            path: path.to_path_buf(),
            detail,
        }
    })?;
    Ok(Routes::from_catalog(&catalog))
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum RoleArg {
    /// 部门经办人: one department's cases (needs --department).
    Clerk,
    /// 县级督办人: every department, deadlines, the report.
    Supervisor,
}

#[derive(Debug, Subcommand)]
pub enum OperatorCommand {
    /// Add an operator; the password is read from standard input (one line, at least 10
    /// characters).
    Add {
        #[arg(long, env = "COUNTY_BACKOFFICE_DB", value_name = "PATH")]
        db: PathBuf,
        username: String,
        #[arg(long, value_enum)]
        role: RoleArg,
        /// The clerk's department (主管部门, as in the catalogue).
        #[arg(long)]
        department: Option<String>,
        /// The name shown on pages (default: the username).
        #[arg(long)]
        name: Option<String>,
        /// The catalogue whose departments are valid (default: the demo catalogue).
        #[arg(long, value_name = "JSON")]
        catalog: Option<PathBuf>,
    },
    /// List operators.
    List {
        #[arg(long, env = "COUNTY_BACKOFFICE_DB", value_name = "PATH")]
        db: PathBuf,
    },
    /// Disable an operator (ends their sessions).
    Disable {
        #[arg(long, env = "COUNTY_BACKOFFICE_DB", value_name = "PATH")]
        db: PathBuf,
        username: String,
    },
    /// Enable a disabled or locked operator again.
    Enable {
        #[arg(long, env = "COUNTY_BACKOFFICE_DB", value_name = "PATH")]
        db: PathBuf,
        username: String,
    },
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ReportFormat {
    Csv,
    Html,
}

#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    #[arg(long, env = "COUNTY_BACKOFFICE_DB", value_name = "PATH")]
    db: PathBuf,
    /// First day of the period (YYYY-MM-DD; default: the first of this month).
    #[arg(long, value_name = "DATE")]
    from: Option<String>,
    /// Last day of the period (YYYY-MM-DD; default: today).
    #[arg(long, value_name = "DATE")]
    to: Option<String>,
    #[arg(long, value_enum, default_value = "csv")]
    format: ReportFormat,
    /// The county's holiday calendar (see docs; default: weekends only).
    #[arg(long, value_name = "FILE")]
    holidays: Option<PathBuf>,
    /// Write here instead of standard output.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

pub fn run_operator(c: OperatorCommand) -> Result<ExitCode, StaffCliError> {
    match c {
        OperatorCommand::Add {
            db,
            username,
            role,
            department,
            name,
            catalog,
        } => {
            let role = match (role, department) {
                (RoleArg::Clerk, Some(department)) => Role::Clerk { department },
                (RoleArg::Supervisor, None) => Role::Supervisor,
                _ => return Err(StaffError::DepartmentForRole.into()),
            };
            let db = Db::open(&db)?;
            let routes = load_routes(catalog.as_deref())?;
            let departments = cases::known_departments(&db, &routes)?;
            let mut password = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut password)
                .map_err(|e| StaffCliError::Password(e.to_string()))?;
            let password = password.trim_end_matches(['\r', '\n']);
            let op = operators::add(
                &db,
                &username,
                name.as_deref().unwrap_or(&username),
                role,
                password,
                &departments,
                Utc::now(),
            )?;
            println!(
                "operator {} added ({}{})",
                op.username,
                op.role.as_str(),
                op.role
                    .department()
                    .map(|d| format!(", {d}"))
                    .unwrap_or_default()
            );
        }
        OperatorCommand::List { db } => {
            let db = Db::open(&db)?;
            println!(
                "{:<16} {:<11} {:<9} {:<20} DEPARTMENT",
                "USERNAME", "ROLE", "STATE", "NAME"
            );
            let now = Utc::now();
            for o in operators::list(&db)? {
                let state = if o.disabled {
                    "disabled"
                } else if o.locked_until.is_some_and(|u| u > now) {
                    "locked"
                } else {
                    "active"
                };
                println!(
                    "{:<16} {:<11} {:<9} {:<20} {}",
                    o.username,
                    o.role.as_str(),
                    state,
                    o.display_name,
                    o.role.department().unwrap_or("-")
                );
            }
        }
        OperatorCommand::Disable { db, username } => {
            operators::set_disabled(&Db::open(&db)?, &username, true)?;
            println!("operator {username} disabled");
        }
        OperatorCommand::Enable { db, username } => {
            operators::set_disabled(&Db::open(&db)?, &username, false)?;
            println!("operator {username} enabled");
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn run_report(args: ReportArgs) -> Result<ExitCode, StaffCliError> {
    let holidays = load_holidays(args.holidays.as_deref())?;
    let db = Db::open(&args.db)?;
    let now = Utc::now();
    let (from, to) = super::pages::period(args.from.as_deref(), args.to.as_deref(), now)?;
    followup::open_for_bad_ratings(&db, now)?;
    let r = report::build(&db, &holidays, from, to, now)?;
    let text = match args.format {
        ReportFormat::Csv => r.to_csv()?,
        ReportFormat::Html => r.to_html(),
    };
    match args.out {
        Some(path) => {
            std::fs::write(&path, text).map_err(|source| StaffCliError::Write { path, source })?
        }
        None => print!("{text}"),
    }
    Ok(ExitCode::SUCCESS)
}

/// `case list --department D`: the department's case numbers, newest first, after checking
/// that the department is known.
pub fn department_cases(
    db: &Db,
    department: &str,
    catalog: Option<&Path>,
) -> Result<Vec<String>, StaffCliError> {
    let routes = load_routes(catalog)?;
    cases::check_department(db, &routes, department)?;
    Ok(cases::rows(db, Some(department))?
        .into_iter()
        .map(|r| r.case_number)
        .collect())
}

/// The lines `case show` adds: department, due dates, audit log.
pub fn print_staff_part(
    db: &Db,
    case_number: &str,
    holidays: Option<&Path>,
) -> Result<(), StaffCliError> {
    let holidays = load_holidays(holidays)?;
    if let Some(row) = cases::row(db, case_number)? {
        let d = row.deadline(&holidays, Utc::now());
        println!("department {}", row.department);
        println!(
            "due        {} (promised, {} working days)",
            d.promised_due, row.promised_days
        );
        println!(
            "legal due  {} (legal, {} working days)",
            d.legal_due, row.legal_days
        );
        println!("deadline   {} ({})", d.state.as_str(), d.state.label_zh());
    } else {
        println!("department (not routed yet: routed when serve next starts)");
    }
    println!("audit");
    for a in cases::audit(db, case_number)? {
        println!(
            "  {}  {:<12} {} -> {}  {}",
            a.at.format("%Y-%m-%d %H:%M:%S"),
            a.actor,
            a.from.as_str(),
            a.to.as_str(),
            a.note.as_deref().unwrap_or("")
        );
    }
    Ok(())
}
