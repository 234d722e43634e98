//! Nueve09 (docs/nueve09.md) against the real binary: login, the States Catalog, funded sub-clients.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use crate::support::{call, Reply, Server};

const JSON: (&str, &str) = ("Content-Type", "application/json");

/// The login example of "Get authorization Token", as the docs send it.
const LOGIN_EXAMPLE: &str = r#"{"api_client":{"api_key":"api_key","password":"password"}}"#;

/// The vendor's example request, verbatim: JSON numbers for the country codes, the scraped
/// "[email protected]" e-mails and all.
pub const CREATE_EXAMPLE: &str = r#"{
"name": "Noentiendo",
"alias": "NOENT",
"email": "[email protected]",
"available": 1000,
"phone": "5555555555",
"mobile_phone": "6666666666",
"rfc": "AAMM9001010A1",
"street": "Av. Siempre",
"ext_street_number": "1234",
"int_street_number": "Apt.4",
"suburb": "Nápoles",
"township": "Benito Juarez",
"city": "CDMX",
"state": "CDMX",
"postal_code": "55555",
"contact_name": "Juan",
"contact_second_name": "Alberto",
"contact_surname": "Perea",
"contact_second_surname": "Perez",
"contact_email": "[email protected]",
"contact_telephone_country_code": 52,
"contact_telephone": "5555555555",
"contact_mobile_phone_country_code": 52,
"contact_mobile_phone": "6666666666",
"legal_representative_name": "Iman",
"legal_representative_second_name": "Hora",
"legal_representative_surname": "Martinez",
"legal_representative_second_surname": "Martinez",
"legal_representative_email": "[email protected]",
"legal_representative_telephone_country_code": 52,
"legal_representative_telephone": "5555555555",
"legal_representative_mobile_phone_country_code": 52,
"legal_representative_mobile_phone": "6666666666",
"api_key_name": "SUB_CLIENT_ACCESS",
"api_key_description": "Subclient Api Key",
"api_key_password": "12345"
}"#;

/// The demo account's `available` in cents (22814.55).
const DEMO_CENTS: i64 = 2_281_455;

fn example() -> Value {
    serde_json::from_str(CREATE_EXAMPLE).unwrap()
}

/// The example with its unique fields (alias, RFC, API-key name) made unique by `n`.
pub(crate) fn example_n(n: u32, available: Value) -> Value {
    let mut body = example();
    body["alias"] = json!(format!("SUB{n}"));
    body["rfc"] = json!(format!("AAMM900101{n:03}"));
    body["api_key_name"] = json!(format!("SUB_KEY_{n:03}"));
    body["available"] = available;
    body
}

/// Logs in; returns the `Authorization` header value to send back, and `data.client`.
pub(crate) fn login(server: &Server, api_key: &str, password: &str) -> (String, Value) {
    let body = json!({"api_client": {"api_key": api_key, "password": password}});
    let reply = server.post("/nueve09/auth/login", &[JSON], &body.to_string());
    assert_eq!(reply.status, 200, "{}", reply.body);
    let auth = reply
        .header("Authorization")
        .expect("the token comes in the Authorization header")
        .to_string();
    (auth, reply.json()["data"]["client"].clone())
}

fn demo_login(server: &Server) -> String {
    login(server, "api_key", "password").0
}

fn create(server: &Server, auth: &str, body: &str) -> Reply {
    server.post("/nueve09/clients", &[("Authorization", auth), JSON], body)
}

fn get(server: &Server, auth: &str, path: &str) -> Reply {
    server.get(&format!("/nueve09{path}"), &[("Authorization", auth)])
}

/// The `available` of an account as its own login shows it, in cents.
fn available_cents(client: &Value) -> i64 {
    let amount = &client["available"];
    (amount.as_f64().expect("available is a number") * 100.0).round() as i64
}

/// The field errors of a 422/409 answer, after checking the create envelope around them.
fn field_errors(reply: &Reply, status: u16) -> serde_json::Map<String, Value> {
    assert_eq!(reply.status, status, "{}", reply.body);
    let body = reply.json();
    assert_eq!(body["success"], false);
    assert!(body["message"].is_string());
    body["data"]["errors"]
        .as_object()
        .unwrap_or_else(|| panic!("no errors object: {body}"))
        .clone()
}

/// The sum of every account's `available`: what creates move around but never make or lose.
fn total_cents(server: &Server) -> i64 {
    server
        .db()
        .query_row("SELECT sum(available_cents) FROM n09_accounts", [], |r| {
            r.get(0)
        })
        .unwrap()
}

// --- login ------------------------------------------------------------------------------

