//! Objections: filed, listed, decided once.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::conn::DbConn;
use super::rows::PageQuery;
use super::schema::objections;
use crate::domain::objections::ObjectionStatus;
use crate::domain::{ClaimId, EmployerId, FundId, ObjectionId, WorkerId};

#[derive(Clone, Debug, Queryable, Selectable, Insertable)]
#[diesel(treat_none_as_default_value = false)]
#[diesel(table_name = objections)]
pub struct ObjectionRow {
    pub id: ObjectionId,
    pub fund_id: FundId,
    pub claim_id: ClaimId,
    pub worker_id: WorkerId,
    pub employer_id: EmployerId,
    pub filed_by_role: String,
    pub filed_by: String,
    pub reason: String,
    pub status: ObjectionStatus,
    pub filed_at: NaiveDateTime,
    pub decided_at: Option<NaiveDateTime>,
    pub decided_by: Option<String>,
    pub motivation: Option<String>,
}

/// Inside a savepoint: `Duplicate` (nothing written) when the claim has an open objection already.
pub fn insert(conn: &mut DbConn, row: &ObjectionRow) -> QueryResult<super::queries::Inserted> {
    super::queries::inserted(conn.transaction(|conn| diesel::insert_into(objections::table).values(row).execute(conn)))
}

pub fn find(conn: &mut DbConn, fund: FundId, id: ObjectionId) -> QueryResult<Option<ObjectionRow>> {
    objections::table
        .filter(objections::fund_id.eq(fund))
        .filter(objections::id.eq(id))
        .select(ObjectionRow::as_select())
        .first(conn)
        .optional()
}

/// Which objections a list shows.
#[derive(Debug, Default, Clone)]
pub struct ObjectionFilter {
    pub status: Option<ObjectionStatus>,
    pub employer_id: Option<EmployerId>,
    pub worker_id: Option<WorkerId>,
    pub claim_id: Option<ClaimId>,
}

pub fn list(conn: &mut DbConn, fund: FundId, filter: &ObjectionFilter, page: &PageQuery) -> QueryResult<Vec<ObjectionRow>> {
    let mut query = objections::table.filter(objections::fund_id.eq(fund)).select(ObjectionRow::as_select()).into_boxed();
    if let Some(status) = filter.status {
        query = query.filter(objections::status.eq(status));
    }
    if let Some(employer) = filter.employer_id {
        query = query.filter(objections::employer_id.eq(employer));
    }
    if let Some(worker) = filter.worker_id {
        query = query.filter(objections::worker_id.eq(worker));
    }
    if let Some(claim) = filter.claim_id {
        query = query.filter(objections::claim_id.eq(claim));
    }
    if let Some(after) = &page.after {
        query = query.filter(objections::id.lt(after.clone()));
    }
    query.order(objections::id.desc()).limit(page.limit).load(conn)
}

/// Decides an open objection, once: `false` when it was decided already.
pub fn decide(conn: &mut DbConn, id: ObjectionId, status: ObjectionStatus, by: &str, motivation: &str, at: NaiveDateTime) -> QueryResult<bool> {
    let changed = diesel::update(objections::table.filter(objections::id.eq(id)).filter(objections::status.eq(ObjectionStatus::Open)))
        .set((
            objections::status.eq(status),
            objections::decided_at.eq(Some(at)),
            objections::decided_by.eq(Some(by)),
            objections::motivation.eq(Some(motivation)),
        ))
        .execute(conn)?;
    Ok(changed == 1)
}

/// Whether the back office's latest decision on an objection to this claim upheld it: then it may
/// approve the claim (or top it up). A later dismissal ends what an earlier upholding allowed.
pub fn upheld(conn: &mut DbConn, claim: ClaimId) -> QueryResult<bool> {
    let latest: Option<ObjectionStatus> = objections::table
        .filter(objections::claim_id.eq(claim))
        .filter(objections::decided_at.is_not_null())
        .order(objections::decided_at.desc())
        .select(objections::status)
        .first(conn)
        .optional()?;
    Ok(latest == Some(ObjectionStatus::Upheld))
}
