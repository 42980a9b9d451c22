//! The part of `verify` that reads beyond the chains: that claims, vouchers and lots agree with
//! the ledger entries they stand for. Claim and voucher rows and lot terms are not hashed, so
//! these checks are what catches a status, amount or date changed behind the ledger's back.

use std::collections::HashMap;

use diesel::prelude::*;

use super::verify::Checker;
use super::{LedgerAccount, TxKind};
use crate::domain::status::{ClaimStatus, VoucherStatus};
use crate::db::conn::DbConn;
use crate::db::rows::{AccountRow, ClaimLotRow, ClaimRow, LotRow, PostingRow, SchemeVersionRow, TransactionRow, VoucherLotRow, VoucherRow};
use crate::db::schema::{claim_lots, claim_payments, claims, objections, scheme_versions, voucher_lots, vouchers};
use crate::domain::{AccountId, ClaimId, FundId, LotId, TransactionId, VoucherId};
use chrono::Datelike;

/// What the link checks read besides the ledger itself.
pub struct Links {
    claims: Vec<ClaimRow>,
    payments: HashMap<ClaimId, String>,
    vouchers: Vec<VoucherRow>,
    allocations: Vec<VoucherLotRow>,
    claim_allocations: Vec<ClaimLotRow>,
    /// Claims with an upheld objection: only they may have been topped up.
    upheld: std::collections::HashSet<ClaimId>,
    versions: Vec<SchemeVersionRow>,
}

pub fn load_links(conn: &mut DbConn, fund_id: FundId) -> QueryResult<Links> {
    Ok(Links {
        claims: claims::table.filter(claims::fund_id.eq(fund_id)).select(ClaimRow::as_select()).load(conn)?,
        payments: claim_payments::table
            .filter(claim_payments::fund_id.eq(fund_id))
            .select((claim_payments::claim_id, claim_payments::payment_reference))
            .load::<(ClaimId, String)>(conn)?
            .into_iter()
            .collect(),
        vouchers: vouchers::table.filter(vouchers::fund_id.eq(fund_id)).select(VoucherRow::as_select()).load(conn)?,
        allocations: voucher_lots::table
            .filter(voucher_lots::fund_id.eq(fund_id))
            .select(VoucherLotRow::as_select())
            .load(conn)?,
        upheld: objections::table
            .filter(objections::fund_id.eq(fund_id))
            .filter(objections::status.eq(crate::domain::objections::ObjectionStatus::Upheld))
            .select(objections::claim_id)
            .load::<ClaimId>(conn)?
            .into_iter()
            .collect(),
        claim_allocations: claim_lots::table
            .filter(claim_lots::fund_id.eq(fund_id))
            .select(ClaimLotRow::as_select())
            .load(conn)?,
        versions: scheme_versions::table
            .filter(scheme_versions::fund_id.eq(fund_id))
            .select(SchemeVersionRow::as_select())
            .load(conn)?,
    })
}

/// The ledger as the link checks see it.
pub struct Ledger<'a> {
    pub accounts: &'a [AccountRow],
    pub transactions: &'a HashMap<TransactionId, TransactionRow>,
    pub postings_by_tx: &'a HashMap<TransactionId, Vec<PostingRow>>,
    pub lots: &'a [LotRow],
}

impl Ledger<'_> {
    /// The transactions whose reference is `reference`, of one kind.
    fn referring<'t>(&'t self, by_reference: &'t HashMap<&str, Vec<&'t TransactionRow>>, reference: &str, kind: TxKind) -> Vec<&'t TransactionRow> {
        by_reference.get(reference).map(|txs| txs.iter().copied().filter(|t| t.kind == kind).collect()).unwrap_or_default()
    }

    /// What these transactions moved into reserved money.
    fn reserved_cents(&self, txs: &[&TransactionRow]) -> i64 {
        txs.iter()
            .flat_map(|t| self.postings_by_tx.get(&t.id).into_iter().flatten())
            .filter(|p| p.account == LedgerAccount::Reserved)
            .map(|p| p.amount_cents)
            .sum()
    }

    fn spent_cents(&self, tx_id: TransactionId) -> i64 {
        self.postings_by_tx
            .get(&tx_id)
            .map(|ps| ps.iter().filter(|p| p.account == LedgerAccount::Spent).map(|p| p.amount_cents).sum())
            .unwrap_or(0)
    }
}