#[test]
fn documented_login_example_gives_a_bearer_token_in_the_header() {
    let server = Server::start();
    let reply = server.post("/nueve09/auth/login", &[JSON], LOGIN_EXAMPLE);
    assert_eq!(reply.status, 200, "{}", reply.body);
    let auth = reply.header("Authorization").unwrap();
    let token = auth.strip_prefix("Bearer ").expect("Bearer <token>");
    assert_eq!(token.split('.').count(), 3, "a JWT: {token}");
    let body = reply.json();
    assert_eq!(
        body["status"],
        json!({"code": 200, "message": "Logged in successfully."})
    );
    let client = &body["data"]["client"];
    for (field, value) in [
        ("name", json!("Nueve09")),
        ("alias", json!("NUEVE09")),
        ("code", json!("NUE")),
        ("email", json!("demo@example.com")),
        ("available", json!(22814.55)),
        ("timezone", json!("America/Mexico_City")),
        ("status", json!("ACTIVE")),
    ] {
        assert_eq!(client[field], value, "{field}");
    }
    for field in ["id", "entity_code", "created_at", "updated_at"] {
        assert!(client[field].is_string(), "{field}: {client}");
    }
    assert!(client["balance"].is_number());
    let created = client["created_at"].as_str().unwrap();
    assert!(
        created.ends_with("-06:00") && created.len() == 29,
        "Mexico City time with milliseconds, as the docs: {created}"
    );
    // The token works.
    assert_eq!(get(&server, auth, "/catalogs/states").status, 200);
}

#[test]
fn bad_credentials_are_401_in_the_login_envelope() {
    let server = Server::start();
    for (api_key, password) in [("api_key", "wrong"), ("unknown", "password"), ("", "")] {
        let body = json!({"api_client": {"api_key": api_key, "password": password}});
        let reply = server.post("/nueve09/auth/login", &[JSON], &body.to_string());
        assert_eq!(reply.status, 401, "{api_key}/{password}");
        assert_eq!(
            reply.json(),
            json!({"status": {"code": 401, "message": "Invalid api_key or password."}, "data": null})
        );
        assert_eq!(reply.header("Authorization"), None);
    }
}

#[test]
fn malformed_login_bodies_are_400_naming_the_field() {
    let server = Server::start();
    for (body, expected) in [
        ("{\"api_client\": ", "not valid JSON"),
        ("", "empty"),
        ("{}", "api_client is required"),
        (
            r#"{"api_client": "api_key"}"#,
            "api_client must be an object",
        ),
        (
            r#"{"api_client": {"password": "password"}}"#,
            "api_client.api_key is required",
        ),
        (
            r#"{"api_client": {"api_key": "api_key"}}"#,
            "api_client.password is required",
        ),
        (
            r#"{"api_client": {"api_key": 7, "password": "x"}}"#,
            "api_client.api_key must be a string",
        ),
    ] {
        let reply = server.post("/nueve09/auth/login", &[JSON], body);
        assert_eq!(reply.status, 400, "{body}");
        let json = reply.json();
        assert_eq!(json["status"]["code"], 400);
        let message = json["status"]["message"].as_str().unwrap();
        assert!(message.contains(expected), "{body}: {message}");
    }
    let reply = server.get("/nueve09/auth/login", &[]);
    assert_eq!(reply.status, 405);
    assert_eq!(reply.header("Allow"), Some("POST"));
    assert_eq!(reply.json()["status"]["code"], 405);
}

// --- tokens -----------------------------------------------------------------------------

/// A token signed with `key` over `claims`, as the server would make it.
fn signed_token(key: &[u8], header: &str, claims: &Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(header);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
    mac.update(format!("{header}.{payload}").as_bytes());
    let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    format!("{header}.{payload}.{signature}")
}

