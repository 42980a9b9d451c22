//! The provider registry: providers, their suspensions, and how a named provider stands.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use super::conn::DbConn;
use super::rows::PageQuery;
use super::schema::{provider_suspensions, providers};
use crate::domain::providers::{ProviderStanding, ProviderStatus};
use crate::domain::{FundId, ProviderId};

#[derive(Clone, Debug, Queryable, Selectable, Insertable)]
#[diesel(treat_none_as_default_value = false)]
#[diesel(table_name = providers)]
pub struct ProviderRow {
    pub id: ProviderId,
    pub fund_id: FundId,
    pub kvk_number: String,
    pub name: String,
    pub iban: Option<String>,
    /// The labels, joined with `,` (labels contain no comma).
    pub quality_labels: String,
    pub status: ProviderStatus,
    pub created_at: NaiveDateTime,
}

impl ProviderRow {
    pub fn labels(&self) -> Vec<String> {
        self.quality_labels.split(',').filter(|l| !l.is_empty()).map(str::to_string).collect()
    }
}

#[derive(Clone, Debug, Queryable, Selectable, Insertable)]
#[diesel(treat_none_as_default_value = false)]
#[diesel(table_name = provider_suspensions)]
pub struct SuspensionRow {
    pub provider_id: ProviderId,
    pub recorded_at: NaiveDateTime,
    pub fund_id: FundId,
    pub suspended_on: NaiveDate,
    pub reason: String,
    pub suspended_by: String,
    pub reinstated_on: Option<NaiveDate>,
    pub reinstated_by: Option<String>,
}

/// Inside a savepoint, so that a duplicate KvK number leaves the caller's transaction usable.
pub fn insert_provider(conn: &mut DbConn, row: &ProviderRow) -> QueryResult<super::queries::Inserted> {
    super::queries::inserted(conn.transaction(|conn| diesel::insert_into(providers::table).values(row).execute(conn)))
}

pub fn find_provider(conn: &mut DbConn, fund: FundId, id: ProviderId) -> QueryResult<Option<ProviderRow>> {
    providers::table
        .filter(providers::fund_id.eq(fund))
        .filter(providers::id.eq(id))
        .select(ProviderRow::as_select())
        .first(conn)
        .optional()
}

pub fn provider_by_kvk_number(conn: &mut DbConn, fund: FundId, kvk: &str) -> QueryResult<Option<ProviderRow>> {
    providers::table
        .filter(providers::fund_id.eq(fund))
        .filter(providers::kvk_number.eq(kvk))
        .select(ProviderRow::as_select())
        .first(conn)
        .optional()
}

pub fn list_providers(conn: &mut DbConn, fund: FundId, kvk_number: Option<&str>, page: &PageQuery) -> QueryResult<Vec<ProviderRow>> {
    let mut query = providers::table.filter(providers::fund_id.eq(fund)).select(ProviderRow::as_select()).into_boxed();
    if let Some(kvk) = kvk_number {
        query = query.filter(providers::kvk_number.eq(kvk.to_string()));
    }
    if let Some(after) = &page.after {
        query = query.filter(providers::id.lt(after.clone()));
    }
    query.order(providers::id.desc()).limit(page.limit).load(conn)
}

/// The suspensions of each of `of`, oldest first.
pub fn suspensions(conn: &mut DbConn, of: &[ProviderId]) -> QueryResult<Vec<SuspensionRow>> {
    provider_suspensions::table
        .filter(provider_suspensions::provider_id.eq_any(of))
        .order((provider_suspensions::provider_id, provider_suspensions::recorded_at))
        .select(SuspensionRow::as_select())
        .load(conn)
}

/// Moves a provider from `from` to `to`, once: the conditional update is the guard (and on
/// PostgreSQL the row lock orders two at once). `false` when it was not `from`.
pub fn set_status(conn: &mut DbConn, fund: FundId, id: ProviderId, from: ProviderStatus, to: ProviderStatus) -> QueryResult<bool> {
    let changed = diesel::update(providers::table.filter(providers::fund_id.eq(fund)).filter(providers::id.eq(id)).filter(providers::status.eq(from)))
        .set(providers::status.eq(to))
        .execute(conn)?;
    Ok(changed == 1)
}

pub fn insert_suspension(conn: &mut DbConn, row: &SuspensionRow) -> QueryResult<()> {
    diesel::insert_into(provider_suspensions::table).values(row).execute(conn).map(|_| ())
}

/// Ends the open suspension of a provider.
pub fn end_suspension(conn: &mut DbConn, id: ProviderId, on: NaiveDate, by: &str) -> QueryResult<usize> {
    diesel::update(provider_suspensions::table.filter(provider_suspensions::provider_id.eq(id)).filter(provider_suspensions::reinstated_on.is_null()))
        .set((provider_suspensions::reinstated_on.eq(Some(on)), provider_suspensions::reinstated_by.eq(Some(by))))
        .execute(conn)
}

/// How the provider a claim or voucher names stands in this fund.
pub fn standing(conn: &mut DbConn, fund: FundId, id: ProviderId) -> QueryResult<ProviderStanding> {
    Ok(match find_provider(conn, fund, id)?.map(|p| p.status) {
        None => ProviderStanding::NotRegistered,
        Some(ProviderStatus::Suspended) => ProviderStanding::Suspended,
        Some(ProviderStatus::Active) => ProviderStanding::Active,
    })
}
