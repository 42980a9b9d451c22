//! The states of a claim and of a voucher, as the database stores them (text) and the API
//! shows them.

use std::fmt;

use super::UnknownName;

/// Where a claim stands. `submitted` is the moment before it is decided; a claim is decided in
/// the transaction that records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, diesel::expression::AsExpression, diesel::deserialize::FromSqlRow)]
#[diesel(sql_type = diesel::sql_types::Text)]
#[serde(rename_all = "snake_case")]
pub enum ClaimStatus {
    Submitted,
    Approved,
    AwaitingGuidance,
    /// Above the scheme's `review_above`: its money is reserved until the back office decides.
    UnderReview,
    Rejected,
    Paid,
    Reversed,
}

impl ClaimStatus {
    pub const ALL: [ClaimStatus; 7] = [
        ClaimStatus::Submitted,
        ClaimStatus::Approved,
        ClaimStatus::AwaitingGuidance,
        ClaimStatus::UnderReview,
        ClaimStatus::Rejected,
        ClaimStatus::Paid,
        ClaimStatus::Reversed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ClaimStatus::Submitted => "submitted",
            ClaimStatus::Approved => "approved",
            ClaimStatus::AwaitingGuidance => "awaiting_guidance",
            ClaimStatus::UnderReview => "under_review",
            ClaimStatus::Rejected => "rejected",
            ClaimStatus::Paid => "paid",
            ClaimStatus::Reversed => "reversed",
        }
    }

    pub fn parse(text: &str) -> Option<ClaimStatus> {
        ClaimStatus::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Whether a claim in this state has had its money spent (and possibly given back).
    pub fn spent(self) -> bool {
        matches!(self, ClaimStatus::Approved | ClaimStatus::Paid | ClaimStatus::Reversed)
    }
}

impl fmt::Display for ClaimStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a voucher stands: issued (money reserved), then redeemed, cancelled or expired.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, diesel::expression::AsExpression, diesel::deserialize::FromSqlRow)]
#[diesel(sql_type = diesel::sql_types::Text)]
#[serde(rename_all = "snake_case")]
pub enum VoucherStatus {
    Issued,
    Redeemed,
    Cancelled,
    Expired,
}

impl VoucherStatus {
    pub const ALL: [VoucherStatus; 4] = [VoucherStatus::Issued, VoucherStatus::Redeemed, VoucherStatus::Cancelled, VoucherStatus::Expired];

    pub fn as_str(self) -> &'static str {
        match self {
            VoucherStatus::Issued => "issued",
            VoucherStatus::Redeemed => "redeemed",
            VoucherStatus::Cancelled => "cancelled",
            VoucherStatus::Expired => "expired",
        }
    }

    pub fn parse(text: &str) -> Option<VoucherStatus> {
        VoucherStatus::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

impl fmt::Display for VoucherStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a coaching session was: the first talk, a career conversation, or a follow-up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, diesel::expression::AsExpression, diesel::deserialize::FromSqlRow)]
#[diesel(sql_type = diesel::sql_types::Text)]
#[serde(rename_all = "snake_case")]
pub enum SessionKind {
    Intake,
    Loopbaangesprek,
    FollowUp,
}

impl SessionKind {
    pub const ALL: [SessionKind; 3] = [SessionKind::Intake, SessionKind::Loopbaangesprek, SessionKind::FollowUp];

    pub fn as_str(self) -> &'static str {
        match self {
            SessionKind::Intake => "intake",
            SessionKind::Loopbaangesprek => "loopbaangesprek",
            SessionKind::FollowUp => "follow_up",
        }
    }
}

impl fmt::Display for SessionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for SessionKind {
    type Err = UnknownName;
    fn from_str(text: &str) -> Result<Self, UnknownName> {
        SessionKind::ALL.into_iter().find(|v| v.as_str() == text).ok_or(UnknownName)
    }
}

impl std::str::FromStr for ClaimStatus {
    type Err = UnknownName;
    fn from_str(text: &str) -> Result<Self, UnknownName> {
        ClaimStatus::ALL.into_iter().find(|v| v.as_str() == text).ok_or(UnknownName)
    }
}

impl std::str::FromStr for VoucherStatus {
    type Err = UnknownName;
    fn from_str(text: &str) -> Result<Self, UnknownName> {
        VoucherStatus::ALL.into_iter().find(|v| v.as_str() == text).ok_or(UnknownName)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_read_back_what_they_write() {
        for status in ClaimStatus::ALL {
            assert_eq!(ClaimStatus::parse(status.as_str()), Some(status));
        }
        for status in VoucherStatus::ALL {
            assert_eq!(VoucherStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(ClaimStatus::parse("APPROVED"), None);
        for status in ClaimStatus::ALL {
            assert_eq!(serde_json::to_value(status).ok(), Some(serde_json::Value::from(status.as_str())));
        }
        for status in VoucherStatus::ALL {
            assert_eq!(serde_json::to_value(status).ok(), Some(serde_json::Value::from(status.as_str())));
        }
        for kind in SessionKind::ALL {
            assert_eq!(serde_json::to_value(kind).ok(), Some(serde_json::Value::from(kind.as_str())));
            assert_eq!(kind.as_str().parse::<SessionKind>(), Ok(kind));
        }
    }
}
