//! Forward-only schema migrations: the embedded SQL trees and the backend-neutral decision of
//! which versions to apply.
//!
//! Each backend has its own tree under `migrations/<backend>/`, with the same versions and
//! names: a schema change is one version written in both dialects (tests keep the lists, the
//! files and the two trees in step). A backend's runner records applied versions in
//! `schema_migrations(version, name, applied_at)` and applies each missing version in its own
//! transaction, holding a lock that keeps two processes from migrating at once; [`plan`]
//! decides which versions, and refuses a database this binary is too old for.

use sqlx::migrate::MigrateError;

/// One schema version: its number, a short name, and the SQL that brings the schema to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Migration {
    /// Version number, strictly increasing from 1 with no gaps.
    pub version: i64,
    /// Short name, the file name without the version prefix and extension.
    pub name: &'static str,
    /// The statements, run in one transaction.
    pub sql: &'static str,
}

/// The SQLite tree, `migrations/sqlite/NNNN_name.sql`, in version order.
pub const SQLITE_MIGRATIONS: &[Migration] = &[
    Migration { version: 1, name: "init", sql: include_str!("../migrations/sqlite/0001_init.sql") },
    Migration { version: 2, name: "requests", sql: include_str!("../migrations/sqlite/0002_requests.sql") },
    Migration {
        version: 3,
        name: "admin_area",
        sql: include_str!("../migrations/sqlite/0003_admin_area.sql"),
    },
    Migration {
        version: 4,
        name: "invitation_tokens",
        sql: include_str!("../migrations/sqlite/0004_invitation_tokens.sql"),
    },
    Migration {
        version: 5,
        name: "delegation",
        sql: include_str!("../migrations/sqlite/0005_delegation.sql"),
    },
    Migration { version: 6, name: "platforms", sql: include_str!("../migrations/sqlite/0006_platforms.sql") },
    Migration {
        version: 7,
        name: "change_log",
        sql: include_str!("../migrations/sqlite/0007_change_log.sql"),
    },
    Migration {
        version: 8,
        name: "provisioning",
        sql: include_str!("../migrations/sqlite/0008_provisioning.sql"),
    },
    Migration {
        version: 9,
        name: "ssh_certificates",
        sql: include_str!("../migrations/sqlite/0009_ssh_certificates.sql"),
    },
];

/// The PostgreSQL tree, `migrations/postgres/NNNN_name.sql`: the same versions and names as
/// [`SQLITE_MIGRATIONS`], in PostgreSQL's dialect.
pub const POSTGRES_MIGRATIONS: &[Migration] = &[
    Migration { version: 1, name: "init", sql: include_str!("../migrations/postgres/0001_init.sql") },
    Migration { version: 2, name: "requests", sql: include_str!("../migrations/postgres/0002_requests.sql") },
    Migration {
        version: 3,
        name: "admin_area",
        sql: include_str!("../migrations/postgres/0003_admin_area.sql"),
    },
    Migration {
        version: 4,
        name: "invitation_tokens",
        sql: include_str!("../migrations/postgres/0004_invitation_tokens.sql"),
    },
    Migration {
        version: 5,
        name: "delegation",
        sql: include_str!("../migrations/postgres/0005_delegation.sql"),
    },
    Migration {
        version: 6,
        name: "platforms",
        sql: include_str!("../migrations/postgres/0006_platforms.sql"),
    },
    Migration {
        version: 7,
        name: "change_log",
        sql: include_str!("../migrations/postgres/0007_change_log.sql"),
    },
    Migration {
        version: 8,
        name: "provisioning",
        sql: include_str!("../migrations/postgres/0008_provisioning.sql"),
    },
    Migration {
        version: 9,
        name: "ssh_certificates",
        sql: include_str!("../migrations/postgres/0009_ssh_certificates.sql"),
    },
];

/// The migrations of `known` still to apply to a database that has `applied`, in order.
///
/// Fails when the database holds a version `known` lacks (it was migrated by a newer binary,
/// whose schema this one must not touch), or when a missing version is older than one already
/// applied (forward-only: versions are never applied out of order).
pub fn plan<'a>(known: &'a [Migration], applied: &[i64]) -> Result<Vec<&'a Migration>, MigrateError> {
    if let Some(&unknown) = applied.iter().find(|v| !known.iter().any(|m| m.version == **v)) {
        return Err(MigrateError::VersionMissing(unknown));
    }
    let latest = applied.iter().copied().max().unwrap_or(0);
    let pending: Vec<&Migration> = known.iter().filter(|m| !applied.contains(&m.version)).collect();
    if let Some(old) = pending.iter().find(|m| m.version < latest) {
        return Err(MigrateError::VersionTooOld(old.version, latest));
    }
    Ok(pending)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SQL: &str = "SELECT 1";
    const KNOWN: &[Migration] = &[
        Migration { version: 1, name: "a", sql: SQL },
        Migration { version: 2, name: "b", sql: SQL },
        Migration { version: 3, name: "c", sql: SQL },
    ];

    fn versions(p: Vec<&Migration>) -> Vec<i64> {
        p.into_iter().map(|m| m.version).collect()
    }

    #[test]
    fn plans_the_missing_versions_in_order() {
        assert_eq!(versions(plan(KNOWN, &[]).unwrap()), [1, 2, 3]);
        assert_eq!(versions(plan(KNOWN, &[1]).unwrap()), [2, 3]);
        assert!(plan(KNOWN, &[1, 2, 3]).unwrap().is_empty());
    }

    #[test]
    fn refuses_a_database_from_a_newer_binary_or_with_a_hole() {
        assert!(matches!(plan(KNOWN, &[1, 2, 3, 4]), Err(MigrateError::VersionMissing(4))));
        assert!(matches!(plan(KNOWN, &[1, 3]), Err(MigrateError::VersionTooOld(2, 3))));
    }

    /// Every tree lists exactly its files, numbered 1, 2, 3, ...
    #[test]
    fn each_tree_matches_its_directory() {
        for (dir, list) in [("sqlite", SQLITE_MIGRATIONS), ("postgres", POSTGRES_MIGRATIONS)] {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations").join(dir);
            let mut files: Vec<String> = std::fs::read_dir(&path)
                .unwrap()
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .filter(|f| f.ends_with(".sql"))
                .collect();
            files.sort();
            let listed: Vec<String> =
                list.iter().map(|m| format!("{:04}_{}.sql", m.version, m.name)).collect();
            assert_eq!(files, listed, "migrations/{dir} and its list disagree");
            for (i, m) in list.iter().enumerate() {
                assert_eq!(m.version, i as i64 + 1, "migrations/{dir}: versions must run 1, 2, 3, ...");
            }
        }
    }

    /// Both backends hold the same schema versions under the same names, so a database of
    /// either kind at version N has the same tables, and a change never lands in one tree only.
    #[test]
    fn both_trees_hold_the_same_versions() {
        let pairs = |list: &[Migration]| list.iter().map(|m| (m.version, m.name)).collect::<Vec<_>>();
        assert_eq!(pairs(POSTGRES_MIGRATIONS), pairs(SQLITE_MIGRATIONS));
    }
}