#[test]
fn missing_forged_or_expired_tokens_are_401_and_write_nothing() {
    let server = Server::start();
    let (auth, client) = login(&server, "api_key", "password");
    let id = client["id"].as_str().unwrap();
    let key: Vec<u8> = server
        .db()
        .query_row("SELECT secret FROM n09_signing_key", [], |r| r.get(0))
        .unwrap();
    assert_eq!(key.len(), 32);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let hs256 = r#"{"alg":"HS256","typ":"JWT"}"#;
    let expired = signed_token(&key, hs256, &json!({"sub": id, "exp": now - 5}));
    let other_key = signed_token(&[7u8; 32], hs256, &json!({"sub": id, "exp": now + 600}));
    let no_alg = signed_token(
        &key,
        r#"{"alg":"none"}"#,
        &json!({"sub": id, "exp": now + 600}),
    );
    let gone = signed_token(
        &key,
        hs256,
        &json!({"sub": "no-such-account", "exp": now + 600}),
    );
    let valid = signed_token(&key, hs256, &json!({"sub": id, "exp": now + 600}));
    let token = auth.strip_prefix("Bearer ").unwrap();
    // One character in the middle of the signature changed (the last one carries padding bits).
    let at = token.rfind('.').unwrap() + 10;
    let swapped = if &token[at..=at] == "A" { "B" } else { "A" };
    let tampered = format!("{}{swapped}{}", &token[..at], &token[at + 1..]);
    let cases = [
        (None, "required"),
        (Some("Bearer".to_string()), "required"),
        (Some(token.to_string()), "required"),
        (
            Some("Basic YXBpX2tleTpwYXNzd29yZA==".to_string()),
            "required",
        ),
        (Some("Bearer not-a-jwt".to_string()), "not a JWT"),
        (Some(format!("Bearer {tampered}")), "signature"),
        (Some(format!("Bearer {other_key}")), "signature"),
        (Some(format!("Bearer {no_alg}")), "HS256"),
        (Some(format!("Bearer {expired}")), "expired"),
        (Some(format!("Bearer {gone}")), "no longer exists"),
    ];
    for (header, reason) in &cases {
        let mut headers = vec![JSON];
        if let Some(h) = header {
            headers.push(("Authorization", h.as_str()));
        }
        let reply = server.post("/nueve09/clients", &headers, CREATE_EXAMPLE);
        assert_eq!(reply.status, 401, "{header:?}");
        assert_eq!(
            reply.json(),
            json!({"success": false, "code": 401, "message": "Unauthorized", "data": null})
        );
        let challenge = reply.header("WWW-Authenticate").unwrap();
        assert!(
            challenge.starts_with("Bearer") && challenge.contains(reason),
            "{challenge}"
        );
    }
    assert_eq!(server.count("n09_accounts"), 1, "nothing was created");
    // The same claims signed with the database's key are accepted: the checks above failed
    // for their stated reasons, not by accident.
    let reply = create(&server, &format!("Bearer {valid}"), CREATE_EXAMPLE);
    assert_eq!(reply.status, 200, "{}", reply.body);
}

#[test]
fn tokens_stay_valid_across_a_restart_and_die_with_a_reset() {
    let mut server = Server::start();
    let auth = demo_login(&server);
    assert_eq!(server.terminate().code(), Some(0));
    let server = Server::builder().start_in(server.kill());
    assert_eq!(get(&server, &auth, "/catalogs/states").status, 200);
    assert_eq!(server.admin("POST", "/reset", None).status, 200);
    assert_eq!(get(&server, &auth, "/catalogs/states").status, 401);
    let fresh = demo_login(&server);
    assert_eq!(get(&server, &fresh, "/catalogs/states").status, 200);
}

// --- states catalog ---------------------------------------------------------------------

#[test]
fn states_catalog_has_the_32_states_and_needs_a_token() {
    let server = Server::start();
    assert_eq!(server.get("/nueve09/catalogs/states", &[]).status, 401);
    let auth = demo_login(&server);
    let reply = get(&server, &auth, "/catalogs/states");
    assert_eq!(reply.status, 200);
    let body = reply.json();
    assert_eq!(
        (&body["success"], &body["code"], &body["message"]),
        (&json!(true), &json!(0), &json!("OK"))
    );
    let states = body["data"]["states"].as_array().unwrap();
    assert_eq!(states.len(), 32);
    assert!(states.contains(&json!({"code": "CDMX", "name": "Ciudad de México"})));
    assert!(states.contains(&json!({"code": "NL", "name": "Nuevo León"})));
    let reply = server.call(
        "POST",
        "/nueve09/catalogs/states",
        &[("Authorization", &auth)],
        None,
    );
    assert_eq!(reply.status, 405);
}

