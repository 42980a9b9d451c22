//! How the domain's typed values are stored: each as text, on both backends.
//!
//! The domain types carry only diesel's derive markers (`AsExpression`, `FromSqlRow`, naming
//! `Text`); the mapping itself is here. A stored value that does not read back (an id that is
//! not a UUID, an unknown status) is a deserialization error: the request answers 500 and its
//! connection is discarded, never a panic.

use std::fmt::Display;
use std::io::Write;
use std::str::FromStr;

use diesel::backend::Backend;
use diesel::deserialize::{self, FromSql};
use diesel::pg::Pg;
use diesel::serialize::{self, IsNull, Output, ToSql};
use diesel::sql_types::Text;
use diesel::sqlite::Sqlite;

use super::conn::MultiBackend;
use crate::domain::ledger::{LedgerAccount, TxKind};
use crate::domain::objections::ObjectionStatus;
use crate::domain::payments::BatchStatus;
use crate::domain::providers::{Payee, ProviderPolicy, ProviderStatus};
use crate::domain::status::{ClaimStatus, SessionKind, VoucherStatus};
use crate::domain::events::EventType;
use crate::domain::{AccountId, BatchId, ClaimId, ObjectionId, ProviderId, DeliveryId, EmployerId, EventId, FundId, LotId, SchemeId, SchemeVersionId, SessionId, TransactionId, VoucherId, WebhookId, WorkerId};

/// Reads stored text back into a typed value. Only the exact text this service writes reads
/// back: an id in upper case, without hyphens or in braces parses as a UUID but was not written
/// here, and is refused like any other value changed behind the service's back.
fn read_back<T: FromStr + Display, DB: Backend>(bytes: DB::RawValue<'_>) -> deserialize::Result<T>
where
    String: FromSql<Text, DB>,
{
    let text = <String as FromSql<Text, DB>>::from_sql(bytes)?;
    match text.parse::<T>() {
        Ok(value) if value.to_string() == text => Ok(value),
        _ => Err(format!("stored value {text:?} is not a valid {}", std::any::type_name::<T>()).into()),
    }
}

macro_rules! stored_as_text {
    ($($ty:ty),* $(,)?) => {$(
        impl ToSql<Text, Sqlite> for $ty {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
                out.set_value(self.to_string());
                Ok(IsNull::No)
            }
        }

        impl ToSql<Text, Pg> for $ty {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
                write!(out, "{}", self as &dyn Display)?;
                Ok(IsNull::No)
            }
        }

        impl ToSql<Text, MultiBackend> for $ty {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, MultiBackend>) -> serialize::Result {
                out.set_value((Text, self));
                Ok(IsNull::No)
            }
        }

        impl FromSql<Text, Sqlite> for $ty {
            fn from_sql(bytes: <Sqlite as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
                read_back::<Self, Sqlite>(bytes)
            }
        }

        impl FromSql<Text, Pg> for $ty {
            fn from_sql(bytes: <Pg as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
                read_back::<Self, Pg>(bytes)
            }
        }

        impl FromSql<Text, MultiBackend> for $ty {
            fn from_sql(bytes: <MultiBackend as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
                bytes.from_sql::<Self, Text>()
            }
        }
    )*};
}

stored_as_text!(
    FundId,
    SchemeId,
    SchemeVersionId,
    EmployerId,
    WorkerId,
    AccountId,
    LotId,
    TransactionId,
    VoucherId,
    ClaimId,
    SessionId,
    EventId,
    WebhookId,
    DeliveryId,
    BatchId,
    BatchStatus,
    ProviderId,
    ObjectionId,
    ObjectionStatus,
    ProviderPolicy,
    Payee,
    ProviderStatus,
    EventType,
    ClaimStatus,
    VoucherStatus,
    SessionKind,
    TxKind,
    LedgerAccount,
);
