//! MakeLeaps (docs/makeleaps.md) against the real binary: OAuth2 client credentials, the three
//! transcripts of MakeLeaps' clients tutorial verbatim, paging, DRF-style errors that change nothing, partner isolation.

use serde_json::{json, Value};

use crate::support::{call, Reply, Server};

/// The demo partner (src/demo.json), and the demo client that the tutorial's PATCH and DELETE name.
const PARTNER: &str = "0000000000000000000";
const DEMO_CLIENT: &str = "0000000000000000000";
const JSON: (&str, &str) = ("Content-Type", "application/json");
const FORM: (&str, &str) = ("Content-Type", "application/x-www-form-urlencoded");

/// A second partner, seeded through the admin API where a test needs two.
const OTHER: &str = "1111111111111111111";

fn basic(id: &str, secret: &str) -> String {
    use base64::Engine;
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"));
    format!("Basic {encoded}")
}

fn demo_basic() -> String {
    basic("demo-client-id", "demo-client-secret")
}

fn request_token(server: &Server, authorization: &str, body: &str) -> Reply {
    server.post(
        "/makeleaps/user/oauth2/token/",
        &[("Authorization", authorization), FORM],
        body,
    )
}

/// A fresh access token for the given client credentials.
fn token_for(server: &Server, authorization: &str) -> String {
    let reply = request_token(server, authorization, "grant_type=client_credentials");
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.json()["access_token"]
        .as_str()
        .expect("an access token")
        .to_string()
}

