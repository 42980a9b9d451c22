//! The change feed's vocabulary: which changes of state are events.

use std::fmt;

use super::UnknownName;

/// What happened. The feed and webhooks carry these names; `types=` filters by them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, diesel::expression::AsExpression, diesel::deserialize::FromSqlRow)]
#[diesel(sql_type = diesel::sql_types::Text)]
pub enum EventType {
    #[serde(rename = "grant.created")]
    GrantCreated,
    #[serde(rename = "voucher.issued")]
    VoucherIssued,
    #[serde(rename = "voucher.redeemed")]
    VoucherRedeemed,
    #[serde(rename = "voucher.cancelled")]
    VoucherCancelled,
    #[serde(rename = "voucher.expired")]
    VoucherExpired,
    #[serde(rename = "claim.approved")]
    ClaimApproved,
    #[serde(rename = "claim.rejected")]
    ClaimRejected,
    #[serde(rename = "claim.awaiting_guidance")]
    ClaimAwaitingGuidance,
    #[serde(rename = "claim.under_review")]
    ClaimUnderReview,
    #[serde(rename = "claim.paid")]
    ClaimPaid,
    #[serde(rename = "claim.reversed")]
    ClaimReversed,
    #[serde(rename = "coaching_session.recorded")]
    CoachingSessionRecorded,
    #[serde(rename = "lot.lapsed")]
    LotLapsed,
    #[serde(rename = "worker.employment_changed")]
    WorkerEmploymentChanged,
    #[serde(rename = "payment_batch.confirmed")]
    PaymentBatchConfirmed,
    #[serde(rename = "objection.filed")]
    ObjectionFiled,
    #[serde(rename = "objection.decided")]
    ObjectionDecided,
}

impl EventType {
    pub const ALL: [EventType; 17] = [
        EventType::GrantCreated,
        EventType::VoucherIssued,
        EventType::VoucherRedeemed,
        EventType::VoucherCancelled,
        EventType::VoucherExpired,
        EventType::ClaimApproved,
        EventType::ClaimRejected,
        EventType::ClaimAwaitingGuidance,
        EventType::ClaimUnderReview,
        EventType::ClaimPaid,
        EventType::ClaimReversed,
        EventType::CoachingSessionRecorded,
        EventType::LotLapsed,
        EventType::WorkerEmploymentChanged,
        EventType::PaymentBatchConfirmed,
        EventType::ObjectionFiled,
        EventType::ObjectionDecided,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::GrantCreated => "grant.created",
            EventType::VoucherIssued => "voucher.issued",
            EventType::VoucherRedeemed => "voucher.redeemed",
            EventType::VoucherCancelled => "voucher.cancelled",
            EventType::VoucherExpired => "voucher.expired",
            EventType::ClaimApproved => "claim.approved",
            EventType::ClaimRejected => "claim.rejected",
            EventType::ClaimAwaitingGuidance => "claim.awaiting_guidance",
            EventType::ClaimUnderReview => "claim.under_review",
            EventType::ClaimPaid => "claim.paid",
            EventType::ClaimReversed => "claim.reversed",
            EventType::CoachingSessionRecorded => "coaching_session.recorded",
            EventType::LotLapsed => "lot.lapsed",
            EventType::WorkerEmploymentChanged => "worker.employment_changed",
            EventType::PaymentBatchConfirmed => "payment_batch.confirmed",
            EventType::ObjectionFiled => "objection.filed",
            EventType::ObjectionDecided => "objection.decided",
        }
    }

    /// Parses a comma-separated `types` list; `Err` names the first unknown type.
    pub fn parse_list(text: &str) -> Result<Vec<EventType>, String> {
        text.split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(|t| t.parse().map_err(|_| t.to_string()))
            .collect()
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for EventType {
    type Err = UnknownName;
    fn from_str(text: &str) -> Result<Self, UnknownName> {
        EventType::ALL.into_iter().find(|v| v.as_str() == text).ok_or(UnknownName)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_read_back_and_serialise_as_written() {
        for t in EventType::ALL {
            assert_eq!(t.as_str().parse::<EventType>(), Ok(t));
            assert_eq!(serde_json::to_value(t).ok(), Some(serde_json::Value::from(t.as_str())));
        }
        assert_eq!(EventType::parse_list("claim.paid, lot.lapsed"), Ok(vec![EventType::ClaimPaid, EventType::LotLapsed]));
        assert_eq!(EventType::parse_list("claim.paid,claim.bogus"), Err("claim.bogus".to_string()));
    }
}
