//! Every bad token is 401; roles and claims are checked.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use ptt_ledger::http::auth::Role;
use serde_json::json;

use crate::helpers::{now, spawn_app_with, Backend, TestApp, TEST_SECRET};
use crate::on_both_backends;

async fn assert_refused(app: &TestApp, token: &str) {
    app.get("/v1/funds", token).await.expect_problem(401, "unauthenticated");
}

fn sign(claims: &serde_json::Value, algorithm: Algorithm, secret: &[u8]) -> String {
    encode(&Header::new(algorithm), claims, &EncodingKey::from_secret(secret)).expect("sign")
}

async fn every_bad_token_is_401(app: TestApp) {
    // A good token works, so the refusals below are about the token alone.
    app.get("/v1/funds", &app.platform_admin()).await.expect(200);

    let response = app.client.get(format!("{}/v1/funds", app.address)).send().await.expect("sent");
    assert_eq!(response.status().as_u16(), 401, "missing header");
    assert_eq!(response.headers().get("www-authenticate").and_then(|v| v.to_str().ok()), Some("Bearer"));

    let valid = json!({"sub": "ops", "role": "platform_admin", "exp": now() + 600});
    let expired = json!({"sub": "ops", "role": "platform_admin", "exp": now() - 120});
    assert_refused(&app, &sign(&expired, Algorithm::HS256, TEST_SECRET.as_bytes())).await;
    assert_refused(&app, &sign(&valid, Algorithm::HS256, b"another-secret-that-is-long-enough-0123456789")).await;
    assert_refused(&app, &sign(&valid, Algorithm::HS384, TEST_SECRET.as_bytes())).await;
    assert_refused(&app, &sign(&json!({"sub": "ops", "role": "root", "exp": now() + 600}), Algorithm::HS256, TEST_SECRET.as_bytes())).await;
    assert_refused(&app, &sign(&json!({"sub": "ops", "role": "platform_admin"}), Algorithm::HS256, TEST_SECRET.as_bytes())).await;
    assert_refused(&app, &sign(&json!({"sub": "ops", "role": "fund_admin", "exp": now() + 600}), Algorithm::HS256, TEST_SECRET.as_bytes())).await;

    // Tampered: the payload of a valid token swapped for another role, signature kept.
    let token = app.token(Role::Board, Some("01a22154-0bd5-75ad-8997-48397535a5b5"), None, None);
    let parts: Vec<&str> = token.split('.').collect();
    let payload = URL_SAFE_NO_PAD.decode(parts[1]).expect("payload");
    let forged = String::from_utf8(payload).expect("utf8").replace("\"board\"", "\"platform_admin\"");
    let tampered = format!("{}.{}.{}", parts[0], URL_SAFE_NO_PAD.encode(forged), parts[2]);
    assert_refused(&app, &tampered).await;

    // alg "none": no signature at all.
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
    let body = URL_SAFE_NO_PAD.encode(valid.to_string());
    assert_refused(&app, &format!("{header}.{body}.")).await;
    let reply = app.get("/v1/funds", &format!("{header}.{body}.")).await;
    assert!(reply.body["detail"].as_str().unwrap_or_default().contains("algorithm"), "says why: {}", reply.body);

    assert_refused(&app, "not-a-token").await;
    let response = app.client.get(format!("{}/v1/funds", app.address)).header("Authorization", "Basic dXNlcjpwdw==").send().await.expect("sent");
    assert_eq!(response.status().as_u16(), 401);
}

async fn roles_may_only_do_their_part(app: TestApp) {
    let fund = app.create_fund("oom").await;
    let board = app.token(Role::Board, Some(&fund.id), None, None);
    let coach = app.token(Role::Coach, Some(&fund.id), None, None);
    app.post("/v1/funds", &fund.admin, &json!({"code": "x", "name": "X"})).await.expect_problem(403, "forbidden");
    let employer = json!({"kvk_number": "12345678", "name": "A", "sector": "metaal"});
    app.post(&format!("/v1/funds/{}/employers", fund.id), &board, &employer).await.expect_problem(403, "forbidden");
    app.post(&format!("/v1/funds/{}/employers", fund.id), &coach, &employer).await.expect_problem(403, "forbidden");
    app.get(&format!("/v1/funds/{}/ledger/verify", fund.id), &board).await.expect_problem(403, "forbidden");
    // Nothing was created by the refused requests.
    let list = app.get(&format!("/v1/funds/{}/employers", fund.id), &fund.admin).await.expect(200);
    assert_eq!(list.body["items"].as_array().map(Vec::len), Some(0));
}