#[test]
fn state_matches_the_catalog_case_insensitively_and_is_kept_as_its_code() {
    let server = Server::start();
    let auth = demo_login(&server);
    for (n, given, kept) in [
        (1, "cdmx", "CDMX"),
        (2, "Jalisco", "JAL"),
        (3, "nuevo león", "NL"),
    ] {
        let mut body = example_n(n, json!(10));
        body["state"] = json!(given);
        let reply = create(&server, &auth, &body.to_string());
        assert_eq!(reply.status, 200, "{given}: {}", reply.body);
        let id = reply.json()["data"]["subclient"]["id"]
            .as_str()
            .unwrap()
            .to_string();
        let state: String = server
            .db()
            .query_row("SELECT state FROM n09_accounts WHERE id = ?1", [&id], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(state, kept);
    }
}

// --- create -----------------------------------------------------------------------------

#[test]
fn documented_create_example_works_verbatim() {
    let server = Server::start();
    let auth = demo_login(&server);
    let reply = create(&server, &auth, CREATE_EXAMPLE);
    assert_eq!(reply.status, 200, "{}", reply.body);
    let body = reply.json();
    assert_eq!(
        (&body["success"], &body["code"], &body["message"]),
        (&json!(true), &json!(0), &json!("OK"))
    );
    let sub = &body["data"]["subclient"];
    let id = sub["id"].as_str().unwrap();
    let api_key = sub["api_client"]["name"].as_str().unwrap();
    assert_eq!(id.len(), 36, "uuid-like: {id}");
    assert_eq!(api_key.len(), 36, "uuid-like: {api_key}");
    assert_ne!(id, api_key);
    assert_eq!(
        sub,
        &json!({
            "id": id,
            "code": "NOENT",
            "name": "Noentiendo",
            "available": 1000,
            "rfc": "AAMM9001010A1",
            "api_client": {"id": "", "name": api_key, "alias": "NOENT", "description": "Subclient Api Key"},
        })
    );
    // Stored as given, the country codes as digit strings, the password hashed.
    let (parent, country_code, suburb, password_hash): (String, String, String, String) = server
        .db()
        .query_row(
            "SELECT p.alias, c.contact_telephone_country_code, c.suburb, c.password_hash
             FROM n09_accounts c JOIN n09_accounts p ON p.id = c.parent_id WHERE c.id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .unwrap();
    assert_eq!(
        (parent.as_str(), country_code.as_str(), suburb.as_str()),
        ("NUEVE09", "52", "Nápoles")
    );
    assert!(password_hash.starts_with("$argon2id$"));
}

#[test]
fn the_debit_is_visible_through_login() {
    let server = Server::start();
    let auth = demo_login(&server);
    assert_eq!(create(&server, &auth, CREATE_EXAMPLE).status, 200);
    let (_, me) = login(&server, "api_key", "password");
    assert_eq!(me["available"], json!(21814.55));
    assert_eq!(total_cents(&server), DEMO_CENTS, "money moved, none made");
}

#[test]
fn amounts_are_exact_to_the_cent() {
    let server = Server::start();
    let auth = demo_login(&server);
    // 0.29 and 0.1 have no exact binary form; 10 × 0.29 + 10 × 0.1 must still be 3.90.
    for n in 0..20 {
        let amount = if n % 2 == 0 { json!(0.29) } else { json!(0.1) };
        let reply = create(&server, &auth, &example_n(n, amount).to_string());
        assert_eq!(reply.status, 200, "{}", reply.body);
    }
    let reply = create(&server, &auth, &example_n(20, json!("1000.5")).to_string());
    assert_eq!(
        reply.json()["data"]["subclient"]["available"],
        json!(1000.5)
    );
    let (_, me) = login(&server, "api_key", "password");
    assert_eq!(available_cents(&me), DEMO_CENTS - 390 - 100_050);
    assert_eq!(me["available"], json!(21810.15));
    let errors = field_errors(
        &create(&server, &auth, &example_n(21, json!(10.555)).to_string()),
        422,
    );
    assert_eq!(errors["available"], json!(["must have at most 2 decimals"]));
}

#[test]
fn amounts_a_float_would_round_are_refused_not_rounded() {
    let server = Server::start();
    let auth = demo_login(&server);
    // JSON text a float cannot hold: written into the body as is.
    let with_available = |n: u32, text: &str| {
        example_n(n, json!(987654321))
            .to_string()
            .replace("987654321", text)
    };
    for (n, text) in [
        (30, "100.00000000000000000001"),
        (31, "1e-400"),
        (32, "0.000000000000000000000000000001"),
    ] {
        let errors = field_errors(&create(&server, &auth, &with_available(n, text)), 422);
        assert_eq!(
            errors["available"],
            json!(["must have at most 2 decimals"]),
            "{text}"
        );
    }
    let (_, me) = login(&server, "api_key", "password");
    assert_eq!(available_cents(&me), DEMO_CENTS, "nothing was spent");
    // Zeros past the cents lose nothing.
    let exact = create(
        &server,
        &auth,
        &with_available(33, "100.00000000000000000000"),
    );
    assert_eq!(exact.status, 200, "{}", exact.body);
    assert_eq!(exact.json()["data"]["subclient"]["available"], json!(100));
    // A seed is read the same way.
    let seed = r#"{"nueve09": {"accounts": [{"api_key": "k", "password": "p", "name": "Seeded",
                  "alias": "SEEDED", "available": 1e-400}]}}"#;
    let refused = server.admin("POST", "/seed", Some(seed));
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert!(
        refused
            .body
            .contains("available must have at most 2 decimals"),
        "{}",
        refused.body
    );
}

