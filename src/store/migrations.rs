//! The schema, as an ordered list of migrations. Never edit a migration that has shipped: add one.

/// One step of the schema.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// `PRAGMA user_version` after this step.
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

/// Every migration, oldest first.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "catalog",
        sql: include_str!("migrations/0001_catalog.sql"),
    },
    Migration {
        version: 2,
        name: "outbox",
        sql: include_str!("migrations/0002_outbox.sql"),
    },
    Migration {
        version: 3,
        name: "noticeboard",
        sql: include_str!("migrations/0003_noticeboard.sql"),
    },
    Migration {
        version: 4,
        name: "sync",
        sql: include_str!("migrations/0004_sync.sql"),
    },
    Migration {
        version: 5,
        name: "waiting evaluations",
        sql: include_str!("migrations/0005_waiting_evaluations.sql"),
    },
];
