//! The two migration sets are written once per backend; this test keeps them twins. It
//! migrates a fresh SQLite file and a fresh PostgreSQL database and compares what each
//! database reports of itself: tables, columns and their nullability, primary keys, unique and
//! other indexes (with their columns and partial conditions), check constraints per table, and
//! which tables refuse UPDATE or DELETE by trigger. Types are left out on purpose: the
//! backends spell them differently (BIGINT and INTEGER, TIMESTAMP and TEXT dates).

use std::collections::BTreeSet;

use diesel::sql_types::{BigInt, Bool, Text};
use diesel::{QueryableByName, RunQueryDsl};
use ptt_ledger::db::conn::DbConn;

use crate::helpers::{spawn_app, Backend, TestApp};

#[derive(QueryableByName)]
struct Name {
    #[diesel(sql_type = Text)]
    name: String,
}

#[derive(QueryableByName)]
struct Column {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Bool)]
    nullable: bool,
    #[diesel(sql_type = Bool)]
    primary_key: bool,
}

#[derive(QueryableByName)]
struct Index {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Bool)]
    unique: bool,
    #[diesel(sql_type = Bool)]
    partial: bool,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Everything compared, as sorted lines, so that a difference prints as the lines that differ.
fn describe(app: &TestApp) -> BTreeSet<String> {
    let mut conn = app.raw_connection();
    let mut lines = BTreeSet::new();
    let pg = app.backend == Backend::Postgres;
    let tables_sql = if pg {
        "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' AND table_name NOT LIKE '\\_\\_%'"
    } else {
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_\\_%' ESCAPE '\\' AND name NOT LIKE 'sqlite_%'"
    };
    let tables: Vec<Name> = diesel::sql_query(tables_sql).load(&mut conn).expect("tables");
    for table in tables.iter().map(|t| t.name.as_str()) {
        lines.insert(format!("table {table}"));
        for column in columns(&mut conn, pg, table) {
            lines.insert(format!(
                "column {table}.{} {}{}",
                column.name,
                if column.nullable { "null" } else { "not null" },
                if column.primary_key { " primary key" } else { "" }
            ));
        }
        for (index_columns, unique, partial) in indexes(&mut conn, pg, table) {
            lines.insert(format!(
                "index {table}({index_columns}){}{}",
                if unique { " unique" } else { "" },
                if partial { " partial" } else { "" }
            ));
        }
        lines.insert(format!("checks {table}: {}", checks(&mut conn, pg, table)));
        for event in refused_events(&mut conn, pg, table) {
            lines.insert(format!("trigger refuses {event} on {table}"));
        }
    }
    lines
}

fn columns(conn: &mut DbConn, pg: bool, table: &str) -> Vec<Column> {
    let sql = if pg {
        format!(
            "SELECT c.column_name AS name, c.is_nullable = 'YES' AS nullable, \
             EXISTS (SELECT 1 FROM information_schema.key_column_usage k JOIN information_schema.table_constraints t \
                     ON t.constraint_name = k.constraint_name AND t.table_name = k.table_name \
                     WHERE t.constraint_type = 'PRIMARY KEY' AND k.table_name = c.table_name AND k.column_name = c.column_name) AS primary_key \
             FROM information_schema.columns c WHERE c.table_schema = 'public' AND c.table_name = '{table}'"
        )
    } else {
        // SQLite lets a non-integer primary key column hold NULL unless it says NOT NULL; the
        // service never writes one, so a primary key counts as not null, as on PostgreSQL.
        format!("SELECT name, (\"notnull\" = 0 AND pk = 0) AS nullable, pk > 0 AS primary_key FROM pragma_table_info('{table}')")
    };
    diesel::sql_query(sql).load(conn).expect("columns")
}

