//! `verify`: recomputes every chain, every zero sum and every projection from the entries.

use std::collections::HashMap;

use diesel::prelude::*;
use serde::Serialize;

use super::chain::{transaction_hash, GENESIS_HASH};
use super::LedgerAccount;
use crate::db::conn::DbConn;
use crate::db::rows::{AccountRow, LotRow, PostingRow, TransactionRow};
use crate::db::schema::{budget_accounts, grant_lots, ledger_postings, ledger_transactions};
use crate::domain::{AccountId, FundId, LotId, TransactionId};

/// Problems listed at most; the first is what matters, the count says how bad it is.
pub const MAX_PROBLEMS_LISTED: usize = 100;

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Problem {
    pub account_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transaction_id: Option<String>,
    pub problem: String,
}

#[derive(Debug, Serialize)]
pub struct VerifyReport {
    pub ok: bool,
    pub accounts_checked: usize,
    pub transactions_checked: usize,
    pub entries_checked: usize,
    pub problems_found: usize,
    pub problems: Vec<Problem>,
}

#[derive(Default)]
struct Sums {
    available: i64,
    reserved: i64,
    granted: i64,
    spent: i64,
    expired: i64,
}

pub(crate) struct Checker {
    problems: Vec<Problem>,
    found: usize,
}

impl Checker {
    /// Records a problem; `account_id` is `None` where no account can be named (shown as "").
    pub(crate) fn report(&mut self, account_id: Option<AccountId>, transaction_id: Option<TransactionId>, problem: String) {
        self.found += 1;
        if self.problems.len() < MAX_PROBLEMS_LISTED {
            self.problems.push(Problem {
                account_id: account_id.map(|id| id.to_string()).unwrap_or_default(),
                transaction_id: transaction_id.map(|id| id.to_string()),
                problem,
            });
        }
    }
}

/// Verifies every budget account of a fund. Read in one snapshot by the caller. A stored value
/// that does not read back as its type (an id that is no UUID, an unknown account name) fails
/// the check with that finding instead of failing the read.
pub fn verify_fund(conn: &mut DbConn, fund_id: FundId) -> QueryResult<VerifyReport> {
    match verify_readable(conn, fund_id) {
        Err(diesel::result::Error::DeserializationError(e)) => {
            let mut checker = Checker { problems: Vec::new(), found: 0 };
            let mut finding = format!("a stored value does not read back: {e}");
            let mut source = e.source();
            while let Some(cause) = source {
                finding.push_str(&format!(": {cause}"));
                source = cause.source();
            }
            checker.report(None, None, finding);
            Ok(VerifyReport {
                ok: false,
                accounts_checked: 0,
                transactions_checked: 0,
                entries_checked: 0,
                problems_found: checker.found,
                problems: checker.problems,
            })
        }
        other => other,
    }
}

fn verify_readable(conn: &mut DbConn, fund_id: FundId) -> QueryResult<VerifyReport> {
    let accounts: Vec<AccountRow> = budget_accounts::table
        .filter(budget_accounts::fund_id.eq(fund_id))
        .order(budget_accounts::id.asc())
        .select(AccountRow::as_select())
        .load(conn)?;
    let transactions: Vec<TransactionRow> = ledger_transactions::table
        .filter(ledger_transactions::fund_id.eq(fund_id))
        .order((ledger_transactions::account_id.asc(), ledger_transactions::seq.asc()))
        .select(TransactionRow::as_select())
        .load(conn)?;
    let postings: Vec<PostingRow> = ledger_postings::table
        .filter(ledger_postings::fund_id.eq(fund_id))
        .order((ledger_postings::transaction_id.asc(), ledger_postings::line.asc()))
        .select(PostingRow::as_select())
        .load(conn)?;
    let lots: Vec<LotRow> = grant_lots::table
        .filter(grant_lots::fund_id.eq(fund_id))
        .select(LotRow::as_select())
        .load(conn)?;

    let links = super::verify_links::load_links(conn, fund_id)?;

    let entries_checked = postings.len();
    let mut postings_by_tx: HashMap<TransactionId, Vec<PostingRow>> = HashMap::new();
    for p in postings {
        postings_by_tx.entry(p.transaction_id).or_default().push(p);
    }
    let mut txs_by_account: HashMap<AccountId, Vec<TransactionRow>> = HashMap::new();
    let transactions_checked = transactions.len();
    for t in &transactions {
        txs_by_account.entry(t.account_id).or_default().push(t.clone());
    }
    let mut lots_by_account: HashMap<AccountId, Vec<LotRow>> = HashMap::new();
    for l in &lots {
        lots_by_account.entry(l.account_id).or_default().push(l.clone());
    }

    let mut checker = Checker { problems: Vec::new(), found: 0 };
    for account in &accounts {
        let txs = txs_by_account.remove(&account.id).unwrap_or_default();
        let account_lots = lots_by_account.remove(&account.id).unwrap_or_default();
        verify_account(&mut checker, account, &txs, &postings_by_tx, &account_lots);
    }
    for (account_id, _) in txs_by_account {
        checker.report(Some(account_id), None, "transactions for an account that does not exist".into());
    }
    let transactions: HashMap<TransactionId, TransactionRow> = transactions.into_iter().map(|t| (t.id, t)).collect();
    let ledger = super::verify_links::Ledger { accounts: &accounts, transactions: &transactions, postings_by_tx: &postings_by_tx, lots: &lots };
    super::verify_links::check_links(&mut checker, &ledger, &links);
    Ok(VerifyReport {
        ok: checker.found == 0,
        accounts_checked: accounts.len(),
        transactions_checked,
        entries_checked,
        problems_found: checker.found,
        problems: checker.problems,
    })
}

