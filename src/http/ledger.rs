//! Budgets, ledger entries, verification and the fund digest.

use actix_web::{web, HttpResponse};
use std::collections::HashMap;

use chrono::{NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};

use super::auth::{Caller, Role};
use super::common::{run, FundItemPath, FundPath, Page, PageParams, Today};
use super::error::ApiError;
use super::workers::visible_worker;
use crate::db::report_queries::{self, PostingSum};
use crate::db::rows::{self, AccountRow, LotRow, PostingRow, TransactionRow};
use crate::db::{read_tx, DbConn, Pool};
use crate::domain::time::{amsterdam_day_start_utc, now_utc, rfc3339};
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
    /// The moment the balances are as of; left out for balances now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub as_of: Option<String>,
    pub accounts: Vec<AccountView>,
    pub guidance: GuidanceView,
}

/// A budget account's balances (now, or as they stood at a moment), and its lots'.
struct Balances {
    available: i64,
    reserved: i64,
    granted: i64,
    spent: i64,
    expired: i64,
    /// Per lot: (available, reserved); a lot missing here did not exist yet.
    lots: HashMap<LotId, (i64, i64)>,
}

impl Balances {
    fn current(account: &AccountRow, lots: &[LotRow]) -> Balances {
        Balances {
            available: account.available_cents,
            reserved: account.reserved_cents,
            granted: account.granted_cents,
            spent: account.spent_cents,
            expired: account.expired_cents,
            lots: lots.iter().map(|l| (l.id, (l.available_cents, l.reserved_cents))).collect(),
        }
    }

    /// From the postings recorded up to a moment (`worker_sums_at`) of one account.
    fn recorded(sums: &[PostingSum], account: AccountId) -> Balances {
        let mut b = Balances { available: 0, reserved: 0, granted: 0, spent: 0, expired: 0, lots: HashMap::new() };
        for sum in sums.iter().filter(|s| s.account_id == account.to_string()) {
            let lot = sum.lot_id.as_deref().and_then(|l| l.parse::<LotId>().ok());
            match sum.account.parse::<LedgerAccount>() {
                Ok(LedgerAccount::Available) => {
                    b.available += sum.cents;
                    if let Some(l) = lot {
                        b.lots.entry(l).or_default().0 += sum.cents;
                    }
                }
                Ok(LedgerAccount::Reserved) => {
                    b.reserved += sum.cents;
                    if let Some(l) = lot {
                        b.lots.entry(l).or_default().1 += sum.cents;
                    }
                }
                Ok(LedgerAccount::GrantsIssued) => b.granted -= sum.cents,
                Ok(LedgerAccount::Spent) => b.spent += sum.cents,
                Ok(LedgerAccount::Expired) => b.expired += sum.cents,
                Err(_) => {}
            }
        }
        b
    }
}