/// (field, bad value, the message's start). Every row breaks exactly one rule of Nueve09's
/// create table (docs/nueve09.md).
fn violations() -> Vec<(&'static str, Value, &'static str)> {
    let long = |n: usize| json!("x".repeat(n));
    vec![
        ("name", json!("Abcd"), "must be 5-30 characters"),
        ("name", long(31), "must be 5-30 characters"),
        ("name", json!(12345), "must be a string"),
        ("alias", json!("AB"), "must be 3-10 characters"),
        ("alias", long(11), "must be 3-10 characters"),
        ("email", json!("  "), "can't be blank"),
        ("email", long(255), "must be at most 254 characters"),
        ("available", json!(-1), "must not be negative"),
        ("available", json!("mil"), "must be a number"),
        ("available", json!(true), "must be a number"),
        ("available", json!(1.001), "must have at most 2 decimals"),
        ("available", json!(1e13), "must be at most"),
        ("phone", json!("555555555"), "must be 10 digits"),
        ("phone", json!("55555555a5"), "must be 10 digits"),
        ("mobile_phone", json!("66666666666"), "must be 10 digits"),
        ("rfc", long(9), "must be 10-13 characters"),
        ("rfc", long(14), "must be 10-13 characters"),
        ("street", json!(""), "can't be blank"),
        ("street", long(21), "must be 1-20 characters"),
        ("ext_street_number", long(6), "must be 1-5 characters"),
        ("int_street_number", long(6), "must be 1-5 characters"),
        ("suburb", long(26), "must be 1-25 characters"),
        ("township", long(26), "must be 1-25 characters"),
        ("city", long(26), "must be 1-25 characters"),
        (
            "state",
            json!("Texas"),
            "must be a state of the States Catalog",
        ),
        ("postal_code", json!("5555"), "must be 5 digits"),
        ("postal_code", json!("5555a"), "must be 5 digits"),
        ("postal_code", json!(123456), "must be 5 digits"),
        ("contact_name", long(13), "must be 1-12 characters"),
        ("contact_second_name", long(13), "must be 1-12 characters"),
        ("contact_surname", long(13), "must be 1-12 characters"),
        (
            "contact_second_surname",
            long(13),
            "must be 1-12 characters",
        ),
        ("contact_email", long(255), "must be at most 254 characters"),
        (
            "contact_telephone_country_code",
            json!("5"),
            "must be 2-3 digits",
        ),
        (
            "contact_telephone_country_code",
            json!(5252),
            "must be 2-3 digits",
        ),
        (
            "contact_telephone_country_code",
            json!(52.5),
            "must be 2-3 digits",
        ),
        (
            "contact_telephone_country_code",
            json!("+52"),
            "must be 2-3 digits",
        ),
        (
            "contact_telephone",
            json!("555-555-55"),
            "must be 10 digits",
        ),
        (
            "contact_mobile_phone_country_code",
            json!("1234"),
            "must be 2-3 digits",
        ),
        (
            "contact_mobile_phone",
            json!("666666666"),
            "must be 10 digits",
        ),
        (
            "legal_representative_name",
            long(13),
            "must be 1-12 characters",
        ),
        (
            "legal_representative_second_name",
            long(13),
            "must be 1-12 characters",
        ),
        (
            "legal_representative_surname",
            long(13),
            "must be 1-12 characters",
        ),
        (
            "legal_representative_second_surname",
            long(13),
            "must be 1-12 characters",
        ),
        (
            "legal_representative_email",
            long(255),
            "must be at most 254 characters",
        ),
        (
            "legal_representative_telephone_country_code",
            json!(1),
            "must be 2-3 digits",
        ),
        (
            "legal_representative_telephone",
            json!("55555"),
            "must be 10 digits",
        ),
        (
            "legal_representative_mobile_phone_country_code",
            json!("abc"),
            "must be 2-3 digits",
        ),
        (
            "legal_representative_mobile_phone",
            json!(66666),
            "must be 10 digits",
        ),
        ("api_key_name", json!("KEY1"), "must be 5-30 characters"),
        ("api_key_name", long(31), "must be 5-30 characters"),
        ("api_key_description", long(31), "must be 1-30 characters"),
        ("api_key_password", json!(""), "can't be blank"),
        ("api_key_password", long(31), "must be 1-30 characters"),
        ("api_key_password", json!(12345), "must be a string"),
    ]
}

#[test]
fn each_violated_pattern_is_422_naming_only_that_field() {
    let server = Server::start();
    let auth = demo_login(&server);
    for (field, value, message) in violations() {
        let mut body = example();
        body[field] = value.clone();
        let errors = field_errors(&create(&server, &auth, &body.to_string()), 422);
        let keys: Vec<&String> = errors.keys().collect();
        assert_eq!(keys, vec![field], "{field} = {value}");
        let got = errors[field][0].as_str().unwrap();
        assert!(got.starts_with(message), "{field} = {value}: {got}");
    }
    assert_eq!(server.count("n09_accounts"), 1, "nothing was created");
    assert_eq!(total_cents(&server), DEMO_CENTS, "no money moved");
}