fn verify_account(
    checker: &mut Checker,
    account: &AccountRow,
    txs: &[TransactionRow],
    postings_by_tx: &HashMap<TransactionId, Vec<PostingRow>>,
    lots: &[LotRow],
) {
    let mut prev_hash = GENESIS_HASH.to_string();
    let mut sums = Sums::default();
    let mut lot_sums: HashMap<LotId, (i64, i64)> = HashMap::new();
    let no_postings = Vec::new();
    for (i, tx) in txs.iter().enumerate() {
        let id = Some(tx.id);
        let postings = postings_by_tx.get(&tx.id).unwrap_or(&no_postings);
        if tx.seq != i as i64 + 1 {
            checker.report(Some(account.id), id, format!("sequence {} where {} was expected", tx.seq, i + 1));
        }
        if i > 0 && tx.recorded_at < txs[i - 1].recorded_at {
            checker.report(Some(account.id), id, "recorded before the transaction it follows in the chain".into());
        }
        if tx.prev_hash != prev_hash {
            checker.report(Some(account.id), id, "prev_hash does not match the previous transaction".into());
        }
        if transaction_hash(tx, postings) != tx.hash {
            checker.report(Some(account.id), id, "hash does not match the transaction's contents".into());
        }
        let sum: i64 = postings.iter().map(|p| p.amount_cents).sum();
        if postings.len() < 2 || sum != 0 {
            checker.report(Some(account.id), id, format!("{} postings summing to {sum}", postings.len()));
        }
        for p in postings {
            add_posting(checker, account, tx, p, &mut sums, &mut lot_sums);
        }
        prev_hash = tx.hash.clone();
    }
    if account.chain_head != prev_hash || account.tx_count != txs.len() as i64 {
        checker.report(Some(account.id), None, "chain head does not match the last transaction".into());
    }
    check_projection(checker, account, &sums, lots, lot_sums);
}

/// The account row and its lots against what their entries sum to.
fn check_projection(checker: &mut Checker, account: &AccountRow, sums: &Sums, lots: &[LotRow], mut lot_sums: HashMap<LotId, (i64, i64)>) {
    let projection = [
        ("available", account.available_cents, sums.available),
        ("reserved", account.reserved_cents, sums.reserved),
        ("granted", account.granted_cents, sums.granted),
        ("spent", account.spent_cents, sums.spent),
        ("expired", account.expired_cents, sums.expired),
    ];
    for (name, stored, computed) in projection {
        if stored != computed {
            checker.report(
                Some(account.id),
                None,
                format!("{name} balance is {stored} cents but the entries sum to {computed}"),
            );
        }
        if computed < 0 {
            checker.report(Some(account.id), None, format!("{name} entries sum below zero: {computed}"));
        }
    }
    for lot in lots {
        let (available, reserved) = lot_sums.remove(&lot.id).unwrap_or((0, 0));
        if lot.available_cents != available || lot.reserved_cents != reserved {
            checker.report(
                Some(account.id),
                None,
                format!(
                    "lot {} holds {}+{} cents but its entries sum to {available}+{reserved}",
                    lot.id, lot.available_cents, lot.reserved_cents
                ),
            );
        }
    }
    for (lot_id, _) in lot_sums {
        checker.report(Some(account.id), None, format!("entries name lot {lot_id}, which does not exist"));
    }
}

fn add_posting(
    checker: &mut Checker,
    account: &AccountRow,
    tx: &TransactionRow,
    p: &PostingRow,
    sums: &mut Sums,
    lot_sums: &mut HashMap<LotId, (i64, i64)>,
) {
    let kind = p.account;
    let names_this_account = p.budget_account_id == Some(account.id);
    if kind.is_budget_level() != names_this_account || p.scheme_id != account.scheme_id {
        checker.report(Some(account.id), Some(tx.id), format!("posting line {} names another account", p.line));
    }
    match kind {
        LedgerAccount::Available => sums.available += p.amount_cents,
        LedgerAccount::Reserved => sums.reserved += p.amount_cents,
        LedgerAccount::GrantsIssued => sums.granted -= p.amount_cents,
        LedgerAccount::Spent => sums.spent += p.amount_cents,
        LedgerAccount::Expired => sums.expired += p.amount_cents,
    }
    if let Some(lot) = p.lot_id {
        let entry = lot_sums.entry(lot).or_default();
        match kind {
            LedgerAccount::Available => entry.0 += p.amount_cents,
            LedgerAccount::Reserved => entry.1 += p.amount_cents,
            _ => checker.report(Some(account.id), Some(tx.id), format!("a {} posting names a lot", p.account)),
        }
    }
}