/// A worker's balances per scheme with their lots and guidance status, read in one snapshot:
/// as they are now, or (`at`) as the entries recorded up to that moment make them, with
/// `today` the Amsterdam day of that moment.
pub fn budget_of(conn: &mut DbConn, fund: FundId, worker_id: WorkerId, today: NaiveDate, at: Option<NaiveDateTime>) -> Result<BudgetView, ApiError> {
    read_tx(conn, |conn| {
        let accounts = rows::accounts_of_worker(conn, worker_id)?;
        let sums = match at {
            Some(at) => report_queries::worker_sums_at(conn, fund, worker_id, at)?,
            None => Vec::new(),
        };
        let mut views = Vec::with_capacity(accounts.len());
        for account in accounts {
            let lots = rows::lots_of_account(conn, account.id)?;
            let balances = if at.is_some() { Balances::recorded(&sums, account.id) } else { Balances::current(&account, &lots) };
            if at.is_some() && balances.lots.is_empty() && balances.granted == 0 {
                continue; // nothing recorded on this account yet at that moment
            }
            let lots: Vec<(LotRow, i64, i64)> = lots
                .into_iter()
                .filter_map(|l| balances.lots.get(&l.id).map(|&(available, reserved)| (l, available, reserved)))
                .collect();
            let lapse_pending: i64 = lots.iter().filter(|(l, _, _)| l.expires_on < today).map(|(_, available, _)| available).sum();
            let lots = lots
                .into_iter()
                .map(|(l, available, reserved)| LotView {
                    id: l.id,
                    grant_year: l.grant_year,
                    amount: format_cents(l.amount_cents),
                    remaining: format_cents(available + reserved),
                    available: format_cents(available),
                    reserved: format_cents(reserved),
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
                available: format_cents(balances.available - lapse_pending),
                lapse_pending: format_cents(lapse_pending),
                reserved: format_cents(balances.reserved),
                granted: format_cents(balances.granted),
                spent: format_cents(balances.spent),
                expired: format_cents(balances.expired),
                lots,
                guidance,
            });
        }
        Ok(BudgetView {
            worker_id,
            as_of: at.map(rfc3339),
            accounts: views,
            guidance: GuidanceView { last_session_on: guidance::last_session_on(conn, worker_id)? },
        })
    })
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AsOfParams {
    /// An RFC 3339 time, or a date (the end of that day in Amsterdam).
    pub as_of: Option<String>,
}

impl AsOfParams {
    /// The moment asked for (entries recorded at or before it count) and its Amsterdam day.
    pub fn moment(&self) -> Result<Option<(NaiveDateTime, NaiveDate)>, ApiError> {
        let Some(text) = self.as_of.as_deref() else { return Ok(None) };
        let at = if let Some(day) = crate::domain::time::parse_iso_date(text) {
            day.succ_opt().map(|next| amsterdam_day_start_utc(next) - chrono::Duration::microseconds(1))
        } else {
            crate::domain::time::parse_rfc3339_utc(text)
        };
        let at = at.ok_or_else(|| {
            ApiError::bad_request(
                "invalid_query",
                "as_of must be an RFC 3339 time (e.g. 2026-10-31T23:00:00Z) or a date (e.g. 2026-10-31, the end of that day in Amsterdam), from 1900 to 2199",
            )
        })?;
        Ok(Some((at, crate::domain::time::amsterdam_date(at))))
    }
}

#[derive(Debug, Serialize)]
pub struct SchemeBalancesView {
    pub scheme_id: SchemeId,
    pub scheme_code: String,
    pub granted: String,
    pub spent: String,
    pub expired: String,
    /// Not yet spent, reserved or lapsed (including money of lots past their date that the next
    /// expiry run lapses).
    pub available: String,
    pub reserved: String,
    /// Budget accounts with an entry recorded by then.
    pub accounts: i64,
}

#[derive(Debug, Serialize)]
pub struct FundBalancesView {
    pub fund_id: FundId,
    pub as_of: String,
    pub schemes: Vec<SchemeBalancesView>,
}

/// Fund totals per scheme as the ledger stood at a moment (now when `as_of` is left out), for
/// finance to reconcile with the general ledger at a month's end.
pub async fn get_fund_balances(
    caller: Caller,
    pool: web::Data<Pool>,
    path: web::Path<FundPath>,
    params: web::Query<AsOfParams>,
) -> Result<HttpResponse, ApiError> {
    let fund = FundId(path.fund);
    caller.admit(fund, &[Role::FundAdmin, Role::Board])?;
    let at = params.moment()?.map_or_else(now_utc, |(at, _)| at);
    let view = run(&pool, move |conn| {
        Ok(read_tx(conn, |conn| {
            let sums = report_queries::fund_sums_at(conn, fund, at)?;
            let counts = report_queries::accounts_at(conn, fund, at)?;
            let schemes = report_queries::schemes(conn, fund)?;
            let schemes = schemes
                .into_iter()
                .filter_map(|scheme| {
                    let sum = |account: LedgerAccount| -> i64 {
                        sums.iter().filter(|s| s.scheme_id == scheme.id && s.account == account.as_str()).map(|s| s.cents).sum()
                    };
                    let accounts = counts.iter().find(|c| c.scheme_id == scheme.id).map_or(0, |c| c.n);
                    let id = scheme.id.parse::<SchemeId>().ok()?;
                    Some(SchemeBalancesView {
                        scheme_id: id,
                        scheme_code: scheme.code,
                        granted: format_cents(-sum(LedgerAccount::GrantsIssued)),
                        spent: format_cents(sum(LedgerAccount::Spent)),
                        expired: format_cents(sum(LedgerAccount::Expired)),
                        available: format_cents(sum(LedgerAccount::Available)),
                        reserved: format_cents(sum(LedgerAccount::Reserved)),
                        accounts,
                    })
                })
                .collect();
            Ok::<_, crate::db::DbError>(FundBalancesView { fund_id: fund, as_of: rfc3339(at), schemes })
        })?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(view))
}

pub async fn get_worker_budget(
    caller: Caller,
    pool: web::Data<Pool>,
    path: web::Path<FundItemPath>,
    today: Today,
    params: web::Query<AsOfParams>,
) -> Result<HttpResponse, ApiError> {
    let fund = FundId(path.fund);
    caller.admit(fund, &[Role::FundAdmin, Role::Employer, Role::Worker])?;
    let worker = WorkerId(path.id);
    let moment = params.moment()?;
    let view = run(&pool, move |conn| {
        visible_worker(conn, &caller, fund, worker)?;
        match moment {
            Some((at, day)) => budget_of(conn, fund, worker, day, Some(at)),
            None => budget_of(conn, fund, worker, today.0, None),
        }
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
