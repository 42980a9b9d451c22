//! Least privilege on PostgreSQL: what the serving role may do to each table. `ptt-ledger migrate
//! --grant-to ROLE` runs as the schema's owner and grants exactly this; `serve --no-migrate` then
//! runs as ROLE. The role owns nothing, so it cannot alter, drop or truncate a table, nor disable
//! or drop the append-only triggers; ledger tables get no UPDATE or DELETE at all.

use diesel::prelude::*;

use super::conn::{ConnError, DbConn};

/// Per table, the privileges of the serving role beyond SELECT (which it has on every table).
/// A table missing here makes `grant_to` fail: a new table must say what the service may do.
pub const TABLE_PRIVILEGES: &[(&str, &str)] = &[
    // A fund's payment settings may change; its code never.
    ("funds", "INSERT, UPDATE (legal_name, iban, bic)"),
    ("schemes", "INSERT"),
    ("scheme_versions", "INSERT"),
    // Reference data: an employer's name, sector and bank account may be corrected; a worker's
    // employer and report facts change (employment changes, imports); keys never change.
    ("employers", "INSERT, UPDATE (name, sector, iban)"),
    ("workers", "INSERT, UPDATE (employer_id, birth_year, education_level)"),
    ("employments", "INSERT, UPDATE (employer_id, valid_until)"),
    // Balances and lot balances are projections kept in step with the entries: only those
    // columns change (and a lot's terms are guarded by a trigger besides).
    ("budget_accounts", "INSERT, UPDATE (available_cents, reserved_cents, granted_cents, spent_cents, expired_cents, tx_count, chain_head)"),
    ("grant_lots", "INSERT, UPDATE (available_cents, reserved_cents)"),
    // The ledger itself: appended to, never changed.
    ("ledger_transactions", "INSERT"),
    ("ledger_postings", "INSERT"),
    ("claim_payments", "INSERT"),
    // The state of claims and vouchers moves on; what was claimed or issued (amounts, worker,
    // scheme, invoice) cannot change.
    ("vouchers", "INSERT, UPDATE (status, claim_id, closed_at)"),
    ("voucher_lots", "INSERT"),
    ("claim_lots", "INSERT"),
    ("claim_periods", "INSERT, UPDATE (closed_at)"),
    (
        "claims",
        "INSERT, UPDATE (status, approved_cents, rejection_reason, decision_note, payment_reference, spend_tx_id, \
         reversal_tx_id, account_id, voucher_id, decided_at, paid_at, reversed_at, held_cents)",
    ),
    ("coaching_sessions", "INSERT"),
    // Objections are filed, then decided once.
    ("objections", "INSERT, UPDATE (status, decided_at, decided_by, motivation)"),
    // The provider registry: a provider is suspended and reinstated; its suspensions end.
    ("providers", "INSERT, UPDATE (status)"),
    ("provider_suspensions", "INSERT, UPDATE (reinstated_on, reinstated_by)"),
    // Payment batches: fixed once made (triggers), then confirmed or cancelled once; a
    // cancelled batch releases its items.
    ("payment_batches", "INSERT, UPDATE (status, bank_reference, closed_at, closed_by)"),
    ("payment_batch_items", "INSERT, UPDATE (active)"),
    ("payment_returns", "INSERT"),
    // The change feed: events are appended, then given their position once (a trigger refuses
    // anything else); subscriptions move their cursor and lease; attempts are logged.
    ("events", "INSERT, UPDATE (position)"),
    ("webhook_subscriptions", "INSERT, UPDATE (status, delivered_position, attempts, failing_since, next_attempt_at, lease_until)"),
    ("webhook_deliveries", "INSERT"),
    // Keys are answered and purged after their retention period.
    ("idempotency_keys", "INSERT, UPDATE (status_code, response_body), DELETE"),
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
        // No DDL: nobody but the owner creates objects in the schema (PostgreSQL 15's default,
        // made explicit for older servers and changed defaults).
        format!("REVOKE CREATE ON SCHEMA {schema} FROM PUBLIC"),
        format!("REVOKE CREATE ON SCHEMA {schema} FROM {role}"),
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

/// PostgreSQL, `serve --no-migrate`: refuses to start when this role lacks a privilege the
/// service needs (a table added by an upgrade that `--grant-to` did not cover yet), instead of
/// answering 500 on the requests that touch it.
pub fn check_granted(conn: &mut DbConn) -> Result<(), ConnError> {
    let DbConn::Pg(pg) = conn else { return Ok(()) };
    #[derive(QueryableByName)]
    struct Granted {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        granted: bool,
    }
    for (table, privileges) in TABLE_PRIVILEGES {
        // One privilege per check: a list would be true if any one of them were held.
        let needed: &[&str] = if privileges.starts_with("INSERT") { &["SELECT", "INSERT"] } else { &["SELECT"] };
        for privilege in needed {
            let granted = diesel::sql_query("SELECT has_table_privilege(current_user, $1, $2) AS granted")
                .bind::<diesel::sql_types::Text, _>(*table)
                .bind::<diesel::sql_types::Text, _>(*privilege)
                .get_result::<Granted>(pg)?
                .granted;
            if !granted {
                return Err(ConnError::Migration(format!(
                    "this role may not {privilege} on {table}: run `ptt-ledger migrate --grant-to ROLE` as the owner for this version"
                )));
            }
        }
    }
    Ok(())
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
