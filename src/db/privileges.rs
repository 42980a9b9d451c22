//! Least privilege on PostgreSQL: what the serving role may do to each table. `ptt-ledger migrate
//! --grant-to ROLE` runs as the schema's owner and grants exactly this; `serve --no-migrate` then
//! runs as ROLE. The role owns nothing, so it cannot alter, drop or truncate a table, nor disable
//! or drop the append-only triggers; ledger tables get no UPDATE or DELETE at all.

use diesel::prelude::*;

use super::conn::{ConnError, DbConn};

/// Per table, the privileges of the serving role beyond SELECT (which it has on every table).
/// A table missing here makes `grant_to` fail: a new table must say what the service may do.
pub const TABLE_PRIVILEGES: &[(&str, &str)] = &[
    ("funds", "INSERT"),
    ("schemes", "INSERT"),
    ("scheme_versions", "INSERT"),
    ("employers", "INSERT"),
    ("workers", "INSERT"),
    // Balances and lot balances are projections kept in step with the entries.
    ("budget_accounts", "INSERT, UPDATE"),
    ("grant_lots", "INSERT, UPDATE"),
    // The ledger itself: appended to, never changed.
    ("ledger_transactions", "INSERT"),
    ("ledger_postings", "INSERT"),
    ("claim_payments", "INSERT"),
    // State of claims and vouchers moves on (triggers keep their money facts fixed).
    ("vouchers", "INSERT, UPDATE"),
    ("voucher_lots", "INSERT"),
    ("claims", "INSERT, UPDATE"),
    ("coaching_sessions", "INSERT"),
    // Keys are answered and purged after their retention period.
    ("idempotency_keys", "INSERT, UPDATE, DELETE"),
    // Read only: the serving role checks that the schema is current.
    ("__diesel_schema_migrations", ""),
];

/// A role name as PostgreSQL's unquoted identifiers spell it; anything else is refused rather
/// than quoted, so that the name in the command is the name in the catalogue.
fn valid_role(role: &str) -> bool {
    let mut chars = role.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && role.len() <= 63
}

#[derive(QueryableByName)]
struct Name {
    #[diesel(sql_type = diesel::sql_types::Text)]
    name: String,
}

/// Gives `role` what the service needs and nothing more, on the current schema. Run as the
/// owner after the migrations; running it again gives the same result.
pub fn grant_to(conn: &mut DbConn, role: &str) -> Result<usize, ConnError> {
    let DbConn::Pg(pg) = conn else {
        return Err(ConnError::Migration("--grant-to is for PostgreSQL: an SQLite file has no roles (protect it with file permissions)".into()));
    };
    if !valid_role(role) {
        return Err(ConnError::Migration(format!("--grant-to {role:?}: use a role name of lower-case letters, digits and _")));
    }
    let exists: Vec<Name> = diesel::sql_query("SELECT rolname::text AS name FROM pg_roles WHERE rolname = $1")
        .bind::<diesel::sql_types::Text, _>(role)
        .load(pg)?;
    if exists.is_empty() {
        return Err(ConnError::Migration(format!("role {role} does not exist: CREATE ROLE {role} LOGIN first")));
    }
    let schema = diesel::sql_query("SELECT current_schema()::text AS name").get_result::<Name>(pg)?.name;
    let schema = format!("\"{}\"", schema.replace('"', "\"\""));
    let tables: Vec<Name> = diesel::sql_query(
        "SELECT tablename::text AS name FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename",
    )
    .load(pg)?;
    let mut statements = vec![
        format!("REVOKE ALL ON ALL TABLES IN SCHEMA {schema} FROM {role}"),
        format!("GRANT USAGE ON SCHEMA {schema} TO {role}"),
    ];
    for table in &tables {
        let extra = TABLE_PRIVILEGES
            .iter()
            .find(|(name, _)| *name == table.name)
            .map(|(_, privileges)| *privileges)
            .ok_or_else(|| ConnError::Migration(format!("table {} has no privileges in db::privileges::TABLE_PRIVILEGES", table.name)))?;
        statements.push(format!("GRANT SELECT ON {} TO {role}", table.name));
        if !extra.is_empty() {
            statements.push(format!("GRANT {extra} ON {} TO {role}", table.name));
        }
    }
    pg.transaction(|pg| {
        for statement in &statements {
            diesel::sql_query(statement).execute(pg)?;
        }
        Ok::<_, diesel::result::Error>(())
    })?;
    Ok(tables.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_names_are_plain_identifiers() {
        assert!(valid_role("ptt_app"));
        assert!(valid_role("_x1"));
        assert!(!valid_role("App"));
        assert!(!valid_role("1app"));
        assert!(!valid_role("ptt; DROP TABLE funds"));
        assert!(!valid_role(""));
    }
}