on_both_backends!(every_bad_token_is_401, roles_may_only_do_their_part);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issuer_and_audience_are_checked_when_configured() {
    let app = spawn_app_with(Backend::Sqlite, |settings| {
        settings.auth = ptt_ledger::http::auth::AuthConfig::from_secret(TEST_SECRET.as_bytes(), Some("https://idp.example"), Some("ptt-ledger"))
            .expect("auth");
    })
    .await;
    let good = json!({"sub": "ops", "role": "platform_admin", "exp": now() + 600, "iss": "https://idp.example", "aud": "ptt-ledger"});
    app.get("/v1/funds", &sign(&good, Algorithm::HS256, TEST_SECRET.as_bytes())).await.expect(200);
    let wrong_iss = json!({"sub": "ops", "role": "platform_admin", "exp": now() + 600, "iss": "https://evil.example", "aud": "ptt-ledger"});
    assert_refused(&app, &sign(&wrong_iss, Algorithm::HS256, TEST_SECRET.as_bytes())).await;
    let no_aud = json!({"sub": "ops", "role": "platform_admin", "exp": now() + 600, "iss": "https://idp.example"});
    assert_refused(&app, &sign(&no_aud, Algorithm::HS256, TEST_SECRET.as_bytes())).await;
}

#[test]
fn short_secrets_are_refused() {
    assert!(ptt_ledger::http::auth::AuthConfig::from_secret(b"short", None, None).is_err());
}

/// A test-only key pair (tests/fixtures): never used outside the test suite.
const ES256_PRIVATE: &str = include_str!("../fixtures/es256-test-private.pem");
const ES256_PUBLIC: &str = include_str!("../fixtures/es256-test-public.pem");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn public_key_tokens_and_key_confusion() {
    let key_path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/es256-test-public.pem");
    let app = spawn_app_with(Backend::Sqlite, |settings| {
        settings.auth = ptt_ledger::http::auth::AuthConfig::from_public_key_file(std::path::Path::new(key_path), None, None)
            .expect("public key");
    })
    .await;
    let claims = json!({"sub": "ops", "role": "platform_admin", "exp": now() + 600});
    let key = EncodingKey::from_ec_pem(ES256_PRIVATE.as_bytes()).expect("private key");
    let good = encode(&Header::new(Algorithm::ES256), &claims, &key).expect("sign");
    app.get("/v1/funds", &good).await.expect(200);
    // Key confusion: an HS256 token "signed" with the public key as the secret.
    assert_refused(&app, &sign(&claims, Algorithm::HS256, ES256_PUBLIC.as_bytes())).await;
    // And a token signed with the HS secret the server does not use.
    assert_refused(&app, &sign(&claims, Algorithm::HS256, TEST_SECRET.as_bytes())).await;
}

/// A private key given where the public key belongs is refused at start-up, not accepted and
/// then failing every token.
#[test]
fn a_private_key_is_not_taken_for_a_public_one() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/es256-test-private.pem");
    let error = ptt_ledger::http::auth::AuthConfig::from_public_key_file(std::path::Path::new(path), None, None)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(error.contains("private key") && error.contains("-pubout"), "{error}");
}

/// A bind address without a port says what is expected.
#[test]
fn a_bind_address_without_a_port_says_what_is_expected() {
    let dir = std::env::temp_dir().join(format!("ptt-bind-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("dir");
    let auth = ptt_ledger::http::auth::AuthConfig::from_secret(TEST_SECRET.as_bytes(), None, None).expect("auth");
    let settings = ptt_ledger::startup::Settings::new(ptt_ledger::db::DbUrl::Sqlite(dir.join("t.db")), "127.0.0.1", auth);
    let error = ptt_ledger::startup::Application::build(settings).err().map(|e| e.to_string()).unwrap_or_default();
    assert!(error.contains("HOST:PORT") && error.contains("127.0.0.1:8080"), "{error}");
    let _ = std::fs::remove_dir_all(&dir);
}
