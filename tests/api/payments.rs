//! Paying claims: the fund's payment settings, payment batches, the pain.001 file against the
//! ISO 20022 schema, confirm and cancel, and claims held by an open batch.

use ptt_ledger::auth::Role;
use serde_json::{json, Value};

use crate::helpers::{cents, claim_body, standard_scheme_body, today_text, Fund, Funded, Reply, TestApp};
use crate::on_both_backends;

const XSD: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/iso20022/pain.001.001.09.xsd");

async fn patch(app: &TestApp, path: &str, token: &str, body: &Value) -> Reply {
    app.send(reqwest::Method::PATCH, path, Some(token), Some(body)).await
}

/// Validates a pain.001 document with `xmllint --schema` against the official schema. Without
/// xmllint (libxml2-utils) the check is skipped locally and fails in CI.
pub fn assert_valid_pain_001(xml: &str) {
    let path = std::env::temp_dir().join(format!("pain001-{}.xml", uuid::Uuid::new_v4()));
    std::fs::write(&path, xml).unwrap();
    match std::process::Command::new("xmllint").args(["--noout", "--schema", XSD]).arg(&path).output() {
        Ok(out) => assert!(out.status.success(), "pain.001 invalid:\n{}\n{xml}", String::from_utf8_lossy(&out.stderr)),
        Err(e) if std::env::var("CI").is_err() => eprintln!("xmllint not available ({e}): pain.001 schema check skipped"),
        Err(e) => panic!("xmllint is needed in CI (apt-get install libxml2-utils): {e}"),
    }
    std::fs::remove_file(&path).ok();
}

/// The text of the first `<name>` element.
fn element<'a>(xml: &'a str, name: &str) -> &'a str {
    let open = format!("<{name}>");
    let start = xml.find(&open).unwrap_or_else(|| panic!("no <{name}> in {xml}")) + open.len();
    &xml[start..start + xml[start..].find('<').unwrap()]
}

async fn pay_settings(app: &TestApp, fund: &Fund) {
    let body = json!({"legal_name": "Stichting O&O Metaal <Fonds>", "iban": "nl91 abna 0417 1643 00", "bic": "abnanl2a"});
    let view = patch(app, &format!("/v1/funds/{}", fund.id), &fund.admin, &body).await.expect(200).body;
    assert_eq!((view["iban"].as_str(), view["bic"].as_str()), (Some("NL91ABNA0417164300"), Some("ABNANL2A")));
}

/// A fund with settings, and three employers' workers with approved claims: two employers with
/// an IBAN, one without.
pub async fn payable(app: &TestApp) -> (Funded, Vec<String>, String) {
    let f = app.funded_worker(standard_scheme_body("ptt"), "750.00").await;
    pay_settings(app, &f.fund).await;
    let employers = format!("/v1/funds/{}/employers", f.fund.id);
    patch(app, &format!("{employers}/{}", f.employer), &f.fund.admin, &json!({"iban": "DE89370400440532013000", "name": "Lasbedrijf & Zn."})).await.expect(200);
    let b = app.create_employer(&f.fund, "22222222").await;
    patch(app, &format!("{employers}/{b}"), &f.fund.admin, &json!({"iban": "BE68539007547034"})).await.expect(200);
    let c = app.create_employer(&f.fund, "33333333").await;
    let mut paid = Vec::new();
    paid.push(app.claim(&f.fund, &f.fund.admin, &claim_body(&f, "120.50", "INV-A")).await.expect(201).id());
    let mut skipped = String::new();
    for (employer, number, amount, invoice) in [(b.clone(), "P-B", "80.25", "INV-B"), (c, "P-C", "10.00", "INV-C")] {
        let worker = app.create_worker(&f.fund, &employer, number).await;
        app.grant(&f.fund, &worker, &f.scheme, "500.00", crate::helpers::this_year()).await.expect(201);
        let other = Funded { fund: f.fund.clone(), scheme: f.scheme.clone(), employer: employer.clone(), worker };
        let id = app.claim(&f.fund, &f.fund.admin, &claim_body(&other, amount, invoice)).await.expect(201).id();
        if invoice == "INV-C" { skipped = id } else { paid.push(id) }
    }
    // A rejected claim is never paid.
    app.claim(&f.fund, &f.fund.admin, &claim_body(&f, "5000.00", "INV-BIG")).await.expect(201);
    (f, paid, skipped)
}

