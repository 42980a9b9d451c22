//! Worker self-service: `GET /v1/me/budget`.

use actix_web::{web, HttpResponse};
use serde::Serialize;

use super::auth::{Caller, Role};
use crate::views::ClaimView;
use super::common::{run, Today};
use super::error::ApiError;
use crate::db::queries;
use super::ledger::{budget_of, BudgetView};
use crate::views::VoucherView;
use crate::db::rows::{self, ClaimRow, VoucherRow};
use crate::db::Pool;
use crate::domain::FundId;

/// Most recent claims shown to a worker.
pub const MY_CLAIMS_SHOWN: i64 = 50;

#[derive(Debug, Serialize)]
pub struct MyBudgetView {
    pub fund_id: FundId,
    #[serde(flatten)]
    pub budget: BudgetView,
    pub open_vouchers: Vec<VoucherView>,
    pub claims: Vec<ClaimView>,
}

/// The worker's own budget, vouchers and recent claims; `?as_of=` gives the balances as they
/// stood at that moment, as the back office's budget view does.
pub async fn get_my_budget(caller: Caller, pool: web::Data<Pool>, today: Today, params: web::Query<super::ledger::AsOfParams>) -> Result<HttpResponse, ApiError> {
    caller.require(&[Role::Worker])?;
    let (Some(fund), Some(worker)) = (caller.fund, caller.worker) else {
        return Err(ApiError::unauthorized("a worker token must name its fund and worker"));
    };
    let moment = params.moment()?;
    let view = run(&pool, move |conn| {
        rows::find_worker(conn, fund, worker)?.ok_or_else(|| ApiError::not_found("worker"))?;
        let budget = match moment {
            Some((at, day)) => budget_of(conn, fund, worker, day, Some(at))?,
            None => budget_of(conn, fund, worker, today.0, None)?,
        };
        let open: Vec<VoucherRow> = queries::open_vouchers_of_worker(conn, worker)?;
        let recent: Vec<ClaimRow> = queries::recent_claims_of_worker(conn, worker, MY_CLAIMS_SHOWN)?;
        Ok(MyBudgetView {
            fund_id: fund,
            budget,
            open_vouchers: open.into_iter().map(VoucherView::from).collect(),
            claims: recent.into_iter().map(ClaimView::from).collect(),
        })
    })
    .await?;
    Ok(HttpResponse::Ok().json(view))
}