/// Lookups the per-claim and per-voucher checks make, built once: a scan per claim made
/// `verify` quadratic in the fund's size (52 s for 100,000 workers).
struct Index<'a> {
    accounts: HashMap<AccountId, &'a AccountRow>,
    claims: HashMap<ClaimId, &'a ClaimRow>,
    voucher_allocated: HashMap<VoucherId, i64>,
    claim_allocated: HashMap<ClaimId, i64>,
}

impl<'a> Index<'a> {
    fn new(ledger: &Ledger<'a>, links: &'a Links) -> Index<'a> {
        let mut voucher_allocated: HashMap<VoucherId, i64> = HashMap::new();
        for a in &links.allocations {
            *voucher_allocated.entry(a.voucher_id).or_default() += a.amount_cents;
        }
        let mut claim_allocated: HashMap<ClaimId, i64> = HashMap::new();
        for a in &links.claim_allocations {
            *claim_allocated.entry(a.claim_id).or_default() += a.amount_cents;
        }
        Index {
            accounts: ledger.accounts.iter().map(|a| (a.id, a)).collect(),
            claims: links.claims.iter().map(|c| (c.id, c)).collect(),
            voucher_allocated,
            claim_allocated,
        }
    }
}

pub fn check_links(checker: &mut Checker, ledger: &Ledger<'_>, links: &Links) {
    let mut by_reference: HashMap<&str, Vec<&TransactionRow>> = HashMap::new();
    let mut reversals: HashMap<TransactionId, usize> = HashMap::new();
    for tx in ledger.transactions.values() {
        if let Some(reference) = &tx.reference {
            by_reference.entry(reference.as_str()).or_default().push(tx);
        }
        if let Some(reversed) = tx.reverses {
            *reversals.entry(reversed).or_default() += 1;
        }
    }
    for (reversed, count) in &reversals {
        let account = ledger.transactions.get(reversed).map(|t| t.account_id);
        if *count > 1 {
            checker.report(account, Some(*reversed), format!("transaction reversed {count} times"));
        }
        if !ledger.transactions.contains_key(reversed) {
            checker.report(account, Some(*reversed), "a reversal names a transaction that does not exist".into());
        }
    }
    let index = Index::new(ledger, links);
    for claim in &links.claims {
        check_claim(checker, ledger, &by_reference, links, claim);
        check_claim_facts(checker, ledger, &index, links, claim);
        check_claim_hold(checker, ledger, &index, &by_reference, claim);
    }
    // Every claim the ledger names exists: a claim row cannot disappear behind its money.
    let claim_ids: std::collections::HashSet<String> = links.claims.iter().map(|c| c.id.to_string()).collect();
    for (reference, txs) in &by_reference {
        if let Some(id) = reference.strip_prefix("claim:") {
            if !claim_ids.contains(id) {
                let account = txs.first().map(|t| t.account_id);
                checker.report(account, None, format!("the ledger moves money for claim {id}, which does not exist"));
            }
        }
    }
    for voucher in &links.vouchers {
        check_voucher(checker, ledger, &index, &by_reference, voucher);
    }
    check_reservations(checker, ledger, links);
    check_lot_terms(checker, ledger);
}

