//! Bad input: a 4xx problem a person can act on, and nothing changes.

use serde_json::json;

use crate::helpers::TestApp;
use crate::on_both_backends;

async fn amounts_must_be_exact_decimal_strings(app: TestApp) {
    let fund = app.create_fund("oom").await;
    let scheme = app.standard_scheme(&fund).await;
    let employer = app.create_employer(&fund, "12345678").await;
    let worker = app.create_worker(&fund, &employer, "P-1").await;
    let path = format!("/v1/funds/{}/grants", fund.id);
    for amount in [
        json!(250),
        json!(250.5),
        json!("-5.00"),
        json!("0.00"),
        json!("0"),
        json!("1.005"),
        json!("1e3"),
        json!("1,50"),
        json!(" 5.00"),
        json!("+5"),
        json!("1000000.01"),
        json!("99999999999999999999999999"),
        json!("NaN"),
    ] {
        let body = json!({"worker_id": worker, "scheme_id": scheme, "amount": amount, "grant_year": 2026});
        let reply = app.post(&path, &fund.admin, &body).await;
        assert_eq!(reply.status.as_u16(), 400, "amount {amount} answered {:?}", reply.body);
        assert_eq!(reply.content_type, "application/problem+json");
        assert!(reply.body["detail"].as_str().is_some_and(|d| d.contains("amount") || d.contains("zero") || d.contains("1000000.00") || d.contains("decimal")), "{}", reply.body);
    }
    // The largest amount accepted parses (and is capped by the scheme, which is fine).
    app.grant(&fund, &worker, &scheme, "1000000.00", 2026).await.expect(201);
    let budget = app.budget(&fund, &worker).await;
    assert_eq!(budget["accounts"][0]["available"], "2250.00");
    assert_eq!(budget["accounts"][0]["lots"].as_array().map(Vec::len), Some(1), "refused amounts booked nothing");
}

async fn malformed_requests_are_400_and_change_nothing(app: TestApp) {
    let fund = app.create_fund("oom").await;
    let path = format!("/v1/funds/{}/employers", fund.id);
    app.post_raw(&path, &fund.admin, "application/json", b"{\"kvk_number\": ".to_vec()).await.expect_problem(400, "malformed_json");
    app.post_raw(&path, &fund.admin, "application/json", b"[1,2,3]".to_vec()).await.expect_problem(400, "invalid_body");
    app.post_raw(&path, &fund.admin, "text/plain", b"{}".to_vec()).await.expect_problem(415, "unsupported_media_type");
    let unknown = json!({"kvk_number": "12345678", "name": "A", "sector": "metaal", "bsn": "123456782"});
    let reply = app.post(&path, &fund.admin, &unknown).await.expect_problem(400, "invalid_body");
    assert!(reply.body["detail"].as_str().is_some_and(|d| d.contains("bsn")), "names the unknown field: {}", reply.body);
    app.post(&path, &fund.admin, &json!({"kvk_number": 12345678, "name": "A", "sector": "metaal"})).await.expect_problem(400, "invalid_body");
    app.post(&path, &fund.admin, &json!({"name": "A", "sector": "metaal"})).await.expect_problem(400, "invalid_body");
    let reply = app.post(&path, &fund.admin, &json!({"kvk_number": "1234", "name": "A", "sector": "metaal"})).await;
    assert_eq!(reply.expect_problem(422, "invalid_field").body["field"], "kvk_number");
    app.post(&path, &fund.admin, &json!({"kvk_number": "12345678", "name": "", "sector": "metaal"})).await.expect_problem(422, "invalid_field");

    let mut scheme = crate::helpers::standard_scheme_body("ptt");
    scheme["effective_from"] = json!("2026-13-01");
    app.post(&format!("/v1/funds/{}/schemes", fund.id), &fund.admin, &scheme).await.expect_problem(400, "invalid_body");
    let mut scheme = crate::helpers::standard_scheme_body("ptt");
    scheme["funding_pct"] = json!(150);
    app.post(&format!("/v1/funds/{}/schemes", fund.id), &fund.admin, &scheme).await.expect_problem(422, "invalid_field");

    let big = vec![b' '; ptt_ledger::http::common::MAX_BODY_BYTES + 10];
    app.post_raw(&path, &fund.admin, "application/json", big).await.expect_problem(413, "body_too_large");

    app.get(&format!("/v1/funds/{}/workers?limit=0", fund.id), &fund.admin).await.expect_problem(400, "invalid_limit");
    app.get(&format!("/v1/funds/{}/workers?after=xyz", fund.id), &fund.admin).await.expect_problem(400, "invalid_cursor");
    app.get(&format!("/v1/funds/{}/workers?colour=red", fund.id), &fund.admin).await.expect_problem(400, "invalid_query");
    app.get(&format!("/v1/funds/{}/workers/not-a-uuid", fund.id), &fund.admin).await.expect_problem(404, "not_found");
    app.get(&format!("/v1/funds/{}/ledger/digest?at=yesterday", fund.id), &fund.admin).await.expect_problem(400, "invalid_query");

    let list = app.get(&path, &fund.admin).await.expect(200);
    assert_eq!(list.body["items"].as_array().map(Vec::len), Some(0), "nothing was created");
    let schemes = app.get(&format!("/v1/funds/{}/schemes", fund.id), &fund.admin).await.expect(200);
    assert_eq!(schemes.body["items"].as_array().map(Vec::len), Some(0), "nothing was created");
}

/// A whole number written with a zero fraction (`1980.0`) is that integer, as JSON Schema counts
/// it; any other fraction where an integer is meant is 400.
async fn integers_may_be_written_with_a_zero_fraction(app: TestApp) {
    let fund = app.create_fund("ints").await;
    let employer = app.create_employer(&fund, "12345678").await;
    let path = format!("/v1/funds/{}/workers", fund.id);
    let whole = app.post(&path, &fund.admin, &json!({"participant_number": "I-1", "employer_id": employer, "birth_year": 1980.0})).await;
    assert_eq!(whole.expect(201).body["birth_year"], 1980);
    app.post(&path, &fund.admin, &json!({"participant_number": "I-2", "employer_id": employer, "birth_year": 1980.5}))
        .await
        .expect_problem(400, "invalid_body");
}

on_both_backends!(
    amounts_must_be_exact_decimal_strings,
    malformed_requests_are_400_and_change_nothing,
    integers_may_be_written_with_a_zero_fraction
);
