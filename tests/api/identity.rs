//! Tokens of an identity provider: a JWKS file with several live keys that rotate while the
//! server runs, `aud` arrays, configurable claim names, role arrays, and secrets from files.

use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use ptt_ledger::auth::ClaimNames;
use ptt_ledger::http::auth::AuthConfig;
use serde_json::{json, Value};

use crate::helpers::{now, postgres_configured, spawn_app_with, Backend, TestApp, TEST_SECRET};

const KEYS: &str = include_str!("../fixtures/jwks-test-keys.json");
const RS256_PRIVATE: &str = include_str!("../fixtures/rs256-test-private.pem");
const ES256_A_PRIVATE: &str = include_str!("../fixtures/es256-test-private.pem");
const ES256_B_PRIVATE: &str = include_str!("../fixtures/es256-b-test-private.pem");
const ED25519_PRIVATE: &str = include_str!("../fixtures/ed25519-test-private.pem");

/// A JWKS document holding the named test keys.
fn jwks(names: &[&str]) -> String {
    let keys: Value = serde_json::from_str(KEYS).unwrap();
    json!({"keys": names.iter().map(|n| keys[*n].clone()).collect::<Vec<_>>()}).to_string()
}

/// Signs `claims` with a test key, naming `kid` in the header.
fn sign(claims: &Value, key: &str, kid: Option<&str>) -> String {
    let (algorithm, encoding) = match key {
        "rsa" => (Algorithm::RS256, EncodingKey::from_rsa_pem(RS256_PRIVATE.as_bytes())),
        "es-a" => (Algorithm::ES256, EncodingKey::from_ec_pem(ES256_A_PRIVATE.as_bytes())),
        "es-b" => (Algorithm::ES256, EncodingKey::from_ec_pem(ES256_B_PRIVATE.as_bytes())),
        "ed" => (Algorithm::EdDSA, EncodingKey::from_ed_pem(ED25519_PRIVATE.as_bytes())),
        other => panic!("no test key {other}"),
    };
    let mut header = Header::new(algorithm);
    header.kid = kid.map(str::to_string);
    encode(&header, claims, &encoding.expect("test key")).expect("sign")
}

fn admin(aud: Value) -> Value {
    json!({"sub": "ops", "role": "platform_admin", "exp": now() + 600, "aud": aud})
}

async fn status(app: &TestApp, token: &str) -> u16 {
    app.get("/v1/funds", token).await.status.as_u16()
}

