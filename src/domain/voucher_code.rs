//! Voucher codes: 65 random bits in Crockford's base32 (no I, L, O, U: nothing to misread),
//! plus a Luhn mod 32 check character that catches every single typo and most swaps.
//! Printed as `XXXX-XXXX-XXXX-XX`.

use std::fmt;
use std::str::FromStr;

use rand::RngCore;

const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// Random characters in a code: 13 × 5 = 65 bits.
pub const RANDOM_CHARS: usize = 13;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct VoucherCode(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VoucherCodeError {
    #[error("a voucher code has 14 characters from 0-9 and A-Z (without I, L, O, U), e.g. \"7QX2-M9KD-4TRB-CW\"")]
    Format,
    #[error("the voucher code's check character does not match: check it for a typo")]
    Check,
}

fn value_of(c: u8) -> Option<u32> {
    let c = c.to_ascii_uppercase();
    // Crockford: I and L read as 1, O as 0.
    let c = match c {
        b'I' | b'L' => b'1',
        b'O' => b'0',
        other => other,
    };
    ALPHABET.iter().position(|&a| a == c).map(|p| p as u32)
}

/// Luhn mod N over the alphabet's values.
fn check_value(values: &[u32]) -> u32 {
    let n = 32;
    let mut factor = 2;
    let mut sum = 0;
    for &v in values.iter().rev() {
        let addend = factor * v;
        sum += addend / n + addend % n;
        factor = if factor == 2 { 1 } else { 2 };
    }
    (n - sum % n) % n
}

impl VoucherCode {
    pub fn generate() -> VoucherCode {
        let mut bytes = [0u8; RANDOM_CHARS];
        rand::rng().fill_bytes(&mut bytes);
        let values: Vec<u32> = bytes.iter().map(|b| u32::from(*b) % 32).collect();
        VoucherCode::from_values(&values)
    }

    fn from_values(values: &[u32]) -> VoucherCode {
        let check = check_value(values);
        let mut text: String = values.iter().map(|&v| ALPHABET[v as usize] as char).collect();
        text.push(ALPHABET[check as usize] as char);
        VoucherCode(text)
    }

    /// Parses a code as a person types it: any case, with or without hyphens and spaces.
    pub fn parse(input: &str) -> Result<VoucherCode, VoucherCodeError> {
        let mut values = Vec::with_capacity(RANDOM_CHARS + 1);
        for c in input.bytes().filter(|c| *c != b'-' && *c != b' ') {
            values.push(value_of(c).ok_or(VoucherCodeError::Format)?);
        }
        if values.len() != RANDOM_CHARS + 1 {
            return Err(VoucherCodeError::Format);
        }
        let (body, check) = values.split_at(RANDOM_CHARS);
        if check_value(body) != check[0] {
            return Err(VoucherCodeError::Check);
        }
        Ok(VoucherCode::from_values(body))
    }

    /// The canonical form stored and compared: 14 characters, no separators.
    pub fn canonical(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for VoucherCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.0;
        write!(f, "{}-{}-{}-{}", &s[0..4], &s[4..8], &s[8..12], &s[12..14])
    }
}

impl FromStr for VoucherCode {
    type Err = VoucherCodeError;
    fn from_str(s: &str) -> Result<VoucherCode, VoucherCodeError> {
        VoucherCode::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_codes_parse_back_in_any_spelling() {
        for _ in 0..200 {
            let code = VoucherCode::generate();
            let printed = code.to_string();
            assert_eq!(printed.len(), 17);
            assert_eq!(VoucherCode::parse(&printed).as_ref(), Ok(&code));
            assert_eq!(VoucherCode::parse(&printed.to_lowercase().replace('-', " ")).as_ref(), Ok(&code));
        }
    }

    #[test]
    fn every_single_character_typo_is_caught() {
        let code = VoucherCode::generate();
        let canonical = code.canonical().as_bytes().to_vec();
        for i in 0..canonical.len() {
            for &replacement in ALPHABET.iter() {
                if replacement == canonical[i] {
                    continue;
                }
                let mut typo = canonical.clone();
                typo[i] = replacement;
                let typo = String::from_utf8(typo).expect("ascii");
                assert!(VoucherCode::parse(&typo).is_err(), "{typo} accepted for {code}");
            }
        }
    }

    #[test]
    fn malformed_codes_are_refused() {
        assert_eq!(VoucherCode::parse("ABC"), Err(VoucherCodeError::Format));
        assert_eq!(VoucherCode::parse("UUUU-UUUU-UUUU-UU"), Err(VoucherCodeError::Format));
    }
}
