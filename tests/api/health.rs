use crate::helpers::TestApp;
use crate::on_both_backends;

async fn health_and_readiness_answer(app: TestApp) {
    let reply = app.send(reqwest::Method::GET, "/healthz", None, None).await.expect(200);
    assert_eq!(reply.body["status"], "ok");
    let reply = app.send(reqwest::Method::GET, "/readyz", None, None).await.expect(200);
    assert_eq!(reply.body["status"], "ready");
}

async fn openapi_document_is_served_as_is(app: TestApp) {
    let response = app.client.get(format!("{}/openapi.yaml", app.address)).send().await.expect("sent");
    assert_eq!(response.status().as_u16(), 200);
    let text = response.text().await.expect("text");
    assert_eq!(text, std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.yaml")).expect("file"));
    assert!(text.starts_with("openapi: 3."));
}

async fn unknown_routes_and_methods_are_problems(app: TestApp) {
    let token = app.platform_admin();
    app.get("/v1/nothing-here", &token).await.expect_problem(404, "not_found");
    app.send(reqwest::Method::DELETE, "/v1/funds", Some(&token), None).await.expect_problem(405, "method_not_allowed");
}

on_both_backends!(health_and_readiness_answer, openapi_document_is_served_as_is, unknown_routes_and_methods_are_problems);

/// Every route in the route table is in openapi.yaml, and every documented path is routed.
#[test]
fn openapi_documents_every_route() {
    let routes = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/http/routes.rs")).expect("routes.rs");
    let openapi = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.yaml")).expect("openapi.yaml");
    let mut routed = Vec::new();
    for (marker, prefix) in [("resource(\"", "/v1"), ("root(\"", "")] {
        for piece in routes.split(marker).skip(1) {
            let path = piece.split('"').next().expect("path");
            routed.push(format!("{prefix}{path}"));
        }
    }
    let documented: Vec<String> = openapi
        .lines()
        .filter(|l| l.starts_with("  /") && l.ends_with(':'))
        .map(|l| l.trim().trim_end_matches(':').to_string())
        .collect();
    assert!(routed.len() > 10, "parsed only {routed:?}");
    for path in &routed {
        assert!(documented.contains(path), "{path} is routed but not in openapi.yaml");
    }
    for path in &documented {
        assert!(routed.contains(path), "{path} is in openapi.yaml but not routed");
    }
}