fn demo_token(server: &Server) -> String {
    token_for(server, &demo_basic())
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

fn clients_path(partner: &str) -> String {
    format!("/makeleaps/api/partner/{partner}/client/")
}

fn client_path(partner: &str, client: &str) -> String {
    format!("/makeleaps/api/partner/{partner}/client/{client}/")
}

fn api(server: &Server, method: &str, path: &str, token: &str, body: Option<&Value>) -> Reply {
    let auth = bearer(token);
    let text = body.map(Value::to_string);
    server.call(
        method,
        path,
        &[("Authorization", auth.as_str()), JSON],
        text.as_deref().map(str::as_bytes),
    )
}

fn new_client(external_id: &str, family_name: &str) -> Value {
    json!({"client_external_id": external_id, "contacts": [
        {"contact_type": "person", "family_name": family_name, "addresses": [], "email": null}]})
}

/// The `response` of an enveloped answer, after checking `meta.status` matches HTTP.
fn response_of(reply: &Reply) -> Value {
    let body = reply.json();
    assert_eq!(body["meta"]["status"], reply.status, "{}", reply.body);
    body["response"].clone()
}

/// Follows a full URL from a response body (they point at this server).
fn follow(url: &str, token: &str) -> Reply {
    let auth = bearer(token);
    call("GET", url, &[("Authorization", auth.as_str())], None)
}

/// Adds a second partner, with one client, through the admin API.
fn seed_other_partner(server: &Server) -> String {
    let doc = json!({"makeleaps": {
        "partners": [{"mid": OTHER, "name": "Other Partner",
                      "client_id": "other-client-id", "client_secret": "other-client-secret"}],
        "clients": [{"mid": "1111111111111111112", "partner": OTHER,
                     "client_external_id": "OTHER-1",
                     "contacts": [{"contact_type": "organization", "name": "Other Co"}]}]}});
    let reply = server.admin("POST", "/seed", Some(&doc.to_string()));
    assert_eq!(reply.status, 200, "{}", reply.body);
    token_for(server, &basic("other-client-id", "other-client-secret"))
}

// ---- MakeLeaps' clients tutorial, verbatim ----

/// The tutorial's three requests, preceded by a token request, exactly as its transcripts show
/// them (headers and bodies; only the bearer placeholder is replaced by a real token).
#[test]
fn seed_transcripts_work_verbatim_against_the_demo() {
    let server = Server::start();
    let auth = bearer(&demo_token(&server));
    let python = [
        ("User-Agent", "python-requests/2.21.0"),
        ("Accept-Encoding", "gzip, deflate"),
        ("Accept", "*/*"),
        ("Connection", "keep-alive"),
        ("Authorization", auth.as_str()),
        JSON,
    ];

    let post_body = r#"{"client_external_id": "CLIENT-12345", "contacts": [{"contact_type": "organization", "name": "Example Co", "addresses": [], "email": null}, {"contact_type": "person", "family_name": "Sato", "addresses": [], "email": {"address": ""}}]}"#;
    let created = server.post(
        "/makeleaps/api/partner/0000000000000000000/client/",
        &python,
        post_body,
    );
    assert_eq!(created.status, 201, "{}", created.body);
    let client = response_of(&created);
    let mid = client["mid"].as_str().unwrap().to_string();
    assert_eq!(mid.len(), 19);
    assert!(mid.bytes().all(|b| b.is_ascii_digit()));
    let url = format!("{}{}", server.url, client_path(PARTNER, &mid));
    assert_eq!(client["url"], url);
    assert_eq!(created.header("Location"), Some(url.as_str()));
    assert_eq!(client["display_name"], "Example Co");
    assert_eq!(client["client_external_id"], "CLIENT-12345");
    assert_eq!(client["is_organization"], true);
    let contacts = client["contacts"].as_array().unwrap();
    assert_eq!(contacts.len(), 2);
    assert_eq!(client["default_contact"], contacts[0]);
    let token = auth.trim_start_matches("Bearer ");
    let sato = response_of(&follow(contacts[1].as_str().unwrap(), token));
    assert_eq!(sato["family_name"], "Sato");
    assert_eq!(
        sato["email"],
        Value::Null,
        "an empty address means no e-mail"
    );
    assert_eq!(sato["owner"], url);

    let before: (String, String) = demo_client_row(&server);
    let patched = server.call(
        "PATCH",
        "/makeleaps/api/partner/0000000000000000000/client/0000000000000000000/",
        &python,
        Some(br#"{"default_client": "{ mid }/client/{ client_mid }/"}"#),
    );
    assert_eq!(patched.status, 200, "{}", patched.body);
    let demo = response_of(&patched);
    assert_eq!(demo["mid"], DEMO_CLIENT);
    assert_eq!(
        demo_client_row(&server),
        before,
        "an unknown field changes nothing"
    );

    let deleted = server.call(
        "DELETE",
        "/makeleaps/api/partner/0000000000000000000/client/0000000000000000000/",
        &python,
        Some(b""),
    );
    assert_eq!(deleted.status, 204, "{}", deleted.body);
    assert_eq!(deleted.body, "");
    let gone = api(
        &server,
        "GET",
        &client_path(PARTNER, DEMO_CLIENT),
        token,
        None,
    );
    assert_eq!(gone.status, 404);
    assert_eq!(response_of(&gone), json!({"detail": "Not found."}));
    // DRF answers OPTIONS from the view, without looking the object up
    // (.ci/schemathesis.toml exempts these from use_after_free for that reason).
    for path in [
        client_path(PARTNER, DEMO_CLIENT),
        format!("{}contact/", client_path(PARTNER, DEMO_CLIENT)),
    ] {
        let options = api(&server, "OPTIONS", &path, token, None);
        assert_eq!(options.status, 200, "{path}: {}", options.body);
    }
    let db = server.db();
    let contacts_left: i64 = db
        .query_row(
            "SELECT count(*) FROM ml_contacts WHERE client_mid = ?1",
            [DEMO_CLIENT],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(contacts_left, 0, "the client's contacts go with it");
    assert_eq!(server.count("ml_clients"), 1, "only the new client is left");
}

fn demo_client_row(server: &Server) -> (String, String) {
    server
        .db()
        .query_row(
            "SELECT client_external_id, default_contact_mid FROM ml_clients WHERE mid = ?1",
            [DEMO_CLIENT],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap()
}

/// The seed's python snippet PATCHes the list URL; the list allows no PATCH.
#[test]
fn patching_the_list_url_is_405_with_allow() {
    let server = Server::start();
    let token = demo_token(&server);
    let body = json!({"default_client": "x"});
    let reply = api(
        &server,
        "PATCH",
        &clients_path(PARTNER),
        &token,
        Some(&body),
    );
    assert_eq!(reply.status, 405);
    assert_eq!(reply.header("Allow"), Some("GET, POST, HEAD, OPTIONS"));
    assert_eq!(
        response_of(&reply),
        json!({"detail": "Method \"PATCH\" not allowed."})
    );
    let instance = api(
        &server,
        "OPTIONS",
        &client_path(PARTNER, DEMO_CLIENT),
        &token,
        None,
    );
    assert_eq!(instance.status, 200);
    assert_eq!(
        instance.header("Allow"),
        Some("GET, PUT, PATCH, DELETE, HEAD, OPTIONS")
    );
    assert_eq!(response_of(&instance)["name"], "Client Instance");
}

// ---- OAuth2 ----

#[test]
fn token_answer_is_oauth2_with_no_store_and_is_kept_hashed() {
    let server = Server::start();
    let reply = request_token(&server, &demo_basic(), "grant_type=client_credentials");
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("Cache-Control"), Some("no-store"));
    assert_eq!(reply.header("Pragma"), Some("no-cache"));
    let body = reply.json();
    assert_eq!(body["expires_in"], 36000);
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["scope"], "read write");
    let token = body["access_token"].as_str().unwrap();
    assert_eq!(token.len(), 30);
    assert!(token.bytes().all(|b| b.is_ascii_alphanumeric()));

    let stored: Vec<u8> = server
        .db()
        .query_row("SELECT token_hash FROM ml_tokens", [], |r| r.get(0))
        .unwrap();
    assert_eq!(stored.len(), 32, "a SHA-256, not the token");
    assert!(!String::from_utf8_lossy(&stored).contains(token));

    // Tokens can be requested any number of times; each works.
    let second = demo_token(&server);
    assert_ne!(second, token);
    for t in [token, second.as_str()] {
        let reply = api(&server, "GET", "/makeleaps/api/partner/", t, None);
        assert_eq!(reply.status, 200);
    }
}

#[test]
fn client_credentials_also_work_in_the_form() {
    let server = Server::start();
    let reply = server.post(
        "/makeleaps/user/oauth2/token/",
        &[FORM],
        "grant_type=client_credentials&client_id=demo-client-id&client_secret=demo-client-secret",
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
}

#[test]
fn bad_client_credentials_are_401_invalid_client() {
    let server = Server::start();
    let wrong_secret = basic("demo-client-id", "nope");
    let unknown_id = basic("someone", "demo-client-secret");
    for auth in [
        Some(wrong_secret.as_str()),
        Some(unknown_id.as_str()),
        Some("Basic !!!"),
        Some("Bearer abc"),
        None,
    ] {
        let mut headers = vec![FORM];
        if let Some(a) = auth {
            headers.push(("Authorization", a));
        }
        let reply = server.post(
            "/makeleaps/user/oauth2/token/",
            &headers,
            "grant_type=client_credentials",
        );
        assert_eq!(reply.status, 401, "{auth:?}");
        assert_eq!(reply.json(), json!({"error": "invalid_client"}));
        assert_eq!(
            reply.header("WWW-Authenticate"),
            Some("Bearer, error=\"invalid_client\"")
        );
    }
    // The recorded answer of the real service: an empty body and bad credentials.
    let reply = request_token(&server, &wrong_secret, "");
    assert_eq!(reply.status, 401);
    assert_eq!(server.count("ml_tokens"), 0);
}

#[test]
fn grant_types_are_checked_as_oauth2_says() {
    let server = Server::start();
    let reply = request_token(&server, &demo_basic(), "grant_type=magic");
    assert_eq!(reply.status, 400);
    assert_eq!(reply.json()["error"], "unsupported_grant_type");
    let reply = request_token(&server, &demo_basic(), "grant_type=password");
    assert_eq!(reply.status, 400);
    assert_eq!(reply.json()["error"], "unauthorized_client");
    let reply = request_token(&server, &demo_basic(), "");
    assert_eq!(reply.status, 400);
    assert_eq!(reply.json()["error"], "invalid_request");
    assert_eq!(server.count("ml_tokens"), 0);
    let reply = server.get("/makeleaps/user/oauth2/token/", &[]);
    assert_eq!(reply.status, 405);
    assert_eq!(reply.header("Allow"), Some("POST"));
}

#[test]
fn api_calls_need_a_live_bearer_token() {
    let server = Server::start();
    let path = clients_path(PARTNER);
    let reply = server.get(&path, &[]);
    assert_eq!(reply.status, 401);
    assert_eq!(
        response_of(&reply),
        json!({"detail": "Authentication credentials were not provided."})
    );
    assert_eq!(
        reply.header("WWW-Authenticate"),
        Some("Bearer realm=\"api\"")
    );
    // The transcripts' placeholder is not a token.
    let reply = api(
        &server,
        "GET",
        &path,
        "XXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
        None,
    );
    assert_eq!(reply.status, 401);
    assert_eq!(response_of(&reply), json!({"detail": "Invalid token."}));
    let reply = server.get(&path, &[("Authorization", demo_basic().as_str())]);
    assert_eq!(reply.status, 401, "Basic is for the token endpoint only");
}

#[test]
fn an_expired_token_is_refused() {
    let server = Server::start();
    let token = demo_token(&server);
    let path = clients_path(PARTNER);
    assert_eq!(api(&server, "GET", &path, &token, None).status, 200);
    // Ten hours pass: move the token's expiry into the past in the database itself.
    let db = server.db();
    db.execute(
        "UPDATE ml_tokens SET expires_at = expires_at - 36000 * 1000",
        [],
    )
    .unwrap();
    drop(db);
    let reply = api(&server, "GET", &path, &token, None);
    assert_eq!(reply.status, 401);
    assert_eq!(response_of(&reply), json!({"detail": "Invalid token."}));
    // A new token sweeps the expired one away.
    let fresh = demo_token(&server);
    assert_eq!(api(&server, "GET", &path, &fresh, None).status, 200);
    assert_eq!(server.count("ml_tokens"), 1);
}

#[test]
fn a_revoked_token_is_refused_whichever_way_it_was_revoked() {
    let server = Server::start();
    let path = clients_path(PARTNER);
    let auth = demo_basic();

    let in_form = demo_token(&server);
    // Used once before it is revoked: the server must not keep trusting what it saw then.
    assert_eq!(api(&server, "GET", &path, &in_form, None).status, 200);
    let reply = server.post(
        "/makeleaps/user/oauth2/revoke-token/",
        &[("Authorization", auth.as_str()), FORM],
        &format!("token={in_form}"),
    );
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body, "");
    assert_eq!(api(&server, "GET", &path, &in_form, None).status, 401);

    // As the Ruby client does it: the token in the query, an empty JSON request.
    let in_query = demo_token(&server);
    let reply = server.call(
        "POST",
        &format!("/makeleaps/user/oauth2/revoke-token/?token={in_query}"),
        &[("Authorization", auth.as_str()), JSON],
        Some(b""),
    );
    assert_eq!(reply.status, 200);
    assert_eq!(api(&server, "GET", &path, &in_query, None).status, 401);

    // Revoking needs the client's credentials, and a token to revoke.
    let live = demo_token(&server);
    let reply = server.post(
        "/makeleaps/user/oauth2/revoke-token/",
        &[
            ("Authorization", basic("demo-client-id", "x").as_str()),
            FORM,
        ],
        &format!("token={live}"),
    );
    assert_eq!(reply.status, 401);
    assert_eq!(reply.json()["error"], "invalid_client");
    let reply = server.post(
        "/makeleaps/user/oauth2/revoke-token/",
        &[("Authorization", auth.as_str()), FORM],
        "",
    );
    assert_eq!(reply.status, 400);
    assert_eq!(reply.json()["error"], "invalid_request");
    // An unknown token is "revoked" quietly (RFC 7009).
    let reply = server.post(
        "/makeleaps/user/oauth2/revoke-token/",
        &[("Authorization", auth.as_str()), FORM],
        "token=unknown",
    );
    assert_eq!(reply.status, 200);
    assert_eq!(api(&server, "GET", &path, &live, None).status, 200);
}

#[test]
fn a_partner_cannot_revoke_another_partners_token() {
    let server = Server::start();
    let other = seed_other_partner(&server);
    let reply = server.post(
        "/makeleaps/user/oauth2/revoke-token/",
        &[("Authorization", demo_basic().as_str()), FORM],
        &format!("token={other}"),
    );
    assert_eq!(reply.status, 200, "no telling whose token it is");
    assert_eq!(
        api(&server, "GET", &clients_path(OTHER), &other, None).status,
        200
    );
}

#[test]
fn tokens_and_clients_survive_a_restart() {
    let server = Server::start();
    let token = demo_token(&server);
    let created = api(
        &server,
        "POST",
        &clients_path(PARTNER),
        &token,
        Some(&new_client("KEEP-1", "Kept")),
    );
    assert_eq!(created.status, 201);
    let mid = response_of(&created)["mid"].as_str().unwrap().to_string();
    let dir = server.kill();
    let server = Server::builder().start_in(dir);
    let reply = api(&server, "GET", &client_path(PARTNER, &mid), &token, None);
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(response_of(&reply)["client_external_id"], "KEEP-1");
}

// ---- partners ----

#[test]
fn the_partner_list_holds_the_tokens_partner_alone() {
    let server = Server::start();
    let token = demo_token(&server);
    seed_other_partner(&server);
    let reply = api(&server, "GET", "/makeleaps/api/partner/", &token, None);
    assert_eq!(reply.status, 200);
    let body = reply.json();
    assert_eq!(
        body["meta"],
        json!({"next": null, "prev": null, "page": 1, "count": 1, "status": 200})
    );
    let partner = &body["response"][0];
    let url = format!("{}/makeleaps/api/partner/{PARTNER}/", server.url);
    assert_eq!(partner["url"], url);
    assert_eq!(partner["name"], "Demo Partner");
    assert_eq!(partner["clients"], format!("{url}client/"));
    assert_eq!(partner["integrations"], json!({}));
    let one = follow(partner["url"].as_str().unwrap(), &token);
    assert_eq!(one.status, 200);
    assert_eq!(response_of(&one), *partner);
    let other = api(
        &server,
        "GET",
        &format!("/makeleaps/api/partner/{OTHER}/"),
        &token,
        None,
    );
    assert_eq!(other.status, 404);
}

// ---- clients ----

#[test]
fn paging_follows_meta_next_through_every_client() {
    let server = Server::start();
    let token = demo_token(&server);
    let mut created = vec![DEMO_CLIENT.to_string()];
    for i in 0..4 {
        let reply = api(
            &server,
            "POST",
            &clients_path(PARTNER),
            &token,
            Some(&new_client(&format!("PAGE-{i}"), "Page")),
        );
        assert_eq!(reply.status, 201, "{}", reply.body);
        created.push(response_of(&reply)["mid"].as_str().unwrap().to_string());
    }

    let first = format!("{}{}?per_page=2", server.url, clients_path(PARTNER));
    let mut next = Some(first.clone());
    let mut seen = Vec::new();
    let mut pages = Vec::new();
    while let Some(url) = next {
        let reply = follow(&url, &token);
        assert_eq!(reply.status, 200, "{url}: {}", reply.body);
        let body = reply.json();
        assert_eq!(body["meta"]["count"], 5);
        pages.push(body["meta"].clone());
        for client in body["response"].as_array().unwrap() {
            seen.push(client["mid"].as_str().unwrap().to_string());
        }
        next = body["meta"]["next"].as_str().map(str::to_string);
    }
    assert_eq!(seen, created, "every client once, in creation order");
    assert_eq!(pages.len(), 3);
    assert_eq!(pages[0]["prev"], Value::Null);
    assert_eq!(
        pages[1]["next"],
        format!("{}{}?page=3&per_page=2", server.url, clients_path(PARTNER))
    );
    assert_eq!(pages[1]["prev"], first, "back to page 1 drops `page`");
    assert_eq!(pages[2]["page"], 3);

    let past = api(
        &server,
        "GET",
        &format!("{}?page=9", clients_path(PARTNER)),
        &token,
        None,
    );
    assert_eq!(past.status, 404);
    assert_eq!(response_of(&past), json!({"detail": "Invalid page."}));
    let last = api(
        &server,
        "GET",
        &format!("{}?page=last&per_page=2", clients_path(PARTNER)),
        &token,
        None,
    );
    assert_eq!(last.json()["meta"]["page"], 3);
}

#[test]
fn a_dedicated_listener_serves_makeleaps_at_the_root_with_its_own_links() {
    let (_server, base) = Server::with_dedicated("makeleaps");
    let reply = call(
        "POST",
        &format!("{base}/user/oauth2/token/"),
        &[("Authorization", demo_basic().as_str()), FORM],
        Some(b"grant_type=client_credentials"),
    );
    assert_eq!(reply.status, 200);
    let token = reply.json()["access_token"].as_str().unwrap().to_string();
    let list = follow(
        &format!("{base}/api/partner/{PARTNER}/client/?per_page=1"),
        &token,
    );
    let body = list.json();
    assert_eq!(
        body["response"][0]["url"],
        format!("{base}/api/partner/{PARTNER}/client/{DEMO_CLIENT}/")
    );
    assert_eq!(body["meta"]["next"], Value::Null);
    let contact = body["response"][0]["default_contact"].as_str().unwrap();
    assert!(contact.starts_with(&format!("{base}/api/")), "{contact}");
    assert_eq!(follow(contact, &token).status, 200);
}

#[test]
fn a_client_lists_its_contacts_in_order() {
    let server = Server::start();
    let token = demo_token(&server);
    let path = format!("{}contact/", client_path(PARTNER, DEMO_CLIENT));
    let reply = api(&server, "GET", &path, &token, None);
    assert_eq!(reply.status, 200, "{}", reply.body);
    let body = reply.json();
    assert_eq!(body["meta"]["count"], 2);
    let contacts = body["response"].as_array().unwrap();
    assert_eq!(contacts[0]["contact_type"], "organization");
    assert_eq!(contacts[0]["name"], "Example Co");
    assert_eq!(contacts[0]["is_default"], true);
    assert_eq!(contacts[1]["display_name"], "Taro");
    assert_eq!(contacts[1]["email"], json!({"address": "taro@example.com"}));
    assert_eq!(contacts[1]["is_default"], false);
    let missing = api(
        &server,
        "GET",
        &format!("{}contact/", client_path(PARTNER, "1234567890123456789")),
        &token,
        None,
    );
    assert_eq!(missing.status, 404);
}

#[test]
fn updates_replace_contacts_by_url_and_move_the_default() {
    let server = Server::start();
    let token = demo_token(&server);
    let path = client_path(PARTNER, DEMO_CLIENT);
    let demo = response_of(&api(&server, "GET", &path, &token, None));
    let org = demo["contacts"][0].as_str().unwrap().to_string();
    let taro = demo["contacts"][1].as_str().unwrap().to_string();

    // PATCH with the documented shape: contact URLs (here on MakeLeaps' own host) and a
    // default. The organization is left out, so it is deleted.
    let real_host_taro = taro.replace(
        &format!("{}/makeleaps", server.url),
        "https://api.makeleaps.com",
    );
    let body = json!({"client_external_id": "CLIENT-99", "contacts": [real_host_taro],
                      "default_contact": taro});
    let reply = api(&server, "PATCH", &path, &token, Some(&body));
    assert_eq!(reply.status, 200, "{}", reply.body);
    let client = response_of(&reply);
    assert_eq!(client["contacts"], json!([taro]));
    assert_eq!(client["default_contact"], taro);
    assert_eq!(client["display_name"], "Taro");
    assert_eq!(client["is_organization"], false);
    assert_eq!(client["client_external_id"], "CLIENT-99");
    assert_eq!(follow(&org, &token).status, 404, "the organization is gone");
    assert_eq!(server.count("ml_contacts"), 1);

    // PUT is a full update: `contacts` is required; a nested object adds a new contact.
    let reply = api(
        &server,
        "PUT",
        &path,
        &token,
        Some(&json!({"client_external_id": "X"})),
    );
    assert_eq!(reply.status, 400);
    assert_eq!(
        response_of(&reply),
        json!({"contacts": ["This field is required."]})
    );
    let body = json!({"contacts": [taro, {"contact_type": "organization", "name": "New Co"}]});
    let reply = api(&server, "PUT", &path, &token, Some(&body));
    assert_eq!(reply.status, 200, "{}", reply.body);
    let client = response_of(&reply);
    assert_eq!(client["display_name"], "New Co");
    assert_eq!(
        client["client_external_id"], "CLIENT-99",
        "kept when not given"
    );
    assert_eq!(client["default_contact"], taro);
    let new_co = response_of(&follow(client["contacts"][1].as_str().unwrap(), &token));
    assert_eq!(new_co["name"], "New Co");
    assert_eq!(new_co["owner"], client["url"]);
}

#[test]
fn bad_updates_are_drf_errors_that_change_nothing() {
    let server = Server::start();
    let token = demo_token(&server);
    seed_other_partner(&server);
    let path = client_path(PARTNER, DEMO_CLIENT);
    let other_contact = format!("{}/makeleaps/api/partner/{OTHER}/contact/1/", server.url);
    let snapshot = |server: &Server| -> Vec<(String, i64)> {
        server
            .db()
            .rows(
                "SELECT mid, position FROM ml_contacts WHERE client_mid = ?1 ORDER BY mid",
                [DEMO_CLIENT],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap()
    };
    let before = (snapshot(&server), demo_client_row(&server));
    let cases = [
        (
            json!({"contacts": []}),
            json!({"contacts": ["This list may not be empty."]}),
        ),
        (
            json!({"contacts": [other_contact]}),
            json!({"contacts": ["Invalid hyperlink - Object does not exist."]}),
        ),
        (
            json!({"contacts": ["nonsense"]}),
            json!({"contacts": ["Invalid hyperlink - No URL match."]}),
        ),
        (
            json!({"contacts": [7]}),
            json!({"contacts": [["Incorrect type. Expected URL string, received int."]]}),
        ),
        (
            json!({"default_contact": other_contact}),
            json!({"default_contact": ["Invalid hyperlink - Object does not exist."]}),
        ),
        (
            json!({"default_contact": null}),
            json!({"default_contact": ["This field may not be null."]}),
        ),
        (
            json!({"client_external_id": "OTHER-1", "contacts": [{"contact_type": "person"}]}),
            json!({"contacts": [{"family_name": ["This field is required."]}]}),
        ),
        (
            json!("just a string"),
            json!({"non_field_errors": ["Invalid data. Expected a dictionary, but got str."]}),
        ),
    ];
    for (body, expected) in cases {
        let reply = api(&server, "PATCH", &path, &token, Some(&body));
        assert_eq!(reply.status, 400, "{body}: {}", reply.body);
        assert_eq!(response_of(&reply), expected, "{body}");
    }
    // Two clients of one partner cannot share an external id.
    let created = api(
        &server,
        "POST",
        &clients_path(PARTNER),
        &token,
        Some(&new_client("TAKEN-1", "Taken")),
    );
    assert_eq!(created.status, 201);
    let reply = api(
        &server,
        "PATCH",
        &path,
        &token,
        Some(&json!({"client_external_id": "TAKEN-1", "contacts": [
            {"contact_type": "organization", "name": "Would Be Added"}]})),
    );
    assert_eq!(reply.status, 400);
    assert_eq!(
        response_of(&reply),
        json!({"client_external_id": ["client with this client external id already exists."]})
    );
    assert_eq!((snapshot(&server), demo_client_row(&server)), before);
}

#[test]
fn bad_creates_are_400_naming_the_field_and_store_nothing() {
    let server = Server::start();
    let token = demo_token(&server);
    let path = clients_path(PARTNER);
    let long = "x".repeat(256);
    let cases = [
        (json!({}), json!({"contacts": ["This field is required."]})),
        (
            json!({"contacts": {"contact_type": "person"}}),
            json!({"contacts": ["Expected a list of items but got type \"dict\"."]}),
        ),
        (
            json!({"contacts": [{"contact_type": "robot"}]}),
            json!({"contacts": [{"contact_type": ["\"robot\" is not a valid choice."]}]}),
        ),
        (
            json!({"contacts": [{"contact_type": "organization", "name": ""},
                                {"contact_type": "person", "family_name": "Ok"}]}),
            json!({"contacts": [{"name": ["This field may not be blank."]}, {}]}),
        ),
        (
            json!({"contacts": [{"contact_type": "person", "family_name": "A",
                                 "email": {"address": "not-an-address"}}]}),
            json!({"contacts": [{"email": {"address": ["Enter a valid email address."]}}]}),
        ),
        (
            json!({"contacts": [{"contact_type": "person", "family_name": "A",
                                 "email": "a@example.com"}]}),
            json!({"contacts": [{"email": {"non_field_errors": [
                "Invalid data. Expected a dictionary, but got str."]}}]}),
        ),
        (
            json!({"contacts": [{"contact_type": "person", "family_name": long}]}),
            json!({"contacts": [{"family_name": [
                "Ensure this field has no more than 255 characters."]}]}),
        ),
        (
            json!({"client_external_id": "CLIENT-00000",
                   "contacts": [{"contact_type": "person", "family_name": "A"}]}),
            json!({"client_external_id": ["client with this client external id already exists."]}),
        ),
    ];
    for (body, expected) in cases {
        let reply = api(&server, "POST", &path, &token, Some(&body));
        assert_eq!(reply.status, 400, "{body}: {}", reply.body);
        assert_eq!(response_of(&reply), expected, "{body}");
    }

    let auth = bearer(&token);
    let with = |content_type: &str, body: &[u8]| {
        server.call(
            "POST",
            &path,
            &[
                ("Authorization", auth.as_str()),
                ("Content-Type", content_type),
            ],
            Some(body),
        )
    };
    let reply = with("application/json", b"{\"contacts\": [");
    assert_eq!(reply.status, 400);
    assert!(response_of(&reply)["detail"]
        .as_str()
        .unwrap()
        .starts_with("JSON parse error - "));
    let reply = with("text/plain", b"contacts");
    assert_eq!(reply.status, 415);
    assert_eq!(
        response_of(&reply),
        json!({"detail": "Unsupported media type \"text/plain\" in request."})
    );
    let huge = format!("{{\"client_external_id\": \"{}\"}}", "x".repeat(2 << 20));
    let reply = with("application/json", huge.as_bytes());
    assert_eq!(reply.status, 413);
    assert_eq!(
        response_of(&reply)["detail"],
        "Request body is larger than 1 MiB."
    );

    assert_eq!(server.count("ml_clients"), 1, "only the demo client");
    assert_eq!(server.count("ml_contacts"), 2);
    let count: i64 = server
        .db()
        .query_row(
            "SELECT client_count FROM ml_partners WHERE mid = ?1",
            [PARTNER],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(count, 1);
}

#[test]
fn partners_never_see_each_others_records() {
    let server = Server::start();
    let demo = demo_token(&server);
    let other = seed_other_partner(&server);
    let theirs = "1111111111111111112";
    let demo_paths = [
        clients_path(OTHER),
        client_path(OTHER, theirs),
        format!("{}contact/", client_path(OTHER, theirs)),
        format!("/makeleaps/api/partner/{OTHER}/"),
    ];
    for path in &demo_paths {
        let reply = api(&server, "GET", path, &demo, None);
        assert_eq!(reply.status, 404, "{path}");
        assert_eq!(response_of(&reply), json!({"detail": "Not found."}));
    }
    // Their client under our partner's path does not exist for us either.
    assert_eq!(
        api(&server, "GET", &client_path(PARTNER, theirs), &demo, None).status,
        404
    );
    let body = json!({"client_external_id": "STOLEN"});
    for method in ["PATCH", "PUT", "DELETE"] {
        for path in [client_path(OTHER, theirs), client_path(PARTNER, theirs)] {
            let reply = api(&server, method, &path, &demo, Some(&body));
            assert_eq!(reply.status, 404, "{method} {path}");
        }
    }
    let reply = api(
        &server,
        "POST",
        &clients_path(OTHER),
        &demo,
        Some(&new_client("IN-1", "In")),
    );
    assert_eq!(reply.status, 404);
    // Their view is unchanged, and the same external id is free for each partner.
    let reply = api(&server, "GET", &client_path(OTHER, theirs), &other, None);
    assert_eq!(reply.status, 200);
    assert_eq!(response_of(&reply)["client_external_id"], "OTHER-1");
    let list = api(&server, "GET", &clients_path(OTHER), &other, None).json();
    assert_eq!(list["meta"]["count"], 1);
    let mine = api(
        &server,
        "POST",
        &clients_path(PARTNER),
        &demo,
        Some(&new_client("OTHER-1", "Mine")),
    );
    assert_eq!(mine.status, 201, "{}", mine.body);
    assert_eq!(
        api(&server, "GET", &clients_path(PARTNER), &demo, None).json()["meta"]["count"],
        2
    );
}

#[test]
fn unknown_paths_get_the_drf_404_in_the_envelope() {
    let server = Server::start();
    let token = demo_token(&server);
    for path in [
        "/makeleaps/nothing/",
        "/makeleaps/api/partner/0000000000000000000/document/",
        "/makeleaps/user/oath2/token/",
    ] {
        let reply = api(&server, "GET", path, &token, None);
        assert_eq!(reply.status, 404, "{path}");
        assert_eq!(response_of(&reply), json!({"detail": "Not found."}));
    }
}

/// The partner's client mids in list (creation) order, straight from the file.
fn mids_in_db(server: &Server, partner: &str) -> Vec<String> {
    server
        .db()
        .rows(
            "SELECT mid FROM ml_clients WHERE partner_mid = ?1 ORDER BY seq",
            [partner],
            |r| r.get(0),
        )
        .unwrap()
}

/// Deep pages start from a bucket of 1,024 `seq`s (schema.sql, migration 4) instead of
/// stepping over every earlier client: every page, and pages of one at and around each bucket
/// boundary, with another partner's clients interleaved and deleted clients in between, must
/// hold exactly the clients that `page` and `per_page` define.
#[test]
fn deep_pages_hold_the_same_clients() {
    let server = Server::start();
    seed_other_partner(&server);
    let dir = server.kill();
    {
        let db = crate::support::TestDb::open(&crate::support::database_of(&dir));
        db.with(|tx| {
            tx.execute_batch("BEGIN").unwrap();
            let mut client = tx
                .prepare(
                    "INSERT INTO ml_clients (mid, partner_mid, client_external_id, display_name,
                         is_organization, default_contact_mid, created_at, updated_at)
                     SELECT ?1, ?2, '', ?4, is_organization, ?5, created_at, updated_at
                     FROM ml_clients WHERE mid = ?3",
                )
                .unwrap();
            let mut contact = tx
                .prepare(
                    "INSERT INTO ml_contacts (mid, client_mid, partner_mid, position,
                         contact_type, name, created_at)
                     VALUES (?1, ?2, ?3, 0, 'organization', ?4, 0)",
                )
                .unwrap();
            let mut x = 11u64;
            for i in 0..3000i64 {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let partner = if (x >> 40).is_multiple_of(3) {
                    OTHER
                } else {
                    PARTNER
                };
                let (mid, contact_mid) = (format!("5{i:018}"), format!("6{i:018}"));
                let name = format!("Deep {i}");
                client
                    .execute(clientele::params![
                        mid,
                        partner,
                        DEMO_CLIENT,
                        name,
                        contact_mid
                    ])
                    .unwrap();
                contact
                    .execute(clientele::params![contact_mid, mid, partner, name])
                    .unwrap();
            }
            drop((client, contact));
            tx.execute_batch(
                "DELETE FROM ml_contacts WHERE client_mid IN
                     (SELECT mid FROM ml_clients WHERE seq % 13 = 5 AND mid LIKE '5%');
                 DELETE FROM ml_clients WHERE seq % 13 = 5 AND mid LIKE '5%';",
            )
            .unwrap();
            tx.execute_batch("COMMIT").unwrap();
        });
    }
    let server = Server::builder().start_in(dir);
    let token = demo_token(&server);
    // Through the API as well: deletes around the first bucket boundary, and creates.
    let before = mids_in_db(&server, PARTNER);
    for position in [1020, 1023, 1024, 1030] {
        let reply = api(
            &server,
            "DELETE",
            &client_path(PARTNER, &before[position]),
            &token,
            None,
        );
        assert_eq!(reply.status, 204, "{}", reply.body);
    }
    for i in 0..3 {
        let body = new_client(&format!("DEEP-NEW-{i}"), "Deep");
        let reply = api(&server, "POST", &clients_path(PARTNER), &token, Some(&body));
        assert_eq!(reply.status, 201, "{}", reply.body);
    }
    let all = mids_in_db(&server, PARTNER);
    let total = all.len();
    assert!(total > 1500, "{total}");
    let page = |number: usize, per_page: usize| -> Vec<String> {
        let reply = api(
            &server,
            "GET",
            &format!(
                "{}?page={number}&per_page={per_page}",
                clients_path(PARTNER)
            ),
            &token,
            None,
        );
        assert_eq!(
            reply.status, 200,
            "page {number} of {per_page}: {}",
            reply.body
        );
        let body = reply.json();
        assert_eq!(body["meta"]["count"], total);
        body["response"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["mid"].as_str().unwrap().to_string())
            .collect()
    };
    let mut seen = Vec::new();
    for number in 1..=total.div_ceil(100) {
        seen.extend(page(number, 100));
    }
    assert_eq!(seen, all, "every page of 100");
    let seqs: Vec<i64> = server
        .db()
        .rows(
            "SELECT seq FROM ml_clients WHERE partner_mid = ?1 ORDER BY seq",
            [PARTNER],
            |r| r.get(0),
        )
        .unwrap();
    let mut positions = vec![1022, 1023, 1024, 1025, 2048, total - 1];
    for p in 1..total {
        if seqs[p] >> 10 != seqs[p - 1] >> 10 {
            positions.extend([p - 1, p, p + 1]);
        }
    }
    for p in positions.into_iter().filter(|&p| p < total) {
        assert_eq!(page(p + 1, 1), [all[p].clone()], "page {} of 1", p + 1);
        let number = p / 7 + 1;
        let start = (number - 1) * 7;
        assert_eq!(
            page(number, 7),
            all[start..(start + 7).min(total)],
            "page {number} of 7"
        );
    }
}
