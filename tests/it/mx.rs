//! MX Client Enablement (docs/mx.md) against the real binary.

use serde_json::{json, Value};

use crate::support::{Reply, Server, MX_ACCEPT, MX_DEMO_AUTH};

const JSON: (&str, &str) = ("Content-Type", "application/json");
const ACCEPT: (&str, &str) = ("Accept", MX_ACCEPT);
const AUTH: (&str, &str) = ("Authorization", MX_DEMO_AUTH);

fn john() -> Value {
    json!({"client": {"company_name": "MX", "email": "john.foo@mx.com",
                      "first_name": "John", "last_name": "Foo"}})
}

fn create(server: &Server, headers: &[(&str, &str)], body: &str) -> Reply {
    server.post("/mx/clients", headers, body)
}

fn error_of(reply: &Reply) -> String {
    assert_eq!(reply.header("Content-Type"), Some("application/json"));
    reply.json()["error"]
        .as_str()
        .expect("an error message")
        .to_string()
}

/// The curl example of MX's Client Enablement page, byte for byte (body whitespace included).
#[test]
fn seed_curl_example_answers_200_with_no_body() {
    let server = Server::start();
    let body = "{\n\"client\": {\n\"company_name\": \"MX\",\n\"email\": \"john.foo@mx.com\",\n\"first_name\": \"John\",\n\"last_name\": \"Foo\"\n}\n}";
    let reply = create(&server, &[ACCEPT, AUTH, JSON], body);
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body, "");
    let (processor, company, status): (String, String, String) = server
        .db()
        .query_row(
            "SELECT processor_id, company_name, status FROM mx_clients WHERE email = 'john.foo@mx.com'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!(
        (processor.as_str(), company.as_str(), status.as_str()),
        ("PROCESSOR-1234", "MX", "invited")
    );
}

