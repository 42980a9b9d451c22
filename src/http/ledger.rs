//! Budgets, ledger entries, verification and the fund digest.

use actix_web::{web, HttpResponse};
use chrono::{NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};

use super::auth::{Caller, Role};
use super::common::{run, FundItemPath, FundPath, Page, PageParams, Today};
use super::error::ApiError;
use super::workers::visible_worker;
use crate::db::rows::{self, PostingRow, TransactionRow};
use crate::db::{read_tx, DbConn, Pool};
use crate::domain::time::{now_utc, rfc3339};
use crate::domain::ledger::{LedgerAccount, TxKind};
use crate::domain::{format_cents, AccountId, FundId, LotId, SchemeId, SignedCents, TransactionId, WorkerId};
use crate::ledger::guidance;
use crate::db::ledger_reads::{fund_digest_at, worker_transactions};
use crate::ledger::verify::{verify_fund, VerifyReport};

#[derive(Debug, Serialize)]
pub struct LotView {
    pub id: LotId,
    pub grant_year: i32,
    pub amount: String,
    /// Not yet spent or lapsed: available plus reserved.
    pub remaining: String,
    pub available: String,
    pub reserved: String,
    pub expires_on: NaiveDate,
}

/// How the guidance rule stands for this account today.
#[derive(Debug, Serialize)]
pub struct AccountGuidanceView {
    /// Claims and vouchers above this amount need a session in the window; null: no rule.
    pub required_above: Option<String>,
    pub window_days: i32,
    /// Whether the worker had a session within the window, so the rule is met.
    pub met: bool,
}

#[derive(Debug, Serialize)]
pub struct AccountView {
    pub account_id: AccountId,
    pub scheme_id: SchemeId,
    /// What can be spent or reserved today: lots past their date do not count.
    pub available: String,
    /// Available money of lots past their date, which the next expiry run lapses.
    pub lapse_pending: String,
    pub reserved: String,
    pub granted: String,
    pub spent: String,
    pub expired: String,
    pub lots: Vec<LotView>,
    pub guidance: AccountGuidanceView,
}

#[derive(Debug, Serialize)]
pub struct GuidanceView {
    pub last_session_on: Option<NaiveDate>,
}

#[derive(Debug, Serialize)]
pub struct BudgetView {
    pub worker_id: WorkerId,
    pub accounts: Vec<AccountView>,
    pub guidance: GuidanceView,
}

/// A worker's balances per scheme with their lots and guidance status, read in one snapshot.
pub fn budget_of(conn: &mut DbConn, worker_id: WorkerId, today: NaiveDate) -> Result<BudgetView, ApiError> {
    read_tx(conn, |conn| {
        let accounts = rows::accounts_of_worker(conn, worker_id)?;
        let mut views = Vec::with_capacity(accounts.len());
        for account in accounts {
            let lots = rows::lots_of_account(conn, account.id)?;
            let lapse_pending: i64 =
                lots.iter().filter(|l| l.expires_on < today).map(|l| l.available_cents).sum();
            let lots = lots
                .into_iter()
                .map(|l| LotView {
                    id: l.id,
                    grant_year: l.grant_year,
                    amount: format_cents(l.amount_cents),
                    remaining: format_cents(l.available_cents + l.reserved_cents),
                    available: format_cents(l.available_cents),
                    reserved: format_cents(l.reserved_cents),
                    expires_on: l.expires_on,
                })
                .collect();
            let rules = rows::scheme_version_in_fund(conn, account.fund_id, account.scheme_id, today)?;
            let guidance = match rules {
                Some(rules) => AccountGuidanceView {
                    required_above: rules.guidance_required_above_cents.map(format_cents),
                    window_days: rules.guidance_window_days,
                    met: rules.guidance_required_above_cents.is_none() || guidance::in_window(conn, worker_id, &rules, today)?,
                },
                None => AccountGuidanceView { required_above: None, window_days: 0, met: true },
            };
            views.push(AccountView {
                account_id: account.id,
                scheme_id: account.scheme_id,
                available: format_cents(account.available_cents - lapse_pending),
                lapse_pending: format_cents(lapse_pending),
                reserved: format_cents(account.reserved_cents),
                granted: format_cents(account.granted_cents),
                spent: format_cents(account.spent_cents),
                expired: format_cents(account.expired_cents),
                lots,
                guidance,
            });
        }
        Ok(BudgetView {
            worker_id,
            accounts: views,
            guidance: GuidanceView { last_session_on: guidance::last_session_on(conn, worker_id)? },
        })
    })
}