async fn jwks_keys_rotate_while_the_server_runs(backend: Backend) {
    let dir = std::env::temp_dir().join(format!("ptt-jwks-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("jwks.json");
    std::fs::write(&path, jwks(&["rsa", "es-a"])).unwrap();
    let config_path = path.clone();
    let app = spawn_app_with(backend, move |settings| {
        settings.auth = AuthConfig::from_jwks_file(&config_path, None, Some("ptt-ledger")).expect("jwks");
    })
    .await;
    let aud = json!("ptt-ledger");
    assert_eq!(status(&app, &sign(&admin(aud.clone()), "rsa", Some("rsa-1"))).await, 200);
    assert_eq!(status(&app, &sign(&admin(aud.clone()), "es-a", Some("es-a"))).await, 200);
    // `aud` as an array holding ours, or not.
    assert_eq!(status(&app, &sign(&admin(json!(["account", "ptt-ledger"])), "es-a", Some("es-a"))).await, 200);
    assert_eq!(status(&app, &sign(&admin(json!(["account"])), "es-a", Some("es-a"))).await, 401);
    // A key not (yet) in the set, a kid naming another key, no kid among several keys.
    assert_eq!(status(&app, &sign(&admin(aud.clone()), "es-b", Some("es-b"))).await, 401);
    assert_eq!(status(&app, &sign(&admin(aud.clone()), "es-b", Some("es-a"))).await, 401);
    assert_eq!(status(&app, &sign(&admin(aud.clone()), "es-a", None)).await, 401);
    assert_eq!(status(&app, &sign(&admin(aud.clone()), "ed", Some("ed-1"))).await, 401);

    // Rotation as a provider's key sync does it: a new file renamed over the old one.
    let next = dir.join("jwks.json.new");
    std::fs::write(&next, jwks(&["es-b", "ed"])).unwrap();
    std::fs::rename(&next, &path).unwrap();
    let started = std::time::Instant::now();
    while status(&app, &sign(&admin(aud.clone()), "es-b", Some("es-b"))).await != 200 {
        assert!(started.elapsed() < std::time::Duration::from_secs(10), "the new key is taken within 10 s");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(status(&app, &sign(&admin(aud.clone()), "ed", Some("ed-1"))).await, 200);
    assert_eq!(status(&app, &sign(&admin(aud.clone()), "rsa", Some("rsa-1"))).await, 401, "the retired key is refused");
    // A broken file keeps the keys in use.
    std::fs::write(&path, "{\"keys\": [").unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(2_500)).await;
    assert_eq!(status(&app, &sign(&admin(aud.clone()), "ed", Some("ed-1"))).await, 200);
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwks_rotation_sqlite() {
    jwks_keys_rotate_while_the_server_runs(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwks_rotation_postgres() {
    if postgres_configured() {
        jwks_keys_rotate_while_the_server_runs(Backend::Postgres).await;
    }
}

fn hs(claims: &Value) -> String {
    encode(&Header::new(Algorithm::HS256), claims, &EncodingKey::from_secret(TEST_SECRET.as_bytes())).expect("sign")
}

/// Keycloak's shape: realm roles in `realm_access.roles`, scopes in attributes of our naming.
async fn claim_names_and_role_arrays(backend: Backend) {
    let app = spawn_app_with(backend, |settings| {
        let names = ClaimNames { role: "realm_access.roles".into(), fund: "ptt_fund".into(), employer: "ptt_employer".into(), worker: "ptt_worker".into() };
        settings.auth = AuthConfig::from_secret(TEST_SECRET.as_bytes(), None, None).expect("auth").with_claim_names(names);
    })
    .await;
    let token = |roles: Value, fund: Option<&str>| {
        let mut claims = json!({"sub": "kc-user", "exp": now() + 600, "realm_access": {"roles": roles}});
        if let Some(fund) = fund {
            claims["ptt_fund"] = json!(fund);
        }
        hs(&claims)
    };
    let platform = token(json!(["offline_access", "platform_admin", "uma_authorization"]), None);
    let fund = app.post("/v1/funds", &platform, &json!({"code": "oom", "name": "OOM"})).await.expect(201).id();
    let admin = token(json!(["default-roles-ptt", "fund_admin"]), Some(&fund));
    app.get(&format!("/v1/funds/{fund}"), &admin).await.expect(200);
    app.get(&format!("/v1/funds/{fund}"), &token(json!("fund_admin"), Some(&fund))).await.expect(200);
    let refused = |token: String| {
        let app = &app;
        let fund = fund.clone();
        async move { app.get(&format!("/v1/funds/{fund}"), &token).await.expect_problem(401, "unauthenticated") }
    };
    // Two of our roles in one token, none of ours, or not a list of names: 401.
    let reply = refused(token(json!(["fund_admin", "board"]), Some(&fund))).await;
    assert!(reply.body["detail"].as_str().unwrap().contains("more than one role"), "{}", reply.body);
    refused(token(json!(["offline_access"]), Some(&fund))).await;
    refused(token(json!([]), Some(&fund))).await;
    refused(token(json!({"fund_admin": true}), Some(&fund))).await;
    // The service's own claim names are not read any more.
    refused(hs(&json!({"sub": "x", "exp": now() + 600, "role": "fund_admin", "fund": fund}))).await;
    // A scope that is not one of our ids.
    refused(token(json!(["fund_admin"]), Some("OOM"))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claim_names_sqlite() {
    claim_names_and_role_arrays(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claim_names_postgres() {
    if postgres_configured() {
        claim_names_and_role_arrays(Backend::Postgres).await;
    }
}

#[test]
fn secrets_and_keys_come_from_files() {
    let dir = std::env::temp_dir().join(format!("ptt-secret-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("secret");
    std::fs::write(&path, format!("{TEST_SECRET}\n")).unwrap();
    let database = ptt_ledger::db::DbUrl::Postgres("postgres://unused".into());
    let options = ptt_ledger::config::JwtOptions { secret_file: Some(path.clone()), ..Default::default() };
    let (config, _) = ptt_ledger::config::auth_config(&options, &database, ptt_ledger::config::SecretFile::MustExist).expect("secret file");
    let token = hs(&json!({"sub": "ops", "role": "platform_admin", "exp": now() + 600}));
    assert_eq!(config.verify(&token).map(|c| c.sub).ok().as_deref(), Some("ops"), "the newline after the secret is not part of it");
    // Two sources at once are refused, and so is a JWKS file without signing keys.
    let both = ptt_ledger::config::JwtOptions { secret: Some(TEST_SECRET.into()), secret_file: Some(path), ..Default::default() };
    assert!(ptt_ledger::config::auth_config(&both, &database, ptt_ledger::config::SecretFile::MustExist).is_err());
    let empty = dir.join("empty.json");
    std::fs::write(&empty, "{\"keys\": []}").unwrap();
    assert!(AuthConfig::from_jwks_file(&empty, None, None).is_err());
    // The database URL from a file (it may carry a password): the CLI reads it from there.
    let url_file = dir.join("database-url");
    std::fs::write(&url_file, format!("sqlite://{}\n", dir.join("ptt.db").display())).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ptt-ledger"))
        .args(["verify", "--database-url-file"])
        .arg(&url_file)
        .env_remove("DATABASE_URL")
        .output()
        .expect("run");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(dir.join("ptt.db").exists(), "the URL in the file was used");
    std::fs::remove_dir_all(&dir).ok();
}