#[test]
fn dedicated_listener_serves_mx_at_the_root() {
    let (_server, url) = Server::with_dedicated("mx");
    let reply = crate::support::call(
        "POST",
        &format!("{url}/clients"),
        &[ACCEPT, AUTH, JSON],
        Some(john().to_string().as_bytes()),
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    let elsewhere = crate::support::call("GET", &format!("{url}/healthz"), &[], None);
    assert_eq!(elsewhere.status, 404, "only MX lives there");
}

#[test]
fn bad_credentials_are_401_with_www_authenticate() {
    let server = Server::start();
    let wrong_key = format!("Basic {}", base64_of("PROCESSOR-1234:API-KEY-0000"));
    let unknown = format!("Basic {}", base64_of("PROCESSOR-9:API-KEY-4567"));
    for auth in [
        None,
        Some("Basic"),
        Some("Basic %%%"),
        Some("Bearer x"),
        Some(wrong_key.as_str()),
        Some(unknown.as_str()),
    ] {
        let mut headers = vec![ACCEPT, JSON];
        if let Some(a) = auth {
            headers.push(("Authorization", a));
        }
        let reply = create(&server, &headers, &john().to_string());
        assert_eq!(reply.status, 401, "{auth:?}");
        assert_eq!(error_of(&reply), "Unauthorized");
        assert!(reply
            .header("WWW-Authenticate")
            .unwrap()
            .starts_with("Basic"));
    }
    assert_eq!(server.count("mx_clients"), 0);
}

fn base64_of(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(text)
}

#[test]
fn another_api_version_is_406() {
    let server = Server::start();
    let reply = create(
        &server,
        &[
            ("Accept", "application/vnd.mx.provisioning.v2+json"),
            AUTH,
            JSON,
        ],
        &john().to_string(),
    );
    assert_eq!(reply.status, 406);
    assert!(error_of(&reply).contains("application/vnd.mx.provisioning.v1+json"));
    // MX answers 406 to a request that does not name the API version: no Accept, a
    // generic one, or a wildcard (MX's platform error table).
    for accept in [None, Some("application/json"), Some("*/*")] {
        let mut headers = vec![AUTH, JSON];
        headers.extend(accept.map(|a| ("Accept", a)));
        let reply = create(&server, &headers, &john().to_string());
        assert_eq!(reply.status, 406, "{accept:?}");
        assert!(error_of(&reply).contains("didn't specify a valid API version"));
    }
    assert_eq!(server.count("mx_clients"), 0);
    let named = create(
        &server,
        &[
            ("Accept", "application/vnd.mx.provisioning.v1+json"),
            AUTH,
            JSON,
        ],
        &john().to_string(),
    );
    assert_eq!(named.status, 200);
    assert_eq!(server.count("mx_clients"), 1);
}

#[test]
fn malformed_or_incomplete_bodies_are_400_naming_the_field() {
    let server = Server::start();
    let cases: Vec<(String, &str)> = vec![
        ("{\"client\": {".to_string(), "not valid JSON"),
        ("".to_string(), "client is required"),
        ("[]".to_string(), "JSON object"),
        ("{}".to_string(), "client is required"),
        (json!({"client": "John"}).to_string(), "client must be an object"),
        (json!({"client": {"email": "a@b.co", "first_name": "J", "last_name": "F"}}).to_string(), "client.company_name is required"),
        (json!({"client": {"company_name": "MX", "first_name": "J", "last_name": "F"}}).to_string(), "client.email is required"),
        (json!({"client": {"company_name": "MX", "email": "a@b.co", "last_name": "F"}}).to_string(), "client.first_name is required"),
        (json!({"client": {"company_name": "MX", "email": "a@b.co", "first_name": "J"}}).to_string(), "client.last_name is required"),
        (json!({"client": {"company_name": 7, "email": "a@b.co", "first_name": "J", "last_name": "F"}}).to_string(), "client.company_name must be a string"),
        (json!({"client": {"company_name": "MX", "email": "a@b.co", "first_name": "  ", "last_name": "F"}}).to_string(), "client.first_name must not be blank"),
    ];
    for (body, expected) in cases {
        let reply = create(&server, &[ACCEPT, AUTH, JSON], &body);
        assert_eq!(reply.status, 400, "{body}: {}", reply.body);
        let message = error_of(&reply);
        assert!(message.contains(expected), "{body}: {message}");
    }
    assert_eq!(server.count("mx_clients"), 0);
}

#[test]
fn unusable_values_are_422() {
    let server = Server::start();
    let long = "x".repeat(256);
    let cases = [
        (
            json!({"client": {"company_name": "MX", "email": "john.foo", "first_name": "J", "last_name": "F"}}),
            "client.email is not a valid email address",
        ),
        (
            json!({"client": {"company_name": "MX", "email": "a@@b", "first_name": "J", "last_name": "F"}}),
            "client.email",
        ),
        (
            json!({"client": {"company_name": long, "email": "a@b.co", "first_name": "J", "last_name": "F"}}),
            "client.company_name must be at most 255",
        ),
        (
            json!({"client": {"company_name": "MX", "email": "a@b.co", "first_name": "x".repeat(101), "last_name": "F"}}),
            "client.first_name must be at most 100",
        ),
    ];
    for (body, expected) in cases {
        let reply = create(&server, &[ACCEPT, AUTH, JSON], &body.to_string());
        assert_eq!(reply.status, 422, "{body}");
        assert!(error_of(&reply).contains(expected), "{}", reply.body);
    }
    assert_eq!(server.count("mx_clients"), 0);
}

#[test]
fn a_body_over_one_mib_is_413() {
    let server = Server::start();
    let padding = "x".repeat(2 * 1024 * 1024);
    let body = format!("{{\"client\": {{\"company_name\": \"{padding}\"}}}}");
    let reply = create(&server, &[ACCEPT, AUTH, JSON], &body);
    assert_eq!(reply.status, 413);
    assert!(error_of(&reply).contains("1 MiB"));
    assert_eq!(server.count("mx_clients"), 0);
    assert_eq!(
        server.get("/healthz", &[]).status,
        200,
        "the server carries on"
    );
}

#[test]
fn unknown_paths_are_404_and_other_methods_405() {
    let server = Server::start();
    let reply = server.get("/mx/nothing", &[AUTH]);
    assert_eq!(reply.status, 404);
    assert_eq!(error_of(&reply), "Not Found");
    let reply = server.get("/mx/clients", &[AUTH, ACCEPT]);
    assert_eq!(reply.status, 405);
    assert_eq!(reply.header("Allow"), Some("POST"));
    let reply = server.call("DELETE", "/mx/clients", &[AUTH], None);
    assert_eq!(reply.status, 405);
}

#[test]
fn a_post_without_json_content_type_is_404_as_mx_does() {
    let server = Server::start();
    let reply = create(
        &server,
        &[ACCEPT, AUTH, ("Content-Type", "text/plain")],
        &john().to_string(),
    );
    assert_eq!(reply.status, 404);
    assert!(error_of(&reply).contains("Content-Type: application/json"));
    assert_eq!(server.count("mx_clients"), 0);
}

#[test]
fn a_repeat_create_is_a_reinvitation_of_the_same_client() {
    let server = Server::start();
    assert_eq!(
        create(&server, &[ACCEPT, AUTH, JSON], &john().to_string()).status,
        200
    );
    let mut again = john();
    again["client"]["email"] = json!("JOHN.FOO@mx.com");
    again["client"]["company_name"] = json!("MX Technologies");
    assert_eq!(
        create(&server, &[ACCEPT, AUTH, JSON], &again.to_string()).status,
        200
    );
    let (count, invitations, company): (i64, i64, String) = server
        .db()
        .query_row(
            "SELECT count(*), max(invitations), max(company_name) FROM mx_clients",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!(
        (count, invitations, company.as_str()),
        (1, 2, "MX Technologies")
    );
}

#[test]
fn a_record_survives_a_restart_on_the_same_file() {
    let mut server = Server::start();
    assert_eq!(
        create(&server, &[ACCEPT, AUTH, JSON], &john().to_string()).status,
        200
    );
    assert_eq!(server.terminate().code(), Some(0));
    let dir = server.kill();
    let server = Server::builder().start_in(dir);
    assert_eq!(server.count("mx_clients"), 1);
    // Still a re-invitation after the restart, not a second client.
    assert_eq!(
        create(&server, &[ACCEPT, AUTH, JSON], &john().to_string()).status,
        200
    );
    assert_eq!(server.count("mx_clients"), 1);
}

#[test]
fn the_database_file_holds_no_api_key_in_the_clear() {
    let mut server = Server::start();
    assert_eq!(
        create(&server, &[ACCEPT, AUTH, JSON], &john().to_string()).status,
        200
    );
    server.terminate();
    for suffix in ["", "-wal"] {
        let path = format!("{}{suffix}", server.db_path().display());
        let bytes = std::fs::read(&path).unwrap_or_default();
        let text = String::from_utf8_lossy(&bytes);
        for secret in ["API-KEY-4567", "waterford123", "demo-client-secret"] {
            assert!(!text.contains(secret), "{secret} in {path}");
        }
    }
    let hash: String = server
        .db()
        .query_row("SELECT api_key_hash FROM mx_processors", [], |r| r.get(0))
        .unwrap();
    assert!(hash.starts_with("$argon2id$"));
}
