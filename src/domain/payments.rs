//! Paying claims: payment batches and what a SEPA credit transfer needs (a BIC, an end-to-end
//! id, text in the SEPA character set). The XML itself is `crate::sepa`.

use std::fmt;

use super::{ClaimId, FieldError, UnknownName};

/// Where a payment batch stands: open (the file may go to the bank), then confirmed (the bank
/// took it: its claims are paid) or cancelled (its claims are released), once.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, diesel::expression::AsExpression, diesel::deserialize::FromSqlRow)]
#[diesel(sql_type = diesel::sql_types::Text)]
#[serde(rename_all = "snake_case")]
pub enum BatchStatus {
    Open,
    Confirmed,
    Cancelled,
}

impl BatchStatus {
    pub const ALL: [BatchStatus; 3] = [BatchStatus::Open, BatchStatus::Confirmed, BatchStatus::Cancelled];

    pub fn as_str(self) -> &'static str {
        match self {
            BatchStatus::Open => "open",
            BatchStatus::Confirmed => "confirmed",
            BatchStatus::Cancelled => "cancelled",
        }
    }
}

impl fmt::Display for BatchStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for BatchStatus {
    type Err = UnknownName;
    fn from_str(text: &str) -> Result<Self, UnknownName> {
        BatchStatus::ALL.into_iter().find(|v| v.as_str() == text).ok_or(UnknownName)
    }
}

/// Why an approved claim was left out of a batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// The payee (the employer that submitted the claim, or the provider under a scheme that
    /// pays providers) has no IBAN on record.
    PayeeIbanMissing,
    /// The claim's provider is suspended: held until it is reinstated.
    ProviderSuspended,
}

/// A BIC (ISO 9362): 4 letters (bank), 2 letters (country), 2 letters or digits (location),
/// optionally 3 more (branch). Kept in upper case; no spaces.
pub fn normalise_bic(field: &'static str, text: &str) -> Result<String, FieldError> {
    let bic = text.to_ascii_uppercase();
    let b = bic.as_bytes();
    let shaped = (b.len() == 8 || b.len() == 11)
        && b[..6].iter().all(u8::is_ascii_uppercase)
        && b[6..].iter().all(u8::is_ascii_alphanumeric);
    if !shaped {
        return Err(FieldError::new(field, "a BIC is 8 or 11 letters and digits, e.g. \"ABNANL2A\""));
    }
    Ok(bic)
}

/// The end-to-end id of a claim's credit transfer: the claim's id without hyphens (32
/// characters; SEPA allows 35), so that the bank's reply leads back to the claim.
pub fn end_to_end_id(claim: ClaimId) -> String {
    claim.0.simple().to_string()
}

/// Text as SEPA takes it: the Latin characters of the SEPA set (letters, digits,
/// `/ - ? : ( ) . , ' +` and space); accented letters lose their accent, anything else becomes a
/// space; at most `max` characters, trimmed.
pub fn sepa_text(text: &str, max: usize) -> String {
    let mapped: String = text
        .chars()
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '/' | '-' | '?' | ':' | '(' | ')' | '.' | ',' | '\'' | '+' | ' ' => c,
            'à' | 'á' | 'â' | 'ä' | 'ã' | 'å' => 'a',
            'è' | 'é' | 'ê' | 'ë' => 'e',
            'ì' | 'í' | 'î' | 'ï' => 'i',
            'ò' | 'ó' | 'ô' | 'ö' | 'õ' => 'o',
            'ù' | 'ú' | 'û' | 'ü' => 'u',
            'ç' => 'c',
            'ñ' => 'n',
            'ÿ' | 'ý' => 'y',
            'À' | 'Á' | 'Â' | 'Ä' | 'Ã' | 'Å' => 'A',
            'È' | 'É' | 'Ê' | 'Ë' => 'E',
            'Ì' | 'Í' | 'Î' | 'Ï' => 'I',
            'Ò' | 'Ó' | 'Ô' | 'Ö' | 'Õ' => 'O',
            'Ù' | 'Ú' | 'Û' | 'Ü' => 'U',
            'Ç' => 'C',
            'Ñ' => 'N',
            '&' => '+',
            _ => ' ',
        })
        .collect();
    let squeezed = mapped.split_whitespace().collect::<Vec<_>>().join(" ");
    let cut: String = squeezed.chars().take(max).collect();
    let cut = cut.trim().to_string();
    if cut.is_empty() { "-".to_string() } else { cut }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bics_and_sepa_text() {
        assert_eq!(normalise_bic("bic", "abnanl2a").as_deref(), Ok("ABNANL2A"));
        assert_eq!(normalise_bic("bic", "INGBNL2AXXX").as_deref(), Ok("INGBNL2AXXX"));
        assert!(normalise_bic("bic", "ABNANL2").is_err());
        assert!(normalise_bic("bic", "1BNANL2A").is_err());
        assert_eq!(sepa_text("Constructiebedrijf Hamer & Zn. <Café>", 140), "Constructiebedrijf Hamer + Zn. Cafe");
        assert_eq!(sepa_text("   ", 35), "-");
        assert_eq!(sepa_text(&"x".repeat(50), 35).len(), 35);
        for s in BatchStatus::ALL {
            assert_eq!(s.as_str().parse::<BatchStatus>(), Ok(s));
        }
    }
}
