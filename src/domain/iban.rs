//! IBAN (ISO 13616): the account numbers payments go to. Checked with the mod-97 rule, so that a
//! typing error is refused when the number is entered, not when the bank returns the payment.

use super::FieldError;

/// Length of an IBAN per country, for the SEPA countries a Dutch fund pays into.
const LENGTHS: &[(&str, usize)] = &[
    ("AD", 24), ("AT", 20), ("BE", 16), ("BG", 22), ("CH", 21), ("CY", 28), ("CZ", 24), ("DE", 22),
    ("DK", 18), ("EE", 20), ("ES", 24), ("FI", 18), ("FR", 27), ("GB", 22), ("GI", 23), ("GR", 27),
    ("HR", 21), ("HU", 28), ("IE", 22), ("IS", 26), ("IT", 27), ("LI", 21), ("LT", 20), ("LU", 20),
    ("LV", 21), ("MC", 27), ("MT", 31), ("NL", 18), ("NO", 15), ("PL", 28), ("PT", 25), ("RO", 24),
    ("SE", 24), ("SI", 19), ("SK", 24), ("SM", 27), ("VA", 22),
];

/// The longest IBAN text taken, spaces included.
pub const MAX_WRITTEN_CHARS: usize = 50;

/// The IBAN in its electronic form (no spaces, upper case) if it is one; otherwise why not.
pub fn normalise(field: &'static str, text: &str) -> Result<String, FieldError> {
    // As written on paper: letters and digits, in groups separated by single spaces.
    let shaped = text.len() <= MAX_WRITTEN_CHARS
        && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b' ')
        && !text.starts_with(' ')
        && !text.ends_with(' ')
        && !text.contains("  ");
    if !shaped {
        return Err(FieldError::new(field, "an IBAN is letters and digits, optionally in groups separated by single spaces, e.g. \"NL91 ABNA 0417 1643 00\""));
    }
    let iban: String = text.chars().filter(|c| *c != ' ').collect::<String>().to_ascii_uppercase();
    if iban.len() < 5 || !iban.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(FieldError::new(field, "an IBAN is a country code, two check digits and the account number, e.g. \"NL91ABNA0417164300\""));
    }
    let country = &iban[..2];
    let Some(&(_, length)) = LENGTHS.iter().find(|(c, _)| *c == country) else {
        return Err(FieldError::new(field, format!("{country:?} is not a SEPA country code")));
    };
    if iban.len() != length {
        return Err(FieldError::new(field, format!("an IBAN from {country} has {length} characters, this one {}", iban.len())));
    }
    if mod_97(&iban) != 1 {
        return Err(FieldError::new(field, "the check digits do not match: a character is mistyped"));
    }
    Ok(iban)
}

/// The remainder of an IBAN (or IBAN-to-be) by 97, read as ISO 13616 says: the first four
/// characters moved to the end, letters as numbers (A = 10).
fn mod_97(iban: &str) -> u32 {
    iban[4..].bytes().chain(iban[..4].bytes()).fold(0u32, |acc, b| {
        let value = if b.is_ascii_digit() { u32::from(b - b'0') } else { u32::from(b - b'A') + 10 };
        if value >= 10 { (acc * 100 + value) % 97 } else { (acc * 10 + value) % 97 }
    })
}

/// A Dutch IBAN for a bank code (4 letters) and account number, with its check digits: what
/// the demo gives its employers.
pub fn dutch(bank: &str, account: u64) -> String {
    let bban = format!("{bank}{account:010}");
    let check = 98 - mod_97(&format!("NL00{bban}"));
    format!("NL{check:02}{bban}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mod_97_lengths_and_normal_form() {
        assert_eq!(normalise("iban", "NL91ABNA0417164300").as_deref(), Ok("NL91ABNA0417164300"));
        assert_eq!(normalise("iban", "nl91 abna 0417 1643 00").as_deref(), Ok("NL91ABNA0417164300"));
        assert_eq!(normalise("iban", "DE89370400440532013000").as_deref(), Ok("DE89370400440532013000"));
        assert_eq!(normalise("iban", "BE68539007547034").as_deref(), Ok("BE68539007547034"));
        assert!(normalise("iban", "NL92ABNA0417164300").unwrap_err().message.contains("check digits"));
        assert!(normalise("iban", "NL91ABNA041716430").unwrap_err().message.contains("18 characters"));
        assert!(normalise("iban", "XX91ABNA0417164300").is_err());
        assert!(normalise("iban", "NL91-ABNA").is_err());
        assert!(normalise("iban", "").is_err());
        for account in [0, 417_164_300, 9_999_999_999] {
            let iban = dutch("ABNA", account);
            assert_eq!(normalise("iban", &iban).as_deref(), Ok(iban.as_str()));
        }
        assert!(normalise("iban", " NL91ABNA0417164300").is_err());
        assert!(normalise("iban", "NL91  ABNA0417164300").is_err());
        assert!(normalise("iban", "NL91\tABNA0417164300").is_err());
    }
}
