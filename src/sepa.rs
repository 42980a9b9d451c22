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

/// What a bank's `pain.002` status report says of a payment file: the message it answers, the
/// status of the whole group, and the status (with the reason code) of single transactions.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct StatusReport {
    /// The report's own message id.
    pub message_id: String,
    /// `OrgnlMsgId`: the `MsgId` of the pain.001 it answers.
    pub original_message_id: String,
    /// `GrpSts` (e.g. ACCP, ACSC, PART, RJCT), if given.
    pub group_status: Option<String>,
    pub transactions: Vec<TransactionStatus>,
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct TransactionStatus {
    pub end_to_end_id: String,
    /// `TxSts`, e.g. ACSC or RJCT.
    pub status: String,
    /// `StsRsnInf/Rsn/Cd`, e.g. AC01 (wrong account number).
    pub reason: Option<String>,
}

/// Reads a `pain.002` (any `pain.002.001.*` version: elements are matched by their local names
/// on their path). Structure errors are returned as text a person can act on.
pub fn parse_pain_002(xml: &str) -> Result<StatusReport, String> {
    use quick_xml::events::Event as XmlEvent;
    let mut reader = quick_xml::Reader::from_str(xml);
    reader.config_mut().trim_text(true);
    let mut path: Vec<String> = Vec::new();
    let mut report = StatusReport::default();
    let mut current: Option<TransactionStatus> = None;
    let mut root_seen = false;
    loop {
        match reader.read_event().map_err(|e| format!("not well-formed XML: {e}"))? {
            XmlEvent::Start(e) => {
                let name = e.local_name().as_ref().to_string();
                if path.is_empty() {
                    root_seen = name == "Document";
                }
                if name == "TxInfAndSts" {
                    current = Some(TransactionStatus::default());
                }
                path.push(name);
            }
            // Every end pops the path (in the guard); the end of a transaction also files it.
            XmlEvent::End(_) if path.pop().as_deref() == Some("TxInfAndSts") => {
                let tx = current.take().unwrap_or_default();
                if tx.end_to_end_id.is_empty() || tx.status.is_empty() {
                    return Err("a TxInfAndSts lacks its OrgnlEndToEndId or TxSts".into());
                }
                report.transactions.push(tx);
            }
            XmlEvent::Text(t) => {
                let text = t.xml10_content().trim().to_string();
                let tail: Vec<&str> = path.iter().rev().take(3).map(String::as_str).collect();
                match (tail.as_slice(), current.as_mut()) {
                    (["MsgId", "GrpHdr", ..], _) => report.message_id = text,
                    (["OrgnlMsgId", "OrgnlGrpInfAndSts", ..], _) => report.original_message_id = text,
                    (["GrpSts", "OrgnlGrpInfAndSts", ..], _) => report.group_status = Some(text),
                    (["OrgnlEndToEndId", ..], Some(tx)) => tx.end_to_end_id = text,
                    (["TxSts", ..], Some(tx)) => tx.status = text,
                    (["Cd", "Rsn", "StsRsnInf"], Some(tx)) => tx.reason = Some(text),
                    _ => {}
                }
            }
            XmlEvent::Eof => break,
            _ => {}
        }
    }
    let namespace_ok = xml.contains("urn:iso:std:iso:20022:tech:xsd:pain.002.001.");
    if !root_seen || !namespace_ok {
        return Err("not an ISO 20022 pain.002 document (Document in a pain.002.001.* namespace)".into());
    }
    if report.original_message_id.is_empty() {
        return Err("OrgnlGrpInfAndSts/OrgnlMsgId is missing".into());
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_report_is_read_by_its_paths() {
        let xml = r#"<?xml version="1.0"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.002.001.12"><CstmrPmtStsRpt>
<GrpHdr><MsgId>BANK-1</MsgId><CreDtTm>2026-12-01T08:00:00</CreDtTm></GrpHdr>
<OrgnlGrpInfAndSts><OrgnlMsgId>abc</OrgnlMsgId><OrgnlMsgNmId>pain.001.001.09</OrgnlMsgNmId><GrpSts>PART</GrpSts></OrgnlGrpInfAndSts>
<OrgnlPmtInfAndSts><OrgnlPmtInfId>abc</OrgnlPmtInfId>
<TxInfAndSts><OrgnlEndToEndId>e2e1</OrgnlEndToEndId><TxSts>RJCT</TxSts><StsRsnInf><Rsn><Cd>AC01</Cd></Rsn></StsRsnInf></TxInfAndSts>
</OrgnlPmtInfAndSts></CstmrPmtStsRpt></Document>"#;
        let report = parse_pain_002(xml).expect("parses");
        assert_eq!((report.message_id.as_str(), report.original_message_id.as_str(), report.group_status.as_deref()), ("BANK-1", "abc", Some("PART")));
        assert_eq!(report.transactions, vec![TransactionStatus { end_to_end_id: "e2e1".into(), status: "RJCT".into(), reason: Some("AC01".into()) }]);
        assert!(parse_pain_002("<Document><x/></Document>").is_err());
        assert!(parse_pain_002("<Document").is_err());
    }
}