pub async fn get_worker_budget(
    caller: Caller,
    pool: web::Data<Pool>,
    path: web::Path<FundItemPath>,
    today: Today,
) -> Result<HttpResponse, ApiError> {
    let fund = FundId(path.fund);
    caller.admit(fund, &[Role::FundAdmin, Role::Employer, Role::Worker])?;
    let worker = WorkerId(path.id);
    let view = run(&pool, move |conn| {
        visible_worker(conn, &caller, fund, worker)?;
        budget_of(conn, worker, today.0)
    })
    .await?;
    Ok(HttpResponse::Ok().json(view))
}

#[derive(Debug, Serialize)]
pub struct PostingView {
    pub line: i32,
    pub account: LedgerAccount,
    pub amount: SignedCents,
    pub lot_id: Option<LotId>,
}

#[derive(Debug, Serialize)]
pub struct EntryView {
    pub id: TransactionId,
    pub account_id: AccountId,
    pub seq: i64,
    pub kind: TxKind,
    pub effective_date: NaiveDate,
    pub recorded_at: String,
    pub actor: String,
    pub reverses: Option<TransactionId>,
    pub reference: Option<String>,
    pub hash: String,
    pub postings: Vec<PostingView>,
}

fn entry_view((t, postings): (TransactionRow, Vec<PostingRow>)) -> EntryView {
    EntryView {
        id: t.id,
        account_id: t.account_id,
        seq: t.seq,
        kind: t.kind,
        effective_date: t.effective_date,
        recorded_at: rfc3339(t.recorded_at),
        actor: t.actor,
        reverses: t.reverses,
        reference: t.reference,
        hash: t.hash,
        postings: postings
            .into_iter()
            .map(|p| PostingView { line: p.line, account: p.account, amount: SignedCents(p.amount_cents), lot_id: p.lot_id })
            .collect(),
    }
}

pub async fn list_worker_ledger(
    caller: Caller,
    pool: web::Data<Pool>,
    path: web::Path<FundItemPath>,
    params: web::Query<PageParams>,
) -> Result<HttpResponse, ApiError> {
    let fund = FundId(path.fund);
    caller.admit(fund, &[Role::FundAdmin, Role::Employer, Role::Worker])?;
    let worker = WorkerId(path.id);
    let query = params.query()?;
    let page = run(&pool, move |conn| {
        visible_worker(conn, &caller, fund, worker)?;
        let rows = worker_transactions(conn, worker, &query)?;
        Ok(Page::from_rows(rows, &query, |(t, _)| t.id, entry_view))
    })
    .await?;
    Ok(HttpResponse::Ok().json(page))
}

pub async fn verify_ledger(caller: Caller, pool: web::Data<Pool>, path: web::Path<FundPath>) -> Result<HttpResponse, ApiError> {
    let fund = FundId(path.fund);
    caller.admit(fund, &[Role::FundAdmin])?;
    let report: VerifyReport = run(&pool, move |conn| Ok(read_tx(conn, |conn| verify_fund(conn, fund))?)).await?;
    Ok(HttpResponse::Ok().json(report))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DigestParams {
    pub at: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct DigestView {
    pub fund_id: FundId,
    pub at: String,
    pub accounts: usize,
    pub digest: String,
}

pub async fn get_ledger_digest(
    caller: Caller,
    pool: web::Data<Pool>,
    path: web::Path<FundPath>,
    params: web::Query<DigestParams>,
) -> Result<HttpResponse, ApiError> {
    let fund = FundId(path.fund);
    caller.admit(fund, &[Role::FundAdmin, Role::Board])?;
    let at: NaiveDateTime = match &params.at {
        Some(text) => crate::domain::time::parse_rfc3339_utc(text).ok_or_else(|| {
            ApiError::bad_request("invalid_query", "at must be an RFC 3339 time from 1900 to 2199, e.g. 2026-10-31T23:00:00Z")
        })?,
        None => now_utc(),
    };
    let (digest, accounts) =
        run(&pool, move |conn| Ok(read_tx(conn, |conn| fund_digest_at(conn, fund, at))?)).await?;
    Ok(HttpResponse::Ok().json(DigestView { fund_id: fund, at: rfc3339(at), accounts, digest }))
}