/// Each index as (its columns in order, unique, partial); primary keys are compared as columns.
fn indexes(conn: &mut DbConn, pg: bool, table: &str) -> Vec<(String, bool, bool)> {
    if pg {
        let sql = format!(
            "SELECT i.relname AS name, x.indisunique AS \"unique\", x.indpred IS NOT NULL AS partial \
             FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid \
             WHERE t.relname = '{table}' AND NOT x.indisprimary"
        );
        let found: Vec<Index> = diesel::sql_query(sql).load(conn).expect("indexes");
        found
            .into_iter()
            .map(|index| {
                let sql = format!(
                    "SELECT a.attname AS name FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid \
                     CROSS JOIN LATERAL unnest(x.indkey) WITH ORDINALITY AS k(attnum, ord) \
                     JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.attnum \
                     WHERE i.relname = '{}' ORDER BY k.ord",
                    index.name
                );
                let names: Vec<Name> = diesel::sql_query(sql).load(conn).expect("index columns");
                (names.into_iter().map(|n| n.name).collect::<Vec<_>>().join(", "), index.unique, index.partial)
            })
            .collect()
    } else {
        let sql = format!("SELECT name, \"unique\" = 1 AS \"unique\", partial = 1 AS partial FROM pragma_index_list('{table}') WHERE origin <> 'pk'");
        let found: Vec<Index> = diesel::sql_query(sql).load(conn).expect("indexes");
        found
            .into_iter()
            .map(|index| {
                let sql = format!("SELECT name FROM pragma_index_info('{}') ORDER BY seqno", index.name);
                let names: Vec<Name> = diesel::sql_query(sql).load(conn).expect("index columns");
                (names.into_iter().map(|n| n.name).collect::<Vec<_>>().join(", "), index.unique, index.partial)
            })
            .collect()
    }
}

/// How many CHECK constraints the table has.
fn checks(conn: &mut DbConn, pg: bool, table: &str) -> i64 {
    if pg {
        let sql = format!(
            "SELECT COUNT(*) AS n FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid WHERE t.relname = '{table}' AND c.contype = 'c'"
        );
        diesel::sql_query(sql).get_result::<Count>(conn).expect("checks").n
    } else {
        let sql = format!("SELECT sql AS name FROM sqlite_master WHERE type = 'table' AND name = '{table}'");
        let create: Name = diesel::sql_query(sql).get_result(conn).expect("table sql");
        create.name.to_uppercase().matches("CHECK (").count() as i64
    }
}

/// The row events (UPDATE, DELETE) that a trigger on the table refuses.
fn refused_events(conn: &mut DbConn, pg: bool, table: &str) -> BTreeSet<String> {
    let sql = if pg {
        format!("SELECT DISTINCT event_manipulation AS name FROM information_schema.triggers WHERE event_object_table = '{table}'")
    } else {
        format!("SELECT sql AS name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = '{table}'")
    };
    let found: Vec<Name> = diesel::sql_query(sql).load(conn).expect("triggers");
    let mut events = BTreeSet::new();
    for text in found.iter().map(|f| f.name.to_uppercase()) {
        for event in ["UPDATE", "DELETE", "INSERT"] {
            let fires = if pg { text == event } else { text.contains(&format!("BEFORE {event}")) };
            if fires {
                events.insert(event.to_string());
            }
        }
    }
    events
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_two_migrated_schemas_are_twins() {
    if !crate::helpers::postgres_configured() {
        eprintln!("TEST_DATABASE_URL not set: the schemas cannot be compared");
        return;
    }
    let sqlite = spawn_app(Backend::Sqlite).await;
    let postgres = spawn_app(Backend::Postgres).await;
    let (lite, pg) = (describe(&sqlite), describe(&postgres));
    assert!(lite.len() > 50, "described too little: {lite:?}");
    let only_sqlite: Vec<&String> = lite.difference(&pg).collect();
    let only_pg: Vec<&String> = pg.difference(&lite).collect();
    assert!(
        only_sqlite.is_empty() && only_pg.is_empty(),
        "the migrations differ\nonly on SQLite:\n  {}\nonly on PostgreSQL:\n  {}",
        only_sqlite.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("\n  "),
        only_pg.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("\n  ")
    );
}