#[test]
fn each_required_field_left_out_is_named_and_optional_ones_may_be() {
    let server = Server::start();
    let auth = demo_login(&server);
    let fields: Vec<String> = example().as_object().unwrap().keys().cloned().collect();
    let mut required = Vec::new();
    for (n, field) in (0..).zip(&fields) {
        let mut body = example_n(n, json!(1));
        body.as_object_mut().unwrap().remove(field);
        let reply = create(&server, &auth, &body.to_string());
        if reply.status == 422 {
            let errors = field_errors(&reply, 422);
            assert_eq!(errors.len(), 1, "{field}: {errors:?}");
            assert_eq!(errors[field.as_str()], json!(["is required"]));
            required.push(field.clone());
        } else {
            assert!(
                field.contains("second")
                    || field.starts_with("legal_representative")
                    || field == "int_street_number"
                    || field == "api_key_description",
                "{field} is optional in Nueve09's create table: {}",
                reply.body
            );
            assert_eq!(reply.status, 200, "{field}: {}", reply.body);
        }
    }
    assert_eq!(required.len(), 23, "{required:?}");
    // Optional fields may also be null or blank, and then count as left out.
    let mut body = example_n(999, json!(1));
    body["int_street_number"] = Value::Null;
    body["legal_representative_email"] = json!("");
    body["api_key_description"] = json!("  ");
    let reply = create(&server, &auth, &body.to_string());
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        reply.json()["data"]["subclient"]["api_client"]["description"],
        ""
    );
}

#[test]
fn every_violation_is_reported_at_once() {
    let server = Server::start();
    let auth = demo_login(&server);
    let errors = field_errors(&create(&server, &auth, "{}"), 422);
    assert_eq!(errors.len(), 23, "{errors:?}");
    let body = json!({"name": "Nope", "alias": "NOENT", "available": -5, "phone": "12",
                      "state": "Atlantis", "contact_telephone_country_code": 5});
    let errors = field_errors(&create(&server, &auth, &body.to_string()), 422);
    for field in [
        "name",
        "available",
        "phone",
        "state",
        "contact_telephone_country_code",
        "rfc",
    ] {
        assert!(errors.contains_key(field), "{field}: {errors:?}");
    }
    assert!(!errors.contains_key("alias"), "alias is fine");
}

#[test]
fn malformed_bodies_are_400() {
    let server = Server::start();
    let auth = demo_login(&server);
    for (body, expected) in [
        ("{\"name\": ", "not valid JSON"),
        ("", "empty"),
        ("[1, 2]", "JSON object"),
        ("\"Noentiendo\"", "JSON object"),
    ] {
        let reply = create(&server, &auth, body);
        assert_eq!(reply.status, 400, "{body}");
        let json = reply.json();
        assert_eq!(
            (&json["success"], &json["code"]),
            (&json!(false), &json!(400))
        );
        assert!(
            json["message"].as_str().unwrap().contains(expected),
            "{json}"
        );
    }
    assert_eq!(server.count("n09_accounts"), 1);
}

#[test]
fn alias_rfc_and_api_key_name_are_unique_per_account() {
    let server = Server::start();
    let auth = demo_login(&server);
    assert_eq!(create(&server, &auth, CREATE_EXAMPLE).status, 200);
    for (field, repeat) in [
        ("alias", "noent"),
        ("rfc", "aamm9001010a1"),
        ("api_key_name", "sub_client_access"),
    ] {
        let mut body = example_n(1, json!(5));
        body[field] = json!(repeat);
        let errors = field_errors(&create(&server, &auth, &body.to_string()), 409);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[field], json!(["has already been taken"]));
    }
    let errors = field_errors(&create(&server, &auth, CREATE_EXAMPLE), 409);
    assert_eq!(errors.len(), 3, "all three at once: {errors:?}");
    let (_, me) = login(&server, "api_key", "password");
    assert_eq!(
        me["available"],
        json!(21814.55),
        "a refused create moves no money"
    );
    assert_eq!(server.count("n09_accounts"), 2);
}

#[test]
fn an_unfundable_create_is_refused_and_the_whole_balance_can_be_spent() {
    let server = Server::start();
    let auth = demo_login(&server);
    let reply = create(&server, &auth, &example_n(1, json!(22814.56)).to_string());
    let body = reply.json();
    let errors = field_errors(&reply, 422);
    assert_eq!(
        (&body["code"], &body["message"]),
        (&json!(1001), &json!("Insufficient balance"))
    );
    assert!(
        errors["available"][0]
            .as_str()
            .unwrap()
            .contains("22814.55"),
        "{errors:?}"
    );
    assert_eq!(server.count("n09_accounts"), 1);
    let reply = create(&server, &auth, &example_n(2, json!(22814.55)).to_string());
    assert_eq!(reply.status, 200, "{}", reply.body);
    let (_, me) = login(&server, "api_key", "password");
    assert_eq!(me["available"], json!(0));
    let reply = create(&server, &auth, &example_n(3, json!(0.01)).to_string());
    assert_eq!(reply.json()["code"], 1001);
}

