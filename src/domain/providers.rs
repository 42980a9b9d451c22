//! Training providers (opleiders): a fund's registry, and what a scheme asks of them. Unchecked
//! providers are where individual learning accounts lost their money (Scotland's ILA, 2001; the
//! Dutch STAP budget): a scheme may require every claim and voucher to name an active
//! registered provider.

text_enum!(
    /// Whether claims and vouchers may name any provider as text (`open`, the default) or must
    /// name an active registered one by `provider_id` (`registered`).
    ProviderPolicy { Open => "open", Registered => "registered" }
);

text_enum!(
    /// Who a claim's money goes to: the employer, who paid the invoice (the default), or the
    /// provider directly (needs `provider_policy: registered`).
    Payee { Employer => "employer", Provider => "provider" }
);

text_enum!(
    /// A registered provider is active, or suspended (under investigation): then no claim or
    /// voucher may name it, and its approved claims are held out of payment batches.
    ProviderStatus { Active => "active", Suspended => "suspended" }
);

/// The most quality labels a provider carries, and the longest label.
pub const MAX_QUALITY_LABELS: usize = 10;
pub const MAX_QUALITY_LABEL_CHARS: usize = 40;

/// How a provider a claim or voucher names stands, for the scheme's policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProviderStanding {
    /// No provider named, or one this fund does not know.
    NotRegistered,
    Suspended,
    Active,
}

/// Why a claim or voucher may not name the provider it names (or names none).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProviderRefusal {
    /// The scheme needs an active registered provider and none is named, or one the fund does
    /// not know: a claim is rejected (`provider_not_registered`), a voucher refused.
    NotRegistered,
    /// The named provider is suspended.
    Suspended,
    /// Under an open policy a `provider_id` was given that the fund does not know: a bad
    /// reference (422), not a decision.
    UnknownReference,
}

/// The scheme's policy applied to the provider a claim or voucher names (`None`: none named).
pub fn verdict(policy: ProviderPolicy, named: Option<ProviderStanding>) -> Result<(), ProviderRefusal> {
    match (policy, named) {
        (_, Some(ProviderStanding::Suspended)) => Err(ProviderRefusal::Suspended),
        (_, Some(ProviderStanding::Active)) | (ProviderPolicy::Open, None) => Ok(()),
        (ProviderPolicy::Registered, None | Some(ProviderStanding::NotRegistered)) => Err(ProviderRefusal::NotRegistered),
        (ProviderPolicy::Open, Some(ProviderStanding::NotRegistered)) => Err(ProviderRefusal::UnknownReference),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_read_back() {
        for p in ProviderPolicy::ALL {
            assert_eq!(p.as_str().parse::<ProviderPolicy>(), Ok(*p));
        }
        assert_eq!(ProviderPolicy::default(), ProviderPolicy::Open);
        assert_eq!(Payee::default(), Payee::Employer);
        assert_eq!("suspended".parse::<ProviderStatus>(), Ok(ProviderStatus::Suspended));
        assert!("Open".parse::<ProviderPolicy>().is_err());
        use ProviderStanding::*;
        assert_eq!(verdict(ProviderPolicy::Open, None), Ok(()));
        assert_eq!(verdict(ProviderPolicy::Open, Some(Active)), Ok(()));
        assert_eq!(verdict(ProviderPolicy::Open, Some(Suspended)), Err(ProviderRefusal::Suspended));
        assert_eq!(verdict(ProviderPolicy::Open, Some(NotRegistered)), Err(ProviderRefusal::UnknownReference));
        assert_eq!(verdict(ProviderPolicy::Registered, None), Err(ProviderRefusal::NotRegistered));
        assert_eq!(verdict(ProviderPolicy::Registered, Some(NotRegistered)), Err(ProviderRefusal::NotRegistered));
        assert_eq!(verdict(ProviderPolicy::Registered, Some(Suspended)), Err(ProviderRefusal::Suspended));
        assert_eq!(verdict(ProviderPolicy::Registered, Some(Active)), Ok(()));
    }
}