/// A claim's money: a spent claim has its first spend (`spend_tx_id`) and any top-ups, together
/// moving its approved amount; a reversed one has each of them reversed once, the first by
/// `reversal_tx_id`; a claim that was never spent has neither.
fn check_claim(checker: &mut Checker, ledger: &Ledger<'_>, by_reference: &HashMap<&str, Vec<&TransactionRow>>, links: &Links, claim: &ClaimRow) {
    let mut report = |problem: String| checker.report(claim.account_id, None, format!("claim {}: {problem}", claim.id));
    let reference = format!("claim:{}", claim.id);
    let spends = ledger.referring(by_reference, &reference, TxKind::Spend);
    let reversals = ledger.referring(by_reference, &reference, TxKind::Reversal);
    let spent = claim.status.spent();
    let reversed = claim.status == ClaimStatus::Reversed;
    if spends.is_empty() == spent {
        report(format!("status {} but {} spend transaction(s)", claim.status, spends.len()));
    }
    let expected_reversals = if reversed { spends.len().max(1) } else { 0 };
    if reversals.len() != expected_reversals {
        report(format!("status {} but {} reversal transaction(s) for {} spend(s)", claim.status, reversals.len(), spends.len()));
    }
    if reversals.iter().any(|r| !spends.iter().any(|s| r.reverses == Some(s.id))) {
        report("a reversal of it reverses none of its spends".into());
    }
    // A top-up (a further spend) follows an upheld objection, on the claim's own account, after
    // its first spend.
    if spends.len() > 1 && !links.upheld.contains(&claim.id) {
        report(format!("{} spends without an upheld objection", spends.len()));
    }
    if spends.iter().chain(&reversals).any(|t| Some(t.account_id) != claim.account_id) {
        report("a spend or reversal of it is booked on another account".into());
    }
    let first_seq = claim.spend_tx_id.and_then(|id| spends.iter().find(|s| s.id == id)).map(|s| s.seq);
    if spends.iter().any(|s| first_seq.is_some_and(|first| s.seq < first)) {
        report("a top-up comes before its first spend".into());
    }
    match claim.spend_tx_id {
        Some(id) if spends.iter().any(|s| s.id == id) => {
            let total: i64 = spends.iter().map(|s| ledger.spent_cents(s.id)).sum();
            if total != claim.approved_cents {
                report(format!("approved {} cents but its spends moved {total}", claim.approved_cents));
            }
        }
        None if spends.is_empty() && claim.approved_cents == 0 => {}
        _ => report("spend_tx_id and approved amount do not match the ledger".into()),
    }
    match claim.reversal_tx_id {
        Some(id) if reversals.iter().any(|r| r.id == id && r.reverses == claim.spend_tx_id) => {}
        None if reversals.is_empty() => {}
        _ => report("reversal_tx_id does not match the ledger".into()),
    }
}

/// A claim's own facts against what they must agree with: its payment record, its account,
/// its scheme version, and the share the fund pays of its amount.
fn check_claim_facts(checker: &mut Checker, ledger: &Ledger<'_>, index: &Index<'_>, links: &Links, claim: &ClaimRow) {
    let mut problems = Vec::new();
    let paid = claim.status == ClaimStatus::Paid || (claim.status == ClaimStatus::Reversed && claim.paid_at.is_some());
    match (paid, links.payments.get(&claim.id)) {
        (true, Some(reference)) if claim.payment_reference.as_ref() == Some(reference) && claim.paid_at.is_some() => {}
        (false, None) if claim.payment_reference.is_none() && claim.paid_at.is_none() => {}
        (_, payment) => problems.push(format!(
            "status {} (payment reference {:?}) does not match its payment record ({:?})",
            claim.status, claim.payment_reference, payment
        )),
    }
    let spent = claim.status.spent();
    let undecided = matches!(claim.status, ClaimStatus::AwaitingGuidance | ClaimStatus::Submitted | ClaimStatus::UnderReview);
    if spent == claim.rejection_reason.is_some() && !undecided {
        problems.push(format!("status {} with rejection reason {:?}", claim.status, claim.rejection_reason));
    }
    if claim.status == ClaimStatus::AwaitingGuidance && (claim.rejection_reason.is_some() || claim.decided_at.is_some()) {
        problems.push("waits for guidance but carries a decision".into());
    }
    if claim.status == ClaimStatus::UnderReview
        && (claim.rejection_reason.is_some() || claim.decided_at.is_some() || claim.held_cents <= 0)
    {
        problems.push("under review but carries a decision or holds nothing".into());
    }
    if let Some(account) = claim.account_id.and_then(|id| index.accounts.get(&id)) {
        if account.worker_id != claim.worker_id || account.scheme_id != claim.scheme_id {
            problems.push("its account belongs to another worker or scheme".into());
        }
    }
    if let Some(spend) = claim.spend_tx_id.and_then(|id| ledger.transactions.get(&id)) {
        if claim.account_id != Some(spend.account_id) {
            problems.push("its spend was booked on another account".into());
        }
    }
    match links.versions.iter().find(|v| v.id == claim.scheme_version_id && v.scheme_id == claim.scheme_id) {
        Some(version) if claim.approved_cents > crate::domain::claims::funded_cents(claim.amount_cents, version.funding_pct) => {
            problems.push(format!("approved {} cents, more than the fund's share of its amount", claim.approved_cents));
        }
        Some(_) => {}
        None => problems.push("its scheme version does not exist in its scheme".into()),
    }
    for problem in problems {
        checker.report(claim.account_id, None, format!("claim {}: {problem}", claim.id));
    }
}

