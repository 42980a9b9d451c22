//! The report as CSV: every section, one figure per row (a long table a spreadsheet pivots),
//! `;`-separated, UTF-8, with a header. Columns: the month, the `section` (a key of the JSON
//! report), the `group` within it (a breakdown, a segment dimension, a comparison month), the
//! row's `key` and `label` (a cell, a segment, a provider), the `measure` and its `value`.
//!
//! The `nl` dialect is what Excel in a Dutch locale opens as it is: a byte-order mark (without
//! it Excel reads UTF-8 as Windows-1252: "CafÃ©"), CRLF line ends, Dutch headers, decimal commas.

use serde::Deserialize;
use serde_json::Value;

use super::monthly::MonthlyReport;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum CsvDialect {
    /// `;` between fields, `.` in numbers.
    #[default]
    Standard,
    /// `;` between fields, `,` in numbers, byte-order mark, CRLF, Dutch headers.
    Nl,
}

pub const HEADER: [&str; 7] = ["month", "section", "group", "key", "label", "measure", "value"];
pub const HEADER_NL: [&str; 7] = ["maand", "sectie", "groep", "sleutel", "omschrijving", "maat", "waarde"];

/// Text a spreadsheet shows, never runs: a cell that starts with `=`, `+`, `-`, `@` or a control
/// character would be read as a formula (OWASP's CSV injection), so it gets a leading apostrophe.
/// Only for text: numbers (a negative amount) are written as they are.
fn as_text(label: &str) -> String {
    match label.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{label}"),
        _ => label.to_string(),
    }
}

/// Whether a JSON string is one of the report's numbers: an amount ("-12.50") or a percentage ("41.8").
fn is_number(text: &str) -> bool {
    let digits = text.strip_prefix('-').unwrap_or(text);
    match digits.split_once('.') {
        Some((whole, fraction)) => {
            !whole.is_empty() && whole.bytes().all(|b| b.is_ascii_digit()) && (1..=2).contains(&fraction.len()) && fraction.bytes().all(|b| b.is_ascii_digit())
        }
        None => false,
    }
}

/// The fields that name an element of a list, in the order they are looked for.
const ID_FIELDS: [&str; 6] = ["key", "segment", "month", "provider", "expires_on", "until"];

struct Flattener {
    dialect: CsvDialect,
    month: String,
    rows: Vec<[String; 7]>,
}

impl Flattener {
    fn value(&self, value: &Value) -> String {
        match value {
            Value::Null => String::new(),
            Value::Bool(b) => b.to_string(),
            Value::Number(n) => n.to_string(),
            Value::String(s) if is_number(s) => match self.dialect {
                CsvDialect::Standard => s.clone(),
                CsvDialect::Nl => s.replace('.', ","),
            },
            Value::String(s) => as_text(s),
            other => as_text(&other.to_string()),
        }
    }

    fn push(&mut self, section: &str, group: &str, key: &str, label: &str, measure: &str, value: &Value) {
        let value = self.value(value);
        self.rows.push([self.month.clone(), section.into(), group.into(), as_text(key), as_text(label), measure.into(), value]);
    }

    /// Walks one section: objects by their field names (into `group`, then `measure`), lists of
    /// rows by the field that names each row.
    fn walk(&mut self, section: &str, group: &str, key: &str, label: &str, measure: &str, value: &Value) {
        let join = |a: &str, b: &str| if a.is_empty() { b.to_string() } else { format!("{a}.{b}") };
        match value {
            Value::Object(fields) => {
                for (name, field) in fields {
                    // A list or an object directly in a section names the group; deeper, the measure.
                    let nested = matches!(field, Value::Array(_)) || (matches!(field, Value::Object(_)) && key.is_empty() && group.is_empty());
                    if nested && measure.is_empty() {
                        self.walk(section, &join(group, name), key, label, "", field);
                    } else {
                        self.walk(section, group, key, label, &join(measure, name), field);
                    }
                }
            }
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    let id = ID_FIELDS
                        .iter()
                        .find_map(|f| item.get(f).and_then(Value::as_str))
                        .map_or_else(|| (i + 1).to_string(), str::to_string);
                    let row_label = item.get("label").and_then(Value::as_str).unwrap_or("");
                    match item {
                        Value::Object(fields) => {
                            for (name, field) in fields.iter().filter(|(n, _)| !ID_FIELDS.contains(&n.as_str()) && *n != "label") {
                                self.walk(section, group, &id, row_label, name, field);
                            }
                        }
                        other => self.push(section, group, &id, row_label, measure, other),
                    }
                }
            }
            scalar => self.push(section, group, key, label, measure, scalar),
        }
    }
}

/// The report as CSV, every section of the JSON report.
pub fn render(report: &MonthlyReport, dialect: CsvDialect) -> Result<String, csv::Error> {
    let terminator = match dialect {
        CsvDialect::Standard => csv::Terminator::Any(b'\n'),
        CsvDialect::Nl => csv::Terminator::CRLF,
    };
    let mut out = Vec::new();
    if dialect == CsvDialect::Nl {
        out.extend_from_slice("\u{feff}".as_bytes());
    }
    let mut writer = csv::WriterBuilder::new().delimiter(b';').terminator(terminator).from_writer(out);
    writer.write_record(if dialect == CsvDialect::Nl { HEADER_NL } else { HEADER })?;
    let json = serde_json::to_value(report).map_err(|e| csv::Error::from(std::io::Error::other(e)))?;
    let mut flat = Flattener { dialect, month: report.month.clone(), rows: Vec::new() };
    if let Value::Object(sections) = &json {
        for (section, value) in sections.iter().filter(|(k, _)| k.as_str() != "month") {
            flat.walk(section, "", "", "", "", value);
        }
    }
    for row in &flat.rows {
        writer.write_record(row)?;
    }
    let bytes = writer.into_inner().map_err(|e| csv::Error::from(e.into_error()))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

#[cfg(test)]
mod tests {
    use super::{as_text, is_number};

    #[test]
    fn labels_never_become_formulas() {
        assert_eq!(as_text("=HYPERLINK(\"http://x\")"), "'=HYPERLINK(\"http://x\")");
        assert_eq!(as_text("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(as_text("-1+1"), "'-1+1");
        assert_eq!(as_text("Metaal BV"), "Metaal BV");
    }

    #[test]
    fn amounts_and_percentages_are_numbers() {
        assert!(is_number("250.00") && is_number("-12.50") && is_number("41.8"));
        assert!(!is_number("2026-11") && !is_number("1.2.3") && !is_number("abc") && !is_number(".5") && !is_number("5."));
    }
}
