//! The report as CSV: one row per breakdown cell, `;`-separated, UTF-8, with a header.
//! The `nl` dialect writes decimal commas for Dutch spreadsheets.

use serde::Deserialize;

use super::monthly::{Cell, MonthlyReport};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum CsvDialect {
    /// `;` between fields, `.` in numbers.
    #[default]
    Standard,
    /// `;` between fields, `,` in numbers.
    Nl,
}

pub const HEADER: [&str; 11] = [
    "month",
    "breakdown",
    "key",
    "label",
    "workers",
    "workers_spent_ytd",
    "workers_coached_ytd",
    "granted_ytd",
    "spent_ytd",
    "utilisation_ytd_pct",
    "suppressed",
];

/// A key or label (an employer's name, a sector) as text a spreadsheet shows, never runs: a cell that
/// starts with `=`, `+`, `-`, `@` or a control character would be read as a formula (OWASP's
/// CSV injection), so it gets a leading apostrophe.
fn as_text(label: &str) -> String {
    match label.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{label}"),
        _ => label.to_string(),
    }
}

/// The report as CSV. The `nl` dialect is what Excel in a Dutch locale opens as it is: a
/// byte-order mark (without it Excel reads UTF-8 as Windows-1252: "CafÃ©"), CRLF line ends,
/// decimal commas.
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
    writer.write_record(HEADER)?;
    let number = |text: Option<&String>| -> String {
        let text = text.cloned().unwrap_or_default();
        match dialect {
            CsvDialect::Standard => text,
            CsvDialect::Nl => text.replace('.', ","),
        }
    };
    let count = |n: Option<i64>| n.map(|n| n.to_string()).unwrap_or_default();
    let groups: [(&str, &Vec<Cell>); 5] = [
        ("scheme", &report.breakdowns.scheme),
        ("employer", &report.breakdowns.employer),
        ("sector", &report.breakdowns.sector),
        ("age_band", &report.breakdowns.age_band),
        ("education_level", &report.breakdowns.education_level),
    ];
    for (name, cells) in groups {
        for c in cells {
            writer.write_record([
                report.month.clone(),
                name.to_string(),
                as_text(&c.key),
                as_text(&c.label),
                count(c.workers),
                count(c.workers_spent_ytd),
                count(c.workers_coached_ytd),
                number(c.granted_ytd.as_ref()),
                number(c.spent_ytd.as_ref()),
                number(c.utilisation_ytd_pct.as_ref()),
                c.suppressed.to_string(),
            ])?;
        }
    }
    let bytes = writer.into_inner().map_err(|e| csv::Error::from(e.into_error()))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

#[cfg(test)]
mod tests {
    use super::as_text;

    #[test]
    fn labels_never_become_formulas() {
        assert_eq!(as_text("=HYPERLINK(\"http://x\")"), "'=HYPERLINK(\"http://x\")");
        assert_eq!(as_text("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(as_text("-1+1"), "'-1+1");
        assert_eq!(as_text("Metaal BV"), "Metaal BV");
    }
}