async fn a_batch_pays_approved_claims_through_a_valid_pain_001(app: TestApp) {
    let (f, paid, skipped) = payable(&app).await;
    let base = format!("/v1/funds/{}/payment-batches", f.fund.id);
    let today = today_text(&app);
    let made = app.post(&base, &f.fund.admin, &json!({"execution_date": today})).await.expect(201);
    let batch = made.body.clone();
    assert_eq!((batch["status"].as_str(), batch["transaction_count"].as_i64(), batch["total"].as_str()), (Some("open"), Some(2), Some("200.75")));
    assert_eq!(batch["skipped"], json!([{"claim_id": skipped, "reason": "payee_iban_missing"}]));
    let id = batch["id"].as_str().unwrap().to_string();

    let response = app.client.get(format!("{}{base}/{id}/pain.001", app.address)).bearer_auth(&f.fund.admin).send().await.unwrap();
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("application/xml"));
    let xml = response.text().await.unwrap();
    assert_valid_pain_001(&xml);
    assert_eq!((element(&xml, "NbOfTxs"), element(&xml, "CtrlSum")), ("2", "200.75"));
    assert!(xml.contains("<InstdAmt Ccy=\"EUR\">120.50</InstdAmt>") && xml.contains("<InstdAmt Ccy=\"EUR\">80.25</InstdAmt>"), "{xml}");
    assert!(xml.contains("<IBAN>NL91ABNA0417164300</IBAN>") && xml.contains("<IBAN>DE89370400440532013000</IBAN>"));
    assert!(xml.contains("<Nm>Lasbedrijf + Zn.</Nm>") && xml.contains("<Nm>Stichting O+O Metaal Fonds</Nm>"), "SEPA characters only: {xml}");
    assert!(xml.contains("<Ustrd>Factuur INV-A PTT</Ustrd>"));
    assert_eq!(element(&xml, "EndToEndId").len(), 32);
    assert_eq!(app.client.get(format!("{}{base}/{id}/pain.001", app.address)).bearer_auth(&f.fund.admin).send().await.unwrap().text().await.unwrap(), xml, "the same file every time");

    // While the batch is open its claims are neither in another batch, nor paid by hand, nor reversed.
    let again = app.post(&base, &f.fund.admin, &json!({"execution_date": today})).await.expect_problem(409, "nothing_to_pay");
    assert_eq!(again.body["skipped"][0]["claim_id"], skipped.as_str());
    let claims = format!("/v1/funds/{}/claims", f.fund.id);
    app.post(&format!("{claims}/{}/pay", paid[0]), &f.fund.admin, &json!({"payment_reference": "X"})).await.expect_problem(409, "in_payment_batch");
    app.post(&format!("{claims}/{}/reverse", paid[0]), &f.fund.admin, &json!({"reason": "x"})).await.expect_problem(409, "in_payment_batch");

    // Cancelled: the claims are free again, and the next batch takes them.
    assert_eq!(app.post(&format!("{base}/{id}/cancel"), &f.fund.admin, &json!({})).await.expect(200).body["status"], "cancelled");
    // Its file is no longer given out: sent by mistake it would pay claims of the next batch twice.
    app.get(&format!("{base}/{id}/pain.001"), &f.fund.admin).await.expect_problem(409, "invalid_state");
    app.post(&format!("{base}/{id}/confirm"), &f.fund.admin, &json!({"bank_reference": "B-1"})).await.expect_problem(409, "invalid_state");
    let next = app.post(&base, &f.fund.admin, &json!({"execution_date": today})).await.expect(201).body;
    let next_id = next["id"].as_str().unwrap().to_string();
    assert_eq!(next["transaction_count"], 2);
    let listed = app.get(&base, &f.fund.admin).await.expect(200).body;
    assert_eq!(listed["items"][0]["id"], next_id.as_str());
    assert_eq!(listed["items"][1]["status"], "cancelled");

    let confirmed = app.post(&format!("{base}/{next_id}/confirm"), &f.fund.admin, &json!({"bank_reference": "ABN-2026-11-30"})).await.expect(200).body;
    assert_eq!((confirmed["status"].as_str(), confirmed["bank_reference"].as_str()), (Some("confirmed"), Some("ABN-2026-11-30")));
    for claim in &paid {
        let view = app.get(&format!("{claims}/{claim}"), &f.fund.admin).await.expect(200).body;
        assert_eq!(view["status"], "paid");
        assert!(view["payment_reference"].as_str().unwrap().starts_with("ABN-2026-11-30/"), "{view}");
    }
    app.post(&format!("{base}/{next_id}/confirm"), &f.fund.admin, &json!({"bank_reference": "again"})).await.expect_problem(409, "invalid_state");
    let month = app.today().format("%Y-%m").to_string();
    let report = app.get(&format!("/v1/funds/{}/reports/monthly?month={month}", f.fund.id), &f.fund.admin).await.expect(200).body;
    assert_eq!(
        (report["payments"]["paid_month_claims"].as_i64(), report["payments"]["paid_month"].as_str(), report["payments"]["approved_unpaid"].as_str()),
        (Some(2), Some("200.75"), Some("10.00")),
        "the skipped claim is still approved and unpaid"
    );
    app.post(&format!("{base}/{next_id}/cancel"), &f.fund.admin, &json!({})).await.expect_problem(409, "invalid_state");
    // A paid claim may still be reversed (a refund); it is in no open batch.
    app.post(&format!("{claims}/{}/reverse", paid[1]), &f.fund.admin, &json!({"reason": "cursus geannuleerd"})).await.expect(200);
    assert_eq!(app.verify(&f.fund).await["ok"], true);
    let mut seen = false;
    for _ in 0..50 {
        let page = app.get(&format!("/v1/funds/{}/events?types=payment_batch.confirmed", f.fund.id), &f.fund.admin).await.expect(200).body;
        if let Some(event) = page["items"].as_array().and_then(|i| i.first()) {
            assert_eq!((event["data"]["id"].as_str(), cents(&event["data"]["total"])), (Some(next_id.as_str()), 20075));
            seen = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(seen, "payment_batch.confirmed in the feed");
}

async fn batches_need_settings_a_date_and_the_back_office(app: TestApp) {
    let f = app.funded_worker(standard_scheme_body("ptt"), "750.00").await;
    let base = format!("/v1/funds/{}/payment-batches", f.fund.id);
    let today = app.today();
    app.post(&base, &f.fund.admin, &json!({"execution_date": today.to_string()})).await.expect_problem(409, "payment_settings_missing");
    pay_settings(&app, &f.fund).await;
    app.post(&base, &f.fund.admin, &json!({"execution_date": today.to_string()})).await.expect_problem(409, "nothing_to_pay");
    let yesterday = (today - chrono::Duration::days(1)).to_string();
    app.post(&base, &f.fund.admin, &json!({"execution_date": yesterday})).await.expect_problem(422, "invalid_field");
    app.post(&base, &f.fund.admin, &json!({"execution_date": "2026-02-30"})).await.expect_problem(400, "invalid_body");
    let employer = app.token(Role::Employer, Some(&f.fund.id), Some(&f.employer), None);
    app.post(&base, &employer, &json!({"execution_date": today.to_string()})).await.expect_problem(403, "forbidden");
    app.get(&base, &employer).await.expect_problem(403, "forbidden");
    let other = app.create_fund("pmgm").await;
    app.get(&base, &other.admin).await.expect_problem(404, "not_found");
    let fund_path = format!("/v1/funds/{}", f.fund.id);
    for bad in [json!({"iban": "NL92ABNA0417164300"}), json!({"bic": "ABNA"}), json!({"legal_name": ""}), json!({"name": "x"})] {
        let reply = patch(&app, &fund_path, &f.fund.admin, &bad).await;
        assert!(matches!(reply.status.as_u16(), 400 | 422), "{bad}: {}", reply.body);
    }
    patch(&app, &fund_path, &employer, &json!({"bic": null})).await.expect_problem(403, "forbidden");
    let cleared = patch(&app, &fund_path, &f.fund.admin, &json!({"bic": null})).await.expect(200).body;
    assert_eq!((cleared["bic"].clone(), cleared["iban"].as_str()), (Value::Null, Some("NL91ABNA0417164300")));
    app.get(&format!("{base}/01a22154-0c1c-7438-81c0-f3ad5b27b749"), &f.fund.admin).await.expect_problem(404, "not_found");
}

async fn racing_confirms_pay_each_claim_once(app: TestApp) {
    let (f, paid, _) = payable(&app).await;
    let base = format!("/v1/funds/{}/payment-batches", f.fund.id);
    let id = app.post(&base, &f.fund.admin, &json!({"execution_date": today_text(&app)})).await.expect(201).id();
    let confirms = (0..6).map(|i| {
        let (app, path, token) = (&app, format!("{base}/{id}/confirm"), f.fund.admin.clone());
        async move { app.post(&path, &token, &json!({"bank_reference": format!("R-{i}")})).await }
    });
    let replies = futures_util::future::join_all(confirms).await;
    let ok = replies.iter().filter(|r| r.status.as_u16() == 200).count();
    assert_eq!(ok, 1, "exactly one confirm wins: {:?}", replies.iter().map(|r| r.status).collect::<Vec<_>>());
    assert!(replies.iter().all(|r| matches!(r.status.as_u16(), 200 | 409)));
    for claim in &paid {
        let view = app.get(&format!("/v1/funds/{}/claims/{claim}", f.fund.id), &f.fund.admin).await.expect(200).body;
        assert_eq!(view["status"], "paid");
    }
    assert_eq!(app.verify(&f.fund).await["ok"], true);
}

/// A bank's pain.002 reply: `PART`, with one transfer refused for a wrong account (AC01).
fn pain_002(original: &str, refused: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.002.001.12">
  <CstmrPmtStsRpt>
    <GrpHdr><MsgId>ABN-STS-0001</MsgId><CreDtTm>2026-12-01T07:30:00</CreDtTm></GrpHdr>
    <OrgnlGrpInfAndSts><OrgnlMsgId>{original}</OrgnlMsgId><OrgnlMsgNmId>pain.001.001.09</OrgnlMsgNmId><GrpSts>PART</GrpSts></OrgnlGrpInfAndSts>
    <OrgnlPmtInfAndSts>
      <OrgnlPmtInfId>{original}</OrgnlPmtInfId>
      <TxInfAndSts>
        <OrgnlEndToEndId>{refused}</OrgnlEndToEndId>
        <TxSts>RJCT</TxSts>
        <StsRsnInf><Rsn><Cd>AC01</Cd></Rsn></StsRsnInf>
      </TxInfAndSts>
    </OrgnlPmtInfAndSts>
  </CstmrPmtStsRpt>
</Document>
"#
    )
}

