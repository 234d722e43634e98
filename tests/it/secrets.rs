//! How secrets are stored: generated ones (tenant sets) as digests, chosen ones as argon2id
//! at the standard cost, or at the least cost under `--fast-password-hashing`, which a
//! deployment cannot turn on; a database written in one mode works in the other.

use serde_json::{json, Value};

use crate::nueve09::{example_n, login};
use crate::support::{run_briefly, Server};

/// The argon2id parameters of a stored hash (`m=19456,t=2,p=1`).
fn argon2_params(stored: &str) -> &str {
    assert!(stored.starts_with("$argon2id$v=19$"), "{stored}");
    stored.split('$').nth(3).unwrap()
}

fn text(server: &Server, sql: &str, key: &str) -> String {
    server
        .db()
        .query_row(sql, [key], |r| r.get(0))
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// The stored secret of each flavour's tenant of `set`.
fn stored_secrets(server: &Server, set: &Value) -> Vec<String> {
    let s = |v: &Value| v.as_str().unwrap().to_string();
    let user = set["shieldconex"]["user"]["id"]
        .as_i64()
        .unwrap()
        .to_string();
    vec![
        text(
            server,
            "SELECT api_key_hash FROM mx_processors WHERE id = ?1",
            &s(&set["mx"]["processor_id"]),
        ),
        text(
            server,
            "SELECT password_hash FROM sc_users WHERE CAST(id AS TEXT) = ?1",
            &user,
        ),
        text(
            server,
            "SELECT password_hash FROM n09_accounts WHERE id = ?1",
            &s(&set["nueve09"]["account_id"]),
        ),
        text(
            server,
            "SELECT client_secret_hash FROM ml_partners WHERE client_id = ?1",
            &s(&set["makeleaps"]["client_id"]),
        ),
    ]
}

fn create_subclient(server: &Server, auth: &str, n: u32, password: &str) -> String {
    let mut body = example_n(n, json!(10));
    body["api_key_password"] = json!(password);
    let reply = server.post(
        "/nueve09/clients",
        &[
            ("Authorization", auth),
            ("Content-Type", "application/json"),
        ],
        &body.to_string(),
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.json()["data"]["subclient"]["api_client"]["name"]
        .as_str()
        .unwrap()
        .to_string()
}

fn subclient_password_hash(server: &Server, api_key: &str) -> String {
    let sha = clientele::auth::sha256(api_key.as_bytes());
    server
        .db()
        .query_row(
            "SELECT password_hash FROM n09_accounts WHERE api_key_hash = ?1",
            [&sha[..]],
            |r| r.get(0),
        )
        .unwrap()
}

fn mx_create(server: &Server, authorization: &str) -> u16 {
    crate::fixture::invite_with(server, authorization, "t@example.com")
}

#[test]
fn a_deployment_stores_generated_secrets_as_digests_and_chosen_ones_as_argon2id() {
    let server = Server::start();
    let set = server.admin("POST", "/tenants", None).json();
    for stored in stored_secrets(&server, &set) {
        assert!(
            stored.starts_with("$clientele-hmac-sha256$"),
            "a generated secret is a digest: {stored}"
        );
    }
    let nueve09 = &set["nueve09"];
    let (auth, _) = login(
        &server,
        nueve09["api_key"].as_str().unwrap(),
        nueve09["password"].as_str().unwrap(),
    );
    let api_key = create_subclient(&server, &auth, 1, "chosen-pw");
    let stored = subclient_password_hash(&server, &api_key);
    assert_eq!(argon2_params(&stored), "m=19456,t=2,p=1", "{stored}");
    login(&server, &api_key, "chosen-pw");
    assert!(!server.stderr().contains("fast-password-hashing"));
}

#[test]
fn a_fast_mode_database_keeps_working_in_a_deployment() {
    let fast = Server::builder().arg("--fast-password-hashing").start();
    assert!(
        fast.stderr_shows("--fast-password-hashing: chosen passwords are stored"),
        "the startup says the mode is on: {}",
        fast.stderr()
    );
    let (auth, _) = login(&fast, "api_key", "password");
    let api_key = create_subclient(&fast, &auth, 1, "chosen-pw");
    let stored = subclient_password_hash(&fast, &api_key);
    assert_eq!(argon2_params(&stored), "m=8,t=1,p=1", "{stored}");
    let set = fast.admin("POST", "/tenants", None).json();

    let dir = fast.kill();
    let deployment = Server::builder().start_in(dir);
    login(&deployment, &api_key, "chosen-pw");
    let wrong = deployment.post(
        "/nueve09/auth/login",
        &[("Content-Type", "application/json")],
        &json!({"api_client": {"api_key": api_key, "password": "chosen-pX"}}).to_string(),
    );
    assert_eq!(wrong.status, 401, "{}", wrong.body);
    assert_eq!(
        mx_create(&deployment, set["mx"]["authorization"].as_str().unwrap()),
        200
    );
    // The same demo tenants, hashed at the standard cost this time, and the fast one kept.
    login(&deployment, "api_key", "password");
    let again = create_subclient(
        &deployment,
        &login(&deployment, "api_key", "password").0,
        2,
        "pw-2",
    );
    assert_eq!(
        argon2_params(&subclient_password_hash(&deployment, &again)),
        "m=19456,t=2,p=1"
    );
}

#[test]
fn old_argon2_hashes_of_generated_secrets_still_verify() {
    let server = Server::start();
    let set = server.admin("POST", "/tenants", None).json();
    let processor = set["mx"]["processor_id"].as_str().unwrap();
    let api_key = set["mx"]["api_key"].as_str().unwrap();
    // As an earlier version stored it: argon2id of the generated key.
    let old = clientele::auth::hash_secret(api_key, &clientele::ids::Ids::new(None));
    let changed = server
        .db()
        .execute(
            "UPDATE mx_processors SET api_key_hash = ?1 WHERE id = ?2",
            [old.as_str(), processor],
        )
        .unwrap();
    assert_eq!(changed, 1);
    let authorization = set["mx"]["authorization"].as_str().unwrap();
    assert_eq!(mx_create(&server, authorization), 200);
    let wrong = clientele::auth::basic_header(processor, "not-the-key");
    assert_eq!(mx_create(&server, &wrong), 401);
}

#[test]
fn a_generated_secret_rotated_behind_the_servers_back_is_refused_at_once() {
    let server = Server::start();
    let set = server.admin("POST", "/tenants", None).json();
    let processor = set["mx"]["processor_id"].as_str().unwrap();
    let authorization = set["mx"]["authorization"].as_str().unwrap();
    assert_eq!(mx_create(&server, authorization), 200);
    let rotated = clientele::auth::digest_generated("a-new-key");
    server
        .db()
        .execute(
            "UPDATE mx_processors SET api_key_hash = ?1 WHERE id = ?2",
            [rotated.as_str(), processor],
        )
        .unwrap();
    assert_eq!(mx_create(&server, authorization), 401, "the old key");
    let new = clientele::auth::basic_header(processor, "a-new-key");
    assert_eq!(mx_create(&server, &new), 200, "the new key");
}

#[test]
fn fast_password_hashing_is_refused_where_a_deployment_shows() {
    for (extra, mark) in [
        (
            vec!["--public-url", "https://onboarding.example.com"],
            "an https --public-url",
        ),
        (
            vec![
                "--tls-cert",
                "/nonexistent.pem",
                "--tls-key",
                "/nonexistent.key",
            ],
            "--tls-cert",
        ),
    ] {
        let mut args = vec!["serve", "--listen", "127.0.0.1:0", "--db", ":memory:"];
        args.extend(extra);
        let output = run_briefly(&args, &[("CLIENTELE_FAST_PASSWORD_HASHING", "true")]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.contains(&format!(
                "--fast-password-hashing is for test suites and cannot be used with {mark}"
            )),
            "{stderr}"
        );
        assert!(output.stdout.is_empty(), "no readiness line");
    }
}

#[test]
fn the_rust_test_server_hashes_chosen_passwords_fast() {
    let server = clientele::testing::Server::start();
    assert_eq!(
        server.app().credentials.hashing(),
        clientele::auth::PasswordHashing::Fast
    );
    let public = clientele::testing::Server::with_args(&["--public-url", "https://x.example"])
        .expect("a test server with an https public URL starts, at the standard cost");
    assert_eq!(
        public.app().credentials.hashing(),
        clientele::auth::PasswordHashing::Standard
    );
}