#[test]
fn min_balance_option_keeps_a_floor() {
    let server = Server::builder()
        .env("CLIENTELE_NUEVE09_MIN_BALANCE", "3000")
        .start();
    let auth = demo_login(&server);
    // 22814.55 − 3 × 5000 = 7814.55 ≥ 3000; a fourth would leave 2814.55.
    for n in 0..3 {
        assert_eq!(
            create(&server, &auth, &example_n(n, json!(5000)).to_string()).status,
            200
        );
    }
    let reply = create(&server, &auth, &example_n(3, json!(5000)).to_string());
    let errors = field_errors(&reply, 422);
    assert!(errors["available"][0]
        .as_str()
        .unwrap()
        .contains("minimum balance 3000.00"));
    let reply = create(&server, &auth, &example_n(4, json!(4814.55)).to_string());
    assert_eq!(
        reply.status, 200,
        "down to the floor exactly: {}",
        reply.body
    );
    let dir = crate::support::TempDir::new();
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_clientele"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--nueve09-min-balance",
            "1.234",
            "--db",
        ])
        .arg(dir.join("db"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(
        !status.success(),
        "a sub-cent minimum is refused at startup"
    );
}

#[test]
fn concurrent_creates_never_spend_more_than_the_balance() {
    let server = Server::builder()
        .arg("--nueve09-min-balance")
        .arg("0")
        .start();
    let auth = demo_login(&server);
    // 22814.55 covers 4 creates of 5000, not 5; 16 race for it.
    let statuses: Vec<(u16, Value)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..16)
            .map(|n| {
                let (server, auth) = (&server, &auth);
                scope.spawn(move || {
                    let reply = create(server, auth, &example_n(n, json!(5000)).to_string());
                    (reply.status, reply.json())
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let created = statuses.iter().filter(|(s, _)| *s == 200).count();
    assert_eq!(created, 4, "{statuses:?}");
    for (status, body) in &statuses {
        if *status != 200 {
            assert_eq!((*status, &body["code"]), (422, &json!(1001)), "{body}");
        }
    }
    let (_, me) = login(&server, "api_key", "password");
    assert_eq!(me["available"], json!(2814.55));
    assert_eq!(total_cents(&server), DEMO_CENTS, "money is conserved");
    let (children, counted): (i64, i64) = server
        .db()
        .query_row(
            "SELECT (SELECT count(*) FROM n09_accounts WHERE parent_id IS NOT NULL),
                    (SELECT subclient_count FROM n09_accounts WHERE parent_id IS NULL)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((children, counted), (4, 4));
}

// --- sub-clients as tenants -------------------------------------------------------------

#[test]
fn a_sub_client_logs_in_with_its_api_key_and_funds_its_own_sub_clients() {
    let server = Server::start();
    let auth = demo_login(&server);
    let reply = create(&server, &auth, CREATE_EXAMPLE);
    let sub = reply.json()["data"]["subclient"].clone();
    let api_key = sub["api_client"]["name"].as_str().unwrap();

    let (sub_auth, me) = login(&server, api_key, "12345");
    assert_eq!(me["id"], sub["id"]);
    assert_eq!(
        (&me["name"], &me["alias"], &me["code"], &me["available"]),
        (
            &json!("Noentiendo"),
            &json!("NOENT"),
            &json!("NOENT"),
            &json!(1000)
        )
    );
    let reply = server.post(
        "/nueve09/auth/login",
        &[JSON],
        &json!({"api_client": {"api_key": api_key, "password": "1234"}}).to_string(),
    );
    assert_eq!(reply.status, 401, "the api_key_password, not another");

    // Alias, RFC and key name are unique per account: the sub-client may reuse them.
    let mut grandchild = example();
    grandchild["available"] = json!(250.5);
    let reply = create(&server, &sub_auth, &grandchild.to_string());
    assert_eq!(reply.status, 200, "{}", reply.body);
    let grandchild_id = reply.json()["data"]["subclient"]["id"].clone();
    let (_, me) = login(&server, api_key, "12345");
    assert_eq!(me["available"], json!(749.5));
    let too_much = example_n(1, json!(749.51));
    assert_eq!(
        create(&server, &sub_auth, &too_much.to_string()).json()["code"],
        1001
    );

    let (_, top) = login(&server, "api_key", "password");
    assert_eq!(
        top["available"],
        json!(21814.55),
        "a grandchild is funded by its parent only"
    );
    let mine = get(&server, &auth, "/clients").json();
    assert_eq!(mine["data"]["pagination"]["total"], 1);
    assert_eq!(mine["data"]["subclients"][0]["id"], sub["id"]);
    assert_eq!(mine["data"]["subclients"][0]["available"], json!(749.5));
    let theirs = get(&server, &sub_auth, "/clients").json();
    assert_eq!(theirs["data"]["subclients"][0]["id"], grandchild_id);
    let path = format!("/clients/{}", grandchild_id.as_str().unwrap());
    assert_eq!(
        get(&server, &auth, &path).status,
        404,
        "not the top account's own"
    );
    assert_eq!(total_cents(&server), DEMO_CENTS);
}

// --- reading sub-clients ----------------------------------------------------------------

#[test]
fn sub_clients_are_listed_in_pages_and_read_by_id() {
    let server = Server::start();
    let auth = demo_login(&server);
    let ids: Vec<String> = (0..3)
        .map(|n| {
            let reply = create(&server, &auth, &example_n(n, json!(100 + n)).to_string());
            reply.json()["data"]["subclient"]["id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();

    let page1 = get(&server, &auth, "/clients?per_page=2").json();
    assert_eq!(
        (&page1["success"], &page1["code"]),
        (&json!(true), &json!(0))
    );
    assert_eq!(
        page1["data"]["pagination"],
        json!({"page": 1, "per_page": 2, "total": 3, "total_pages": 2})
    );
    let listed: Vec<&str> = page1["data"]["subclients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        listed,
        vec![ids[0].as_str(), ids[1].as_str()],
        "in creation order"
    );
    let page2 = get(&server, &auth, "/clients?page=2&per_page=2").json();
    assert_eq!(page2["data"]["subclients"][0]["id"], json!(ids[2]));
    let beyond = get(&server, &auth, "/clients?page=3&per_page=2").json();
    assert_eq!(beyond["data"]["subclients"], json!([]));

    let reply = get(&server, &auth, &format!("/clients/{}", ids[1]));
    assert_eq!(reply.status, 200);
    let sub = &reply.json()["data"]["subclient"];
    assert_eq!(
        sub, &page1["data"]["subclients"][1],
        "the list shows what GET shows"
    );
    assert_eq!(
        (
            &sub["code"],
            &sub["alias"],
            &sub["available"],
            &sub["state"],
            &sub["contact_telephone_country_code"]
        ),
        (
            &json!("SUB1"),
            &json!("SUB1"),
            &json!(101),
            &json!("CDMX"),
            &json!("52")
        )
    );
    assert_eq!(
        sub["api_client"],
        json!({"id": "", "alias": "SUB1", "description": "Subclient Api Key"})
    );
    assert!(sub.get("api_key_password").is_none());

    let missing = get(&server, &auth, "/clients/no-such-id");
    assert_eq!(missing.status, 404);
    assert_eq!(
        missing.json(),
        json!({"success": false, "code": 404, "message": "Not found", "data": null})
    );
    for query in ["page=0", "page=x", "per_page=0", "per_page=101"] {
        let errors = field_errors(&get(&server, &auth, &format!("/clients?{query}")), 422);
        assert_eq!(errors.len(), 1, "{query}");
    }
    assert_eq!(server.get("/nueve09/clients", &[]).status, 401);
    let reply = server.call(
        "DELETE",
        &format!("/nueve09/clients/{}", ids[0]),
        &[("Authorization", &auth)],
        None,
    );
    assert_eq!(reply.status, 405);
    assert_eq!(reply.header("Allow"), Some("GET"));
}

// --- plumbing ---------------------------------------------------------------------------

#[test]
fn unknown_paths_get_the_vendor_envelope() {
    let server = Server::start();
    let reply = server.get("/nueve09/nothing", &[]);
    assert_eq!(reply.status, 404);
    assert_eq!(
        reply.json(),
        json!({"success": false, "code": 404, "message": "Not found", "data": null})
    );
}

#[test]
fn dedicated_listener_serves_nueve09_at_the_root() {
    let (server, url) = Server::with_dedicated("nueve09");
    let reply = call(
        "POST",
        &format!("{url}/auth/login"),
        &[JSON],
        Some(LOGIN_EXAMPLE.as_bytes()),
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    let auth = reply.header("Authorization").unwrap().to_string();
    let reply = call(
        "POST",
        &format!("{url}/clients"),
        &[("Authorization", &auth), JSON],
        Some(CREATE_EXAMPLE.as_bytes()),
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    // The same token works on the main listener: one server, one database.
    assert_eq!(
        get(&server, &auth, "/clients").json()["data"]["pagination"]["total"],
        1
    );
}

#[test]
fn the_database_file_holds_no_api_key_or_password_in_the_clear() {
    let mut server = Server::start();
    let auth = demo_login(&server);
    let mut body = example();
    body["api_key_password"] = json!("Sub-Secret-Pass-42");
    let reply = create(&server, &auth, &body.to_string());
    let api_key = reply.json()["data"]["subclient"]["api_client"]["name"]
        .as_str()
        .unwrap()
        .to_string();
    login(&server, &api_key, "Sub-Secret-Pass-42");
    server.terminate();
    for suffix in ["", "-wal"] {
        let path = format!("{}{suffix}", server.db_path().display());
        let bytes = std::fs::read(&path).unwrap_or_default();
        let text = String::from_utf8_lossy(&bytes);
        for secret in [api_key.as_str(), "Sub-Secret-Pass-42"] {
            assert!(!text.contains(secret), "{secret} in {path}");
        }
    }
}

#[test]
fn a_body_over_one_mib_is_413_in_the_envelope() {
    let server = Server::start();
    let auth = demo_login(&server);
    let body = format!("{{\"name\": \"{}\"}}", "x".repeat(2 * 1024 * 1024));
    let reply = create(&server, &auth, &body);
    assert_eq!(reply.status, 413);
    assert_eq!(reply.json()["code"], 413);
}