async fn a_status_report_pays_accepted_and_returns_refused_transfers(app: TestApp) {
    let (f, paid, _) = payable(&app).await;
    let base = format!("/v1/funds/{}/payment-batches", f.fund.id);
    let id = app.post(&base, &f.fund.admin, &json!({"execution_date": today_text(&app)})).await.expect(201).id();
    let message_id = id.replace('-', "");
    let refused_e2e = paid[1].replace('-', "");
    let report = pain_002(&message_id, &refused_e2e);
    // The reply as a bank sends it is valid against ISO 20022's schema.
    let path = std::env::temp_dir().join(format!("pain002-{}.xml", uuid::Uuid::new_v4()));
    std::fs::write(&path, &report).unwrap();
    let xsd = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/iso20022/pain.002.001.12.xsd");
    if let Ok(out) = std::process::Command::new("xmllint").args(["--noout", "--schema", xsd]).arg(&path).output() {
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    std::fs::remove_file(&path).ok();

    let url = format!("{base}/{id}/status-report");
    app.post_raw(&url, &f.fund.admin, "application/json", b"{}".to_vec()).await.expect_problem(415, "unsupported_media_type");
    app.post_raw(&url, &f.fund.admin, "application/xml", b"<Document".to_vec()).await.expect_problem(422, "status_report_invalid");
    app.post_raw(&url, &f.fund.admin, "application/xml", pain_002("someothermessage", &refused_e2e).into_bytes()).await.expect_problem(422, "status_report_invalid");
    app.post_raw(&url, &f.fund.admin, "application/xml", pain_002(&message_id, "notinthisbatch").into_bytes()).await.expect_problem(422, "status_report_invalid");
    let employer = app.token(Role::Employer, Some(&f.fund.id), Some(&f.employer), None);
    app.post_raw(&url, &employer, "application/xml", report.clone().into_bytes()).await.expect_problem(403, "forbidden");

    let answer = app.post_raw(&url, &f.fund.admin, "application/xml", report.clone().into_bytes()).await.expect(200).body;
    assert_eq!((answer["status"].as_str(), answer["paid"].as_i64(), answer["returned"].as_i64()), (Some("confirmed"), Some(1), Some(1)));
    app.post_raw(&url, &f.fund.admin, "application/xml", report.into_bytes()).await.expect_problem(409, "invalid_state");
    let claims = format!("/v1/funds/{}/claims", f.fund.id);
    let first = app.get(&format!("{claims}/{}", paid[0]), &f.fund.admin).await.expect(200).body;
    assert_eq!((first["status"].as_str(), first["payment_reference"].as_str()), (Some("paid"), Some(format!("ABN-STS-0001/{}", paid[0].replace('-', ""))).as_deref()));
    let second = app.get(&format!("{claims}/{}", paid[1]), &f.fund.admin).await.expect(200).body;
    assert_eq!(second["status"], "approved", "refused by the bank: approved and unpaid again");
    let items = app.get(&format!("{base}/{id}"), &f.fund.admin).await.expect(200).body;
    let refused = items["items"].as_array().unwrap().iter().find(|i| i["claim_id"] == paid[1].as_str()).cloned().unwrap();
    assert_eq!((refused["returned"].as_bool(), refused["return_reason"].as_str()), (Some(true), Some("AC01")));
    // The next batch takes the refused claim again (after the employer's IBAN is corrected).
    let next = app.post(&base, &f.fund.admin, &json!({"execution_date": today_text(&app)})).await.expect(201).body;
    assert_eq!(next["transaction_count"], 1);
    assert_eq!(app.verify(&f.fund).await["ok"], true);
}

on_both_backends!(
    a_batch_pays_approved_claims_through_a_valid_pain_001,
    a_status_report_pays_accepted_and_returns_refused_transfers,
    batches_need_settings_a_date_and_the_back_office,
    racing_confirms_pay_each_claim_once
);