/// A claim that went under review reserved its own money once (recorded per lot), released it
/// once if it was rejected, and never holds more than it says.
fn check_claim_hold(checker: &mut Checker, ledger: &Ledger<'_>, index: &Index<'_>, by_reference: &HashMap<&str, Vec<&TransactionRow>>, claim: &ClaimRow) {
    let mut report = |problem: String| checker.report(claim.account_id, None, format!("claim {}: {problem}", claim.id));
    let reference = format!("claim:{}", claim.id);
    let reserves = ledger.referring(by_reference, &reference, TxKind::Reserve);
    let releases = ledger.referring(by_reference, &reference, TxKind::Release);
    let allocated: i64 = index.claim_allocated.get(&claim.id).copied().unwrap_or(0);
    let reserved = ledger.reserved_cents(&reserves);
    if reserves.len() != usize::from(allocated > 0) || reserved != allocated {
        report(format!("{} reserve transaction(s) moving {reserved} cents for {allocated} cents held per lot", reserves.len()));
    }
    // Released once when rejected on review; a claim approved later (after an upheld objection)
    // may have been released before it was approved.
    let releases_ok = match claim.status {
        _ if allocated == 0 => releases.is_empty(),
        ClaimStatus::UnderReview => releases.is_empty(),
        ClaimStatus::Rejected => releases.len() == 1,
        _ => releases.len() <= 1,
    };
    if !releases_ok {
        report(format!("status {} but {} release transaction(s) of its hold", claim.status, releases.len()));
    }
    if allocated > claim.held_cents {
        report(format!("holds {} cents but reserved {allocated}", claim.held_cents));
    }
}

fn check_voucher(
    checker: &mut Checker,
    ledger: &Ledger<'_>,
    index: &Index<'_>,
    by_reference: &HashMap<&str, Vec<&TransactionRow>>,
    voucher: &VoucherRow,
) {
    let mut report = |problem: String| checker.report(Some(voucher.account_id), None, format!("voucher {}: {problem}", voucher.id));
    let reference = format!("voucher:{}", voucher.id);
    let reserves = ledger.referring(by_reference, &reference, TxKind::Reserve);
    let releases = ledger.referring(by_reference, &reference, TxKind::Release);
    if reserves.len() != 1 {
        report(format!("{} reserve transaction(s) where one was expected", reserves.len()));
    }
    let closed_by_release = matches!(voucher.status, VoucherStatus::Cancelled | VoucherStatus::Expired);
    if releases.len() != usize::from(closed_by_release) {
        report(format!("status {} but {} release transaction(s)", voucher.status, releases.len()));
    }
    let allocated: i64 = index.voucher_allocated.get(&voucher.id).copied().unwrap_or(0);
    let reserved = ledger.reserved_cents(&reserves);
    if allocated != voucher.amount_cents || (reserves.len() == 1 && reserved != voucher.amount_cents) {
        report(format!("amount {} cents, but {allocated} allocated and {reserved} reserved", voucher.amount_cents));
    }
    match index.accounts.get(&voucher.account_id) {
        Some(account) if account.worker_id == voucher.worker_id && account.scheme_id == voucher.scheme_id => {}
        _ => report("its account belongs to another worker or scheme".into()),
    }
    let redeemed_by = voucher
        .claim_id
        .and_then(|id| index.claims.get(&id))
        .filter(|c| c.voucher_id == Some(voucher.id) && c.spend_tx_id.is_some());
    if (voucher.status == VoucherStatus::Redeemed) != redeemed_by.is_some() {
        report(format!("status {} does not match the claim that redeemed it", voucher.status));
    }
}

