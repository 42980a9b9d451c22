//! First-in, first-out consumption of grant lots.

use chrono::NaiveDate;

use super::ids::LotId;

/// The reference of a lot's grant transaction: the lot and its terms, so that the chain's hash
/// covers them. Entries written before the terms were added carry `lot:<id>` alone.
pub fn lot_reference(lot: &LotId, grant_year: i32, expires_on: NaiveDate) -> String {
    format!("lot:{lot}:{grant_year}:{expires_on}")
}

/// What the allocation needs to know of a lot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LotBalance {
    pub id: LotId,
    pub expires_on: NaiveDate,
    pub available_cents: i64,
}

/// Takes `amount_cents` from the lots that are still usable on `on`, the one that lapses first
/// first (ties in creation order, which the ids carry). Returns the amount taken per lot, or
/// the usable total when it is not enough.
pub fn take_fifo(lots: &[LotBalance], amount_cents: i64, on: NaiveDate) -> Result<Vec<(LotId, i64)>, i64> {
    let mut usable: Vec<&LotBalance> =
        lots.iter().filter(|l| l.expires_on >= on && l.available_cents > 0).collect();
    usable.sort_by_key(|l| (l.expires_on, l.id));
    let total: i64 = usable.iter().map(|l| l.available_cents).sum();
    if total < amount_cents {
        return Err(total);
    }
    let mut remaining = amount_cents;
    let mut taken = Vec::new();
    for lot in usable {
        if remaining == 0 {
            break;
        }
        let take = lot.available_cents.min(remaining);
        taken.push((lot.id, take));
        remaining -= take;
    }
    Ok(taken)
}

/// The total that `take_fifo` could take on `on`.
pub fn usable_cents(lots: &[LotBalance], on: NaiveDate) -> i64 {
    lots.iter().filter(|l| l.expires_on >= on).map(|l| l.available_cents).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> NaiveDate {
        s.parse().expect("valid test date")
    }

    fn lot(expires: &str, cents: i64) -> LotBalance {
        LotBalance { id: LotId::new(), expires_on: date(expires), available_cents: cents }
    }

    #[test]
    fn takes_the_lot_that_lapses_first() {
        let lots = vec![lot("2027-12-31", 500), lot("2026-12-31", 300)];
        let taken = take_fifo(&lots, 400, date("2026-06-01")).expect("enough");
        assert_eq!(taken, vec![(lots[1].id, 300), (lots[0].id, 100)]);
    }

    #[test]
    fn lapsed_lots_cannot_be_used_even_before_the_expiry_run() {
        let lots = vec![lot("2025-12-31", 1_000), lot("2026-12-31", 300)];
        assert_eq!(take_fifo(&lots, 400, date("2026-01-01")), Err(300));
        assert_eq!(usable_cents(&lots, date("2026-01-01")), 300);
        assert_eq!(usable_cents(&lots, date("2025-12-31")), 1_300);
    }
}
