//! SEPA files: the ISO 20022 `pain.001.001.09` credit transfer initiation of a payment batch,
//! written with an XML writer (escaping is its job, not ours) and valid against the official
//! schema (checked in the tests with `xmllint --schema`).

use std::io;

use chrono::NaiveDateTime;
use quick_xml::events::{BytesDecl, BytesText, Event};
use quick_xml::writer::Writer;

use crate::db::payments::{BatchRow, ItemRow};
use crate::domain::format_cents;
use crate::domain::payments::sepa_text;

pub const PAIN_001_NAMESPACE: &str = "urn:iso:std:iso:20022:tech:xsd:pain.001.001.09";

/// ISO 20022 allows 140 characters of remittance text; the EPC's SEPA implementation guidelines
/// allow party names of 70 (banks that check them refuse longer ones).
const MAX_140: usize = 140;
const MAX_NAME: usize = 70;

fn text<W: io::Write>(w: &mut Writer<W>, name: &str, value: &str) -> io::Result<()> {
    w.create_element(name).write_text_content(BytesText::new(value)).map(|_| ())
}

/// `<Nm>` inside `party`, the party of a payment (initiator, debtor, creditor).
fn party<W: io::Write>(w: &mut Writer<W>, element: &str, name: &str) -> io::Result<()> {
    w.create_element(element).write_inner_content(|w| text(w, "Nm", &sepa_text(name, MAX_NAME))).map(|_| ())
}

fn account<W: io::Write>(w: &mut Writer<W>, element: &str, iban: &str) -> io::Result<()> {
    w.create_element(element)
        .write_inner_content(|w| w.create_element("Id").write_inner_content(|w| text(w, "IBAN", iban)).map(|_| ()))
        .map(|_| ())
}

/// The debtor's bank: its BIC, or `NOTPROVIDED` (SEPA banks find it from the IBAN).
fn debtor_agent<W: io::Write>(w: &mut Writer<W>, bic: Option<&str>) -> io::Result<()> {
    w.create_element("DbtrAgt")
        .write_inner_content(|w| {
            w.create_element("FinInstnId")
                .write_inner_content(|w| match bic {
                    Some(bic) => text(w, "BICFI", bic),
                    None => w.create_element("Othr").write_inner_content(|w| text(w, "Id", "NOTPROVIDED")).map(|_| ()),
                })
                .map(|_| ())
        })
        .map(|_| ())
}

/// The batch as a `pain.001.001.09` document: one payment information block (the fund's
/// account, the execution date) with one credit transfer per claim, `NbOfTxs` and `CtrlSum`
/// from the items themselves.
pub fn pain_001(batch: &BatchRow, items: &[ItemRow], created: NaiveDateTime) -> io::Result<String> {
    let count = items.len().to_string();
    let total = format_cents(items.iter().map(|i| i.amount_cents).sum());
    let message_id = batch.id.0.simple().to_string();
    let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    w.create_element("Document").with_attribute(("xmlns", PAIN_001_NAMESPACE)).write_inner_content(|w| {
        w.create_element("CstmrCdtTrfInitn")
            .write_inner_content(|w| {
                w.create_element("GrpHdr").write_inner_content(|w| {
                    text(w, "MsgId", &message_id)?;
                    text(w, "CreDtTm", &created.format("%Y-%m-%dT%H:%M:%S").to_string())?;
                    text(w, "NbOfTxs", &count)?;
                    text(w, "CtrlSum", &total)?;
                    party(w, "InitgPty", &batch.debtor_name)
                })?;
                w.create_element("PmtInf").write_inner_content(|w| {
                    text(w, "PmtInfId", &message_id)?;
                    text(w, "PmtMtd", "TRF")?;
                    text(w, "NbOfTxs", &count)?;
                    text(w, "CtrlSum", &total)?;
                    w.create_element("PmtTpInf")
                        .write_inner_content(|w| w.create_element("SvcLvl").write_inner_content(|w| text(w, "Cd", "SEPA")).map(|_| ()))?;
                    w.create_element("ReqdExctnDt").write_inner_content(|w| text(w, "Dt", &batch.execution_date.to_string()))?;
                    party(w, "Dbtr", &batch.debtor_name)?;
                    account(w, "DbtrAcct", &batch.debtor_iban)?;
                    debtor_agent(w, batch.debtor_bic.as_deref())?;
                    text(w, "ChrgBr", "SLEV")?;
                    for item in items {
                        w.create_element("CdtTrfTxInf").write_inner_content(|w| {
                            w.create_element("PmtId").write_inner_content(|w| text(w, "EndToEndId", &item.end_to_end_id))?;
                            w.create_element("Amt").write_inner_content(|w| {
                                w.create_element("InstdAmt")
                                    .with_attribute(("Ccy", "EUR"))
                                    .write_text_content(BytesText::new(&format_cents(item.amount_cents)))
                                    .map(|_| ())
                            })?;
                            party(w, "Cdtr", &item.creditor_name)?;
                            account(w, "CdtrAcct", &item.creditor_iban)?;
                            w.create_element("RmtInf").write_inner_content(|w| text(w, "Ustrd", &sepa_text(&item.remittance, MAX_140)))?;
                            Ok(())
                        })?;
                    }
                    Ok(())
                })?;
                Ok(())
            })
            .map(|_| ())
    })?;
    let mut xml = String::from_utf8(w.into_inner()).map_err(io::Error::other)?;
    xml.push('\n');
    Ok(xml)
}