/// Money is reserved only for issued vouchers and claims under review: per account and per lot,
/// reserved equals what they hold.
fn check_reservations(checker: &mut Checker, ledger: &Ledger<'_>, links: &Links) {
    let issued: HashMap<VoucherId, &VoucherRow> =
        links.vouchers.iter().filter(|v| v.status == VoucherStatus::Issued).map(|v| (v.id, v)).collect();
    let mut per_account: HashMap<AccountId, i64> = HashMap::new();
    let mut per_lot: HashMap<LotId, i64> = HashMap::new();
    for allocation in &links.allocations {
        if let Some(voucher) = issued.get(&allocation.voucher_id) {
            *per_account.entry(voucher.account_id).or_default() += allocation.amount_cents;
            *per_lot.entry(allocation.lot_id).or_default() += allocation.amount_cents;
        }
    }
    let under_review: HashMap<ClaimId, &ClaimRow> =
        links.claims.iter().filter(|c| c.status == ClaimStatus::UnderReview).map(|c| (c.id, c)).collect();
    for allocation in &links.claim_allocations {
        if let Some(account) = under_review.get(&allocation.claim_id).and_then(|c| c.account_id) {
            *per_account.entry(account).or_default() += allocation.amount_cents;
            *per_lot.entry(allocation.lot_id).or_default() += allocation.amount_cents;
        }
    }
    for account in ledger.accounts {
        let expected = per_account.get(&account.id).copied().unwrap_or(0);
        if account.reserved_cents != expected {
            checker.report(
                Some(account.id),
                None,
                format!("reserved {} cents but its issued vouchers and claims under review hold {expected}", account.reserved_cents),
            );
        }
    }
    for lot in ledger.lots {
        let expected = per_lot.get(&lot.id).copied().unwrap_or(0);
        if lot.reserved_cents != expected {
            checker.report(
                Some(lot.account_id),
                None,
                format!("lot {} reserves {} cents but its issued vouchers and claims under review hold {expected}", lot.id, lot.reserved_cents),
            );
        }
    }
}

/// A lot's amount is what its grant moved into it, and its grant year and expiry date are the
/// ones its grant transaction's hashed reference names.
fn check_lot_terms(checker: &mut Checker, ledger: &Ledger<'_>) {
    for lot in ledger.lots {
        let mut report = |problem: String| checker.report(Some(lot.account_id), Some(lot.transaction_id), format!("lot {}: {problem}", lot.id));
        let granted: Option<i64> = ledger.transactions.get(&lot.transaction_id).filter(|t| t.kind == TxKind::Grant).map(|t| {
            ledger
                .postings_by_tx
                .get(&t.id)
                .map(|ps| {
                    ps.iter()
                        .filter(|p| p.lot_id == Some(lot.id) && p.account == LedgerAccount::Available)
                        .map(|p| p.amount_cents)
                        .sum()
                })
                .unwrap_or(0)
        });
        if granted != Some(lot.amount_cents) {
            report(format!("amount {} cents does not match its grant transaction", lot.amount_cents));
        }
        let reference = ledger.transactions.get(&lot.transaction_id).and_then(|t| t.reference.clone()).unwrap_or_default();
        let legacy = format!("lot:{}", lot.id);
        let with_terms = crate::domain::lots::lot_reference(&lot.id, lot.grant_year, lot.expires_on);
        if reference != legacy && reference != with_terms {
            report(format!("grant year {} or expiry {} differ from its grant transaction ({reference})", lot.grant_year, lot.expires_on));
        }
        // Grants written before lot terms were hashed carry `lot:<id>` alone: their expiry is
        // at least a 31 December no earlier than the grant year's. (The scheme's rules cannot
        // tell more: a version published later may change the validity of future grants.)
        if reference == legacy {
            let shaped = lot.expires_on.month() == 12 && lot.expires_on.day() == 31 && lot.expires_on.year() >= lot.grant_year;
            if !shaped {
                report(format!("expires_on {} is not the end of a year from its grant year on", lot.expires_on));
            }
        }
    }
}
