//! ShieldConex (docs/shieldconex.md) against the real binary: every example of Bluefin's
//! "Managing Clients" guide replayed against
//! `--demo`, the vendor's error bodies, paging, the permission matrix across two partner
//! trees, soft delete, version counting and concurrent updates.

use serde_json::{json, Value};

use crate::support::{Reply, Server};

const API: &str = "/shieldconex/api/v1";
/// The demo Partner Supervisor of partner 792 (src/demo.json).
const WATERFORD: &str = "waterford@example.com:waterford123";

fn basic(credential: &str) -> String {
    use base64::Engine;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(credential)
    )
}

/// One API call as `credential`, with a JSON body if given.
fn call(
    server: &Server,
    method: &str,
    path: &str,
    credential: &str,
    body: Option<&Value>,
) -> Reply {
    let auth = basic(credential);
    let bytes = body.map(|b| b.to_string().into_bytes());
    server.call(
        method,
        &format!("{API}{path}"),
        &[
            ("Authorization", auth.as_str()),
            ("Content-Type", "application/json"),
        ],
        bytes.as_deref(),
    )
}

fn get(server: &Server, path: &str, credential: &str) -> Reply {
    call(server, "GET", path, credential, None)
}

/// The body of Bluefin's "Creating a Client" example, verbatim (its e-mail placeholder too).
fn seed_create_body() -> Value {
    json!({
        "name": "Test Client 2",
        "isActive": false,
        "directPartner": {"id": 792, "name": "partnerName"},
        "contact": {"id": 2666, "firstName": "WATERFORD", "lastName": "Example",
                    "email": "[email protected]"}
    })
}

/// Creates the guide's "Test Client 2" and returns its id.
fn create_test_client_2(server: &Server) -> i64 {
    let reply = call(
        server,
        "POST",
        "/clients",
        WATERFORD,
        Some(&seed_create_body()),
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.json()["id"].as_i64().expect("an id")
}

/// The keys of a JSON object, in the order the body has them.
fn keys_in_order(body: &str, object: &Value) -> Vec<String> {
    let mut keys: Vec<(usize, String)> = object
        .as_object()
        .expect("an object")
        .keys()
        .map(|k| {
            let at = body.find(&format!("\"{k}\":")).expect("key in body");
            (at, k.clone())
        })
        .collect();
    keys.sort();
    keys.into_iter().map(|(_, k)| k).collect()
}

fn assert_vendor_error(reply: &Reply, status: u16, code: i64, message: &str) {
    assert_eq!(reply.status, status, "{}", reply.body);
    let body = reply.json();
    assert_eq!(body["errorCode"], code, "{}", reply.body);
    assert_eq!(body["message"], message);
    let uuid = body["uuid"].as_str().expect("a uuid");
    assert_eq!(uuid.len(), 36);
    assert_eq!(uuid.matches('-').count(), 4);
}

/// The attributes a 409 names, each with its code.
fn invalid_attributes(reply: &Reply) -> Vec<(String, i64)> {
    assert_eq!(reply.status, 409, "{}", reply.body);
    let body = reply.json();
    assert_eq!(body["success"], false);
    assert_eq!(body["errorCode"], 7409);
    assert_eq!(body["message"], "Invalid data");
    assert!(body["uuid"].is_string());
    body["errors"]
        .as_object()
        .expect("errors")
        .iter()
        .map(|(k, v)| {
            assert_eq!(v["attribute"], k.as_str());
            assert!(v["message"].as_str().is_some_and(|m| !m.is_empty()));
            (k.clone(), v["errorCode"].as_i64().unwrap())
        })
        .collect()
}

fn is_iso_millis_utc(text: &str) -> bool {
    // 2024-08-13T16:51:24.000Z
    let b = text.as_bytes();
    b.len() == 24
        && text.ends_with('Z')
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && b[19] == b'.'
        && [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18, 20, 21, 22]
            .iter()
            .all(|&i| b[i].is_ascii_digit())
}

// ------------------------------------------------------------------------------------------
// The vendor's examples (docs/shieldconex.md), one by one
// ------------------------------------------------------------------------------------------

#[test]
fn seed_create_example_answers_200_with_the_new_id() {
    let server = Server::start();
    let reply = call(
        &server,
        "POST",
        "/clients",
        WATERFORD,
        Some(&seed_create_body()),
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    let body = reply.json();
    assert_eq!(body.as_object().unwrap().len(), 1, "only the id: {body}");
    let id = body["id"].as_i64().unwrap();
    let (name, active, direct, contact, version): (String, bool, i64, i64, i64) = server
        .db()
        .query_row(
            "SELECT name, is_active, direct_partner_id, contact_id, version FROM sc_clients WHERE id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .unwrap();
    assert_eq!(
        (name.as_str(), active, direct, contact, version),
        ("Test Client 2", false, 792, 2666, 0)
    );
    assert_eq!(
        server.count("sc_users"),
        2,
        "the contact was linked, not created"
    );
}

#[test]
fn seed_list_example_has_the_documented_shape() {
    let server = Server::start();
    let id = create_test_client_2(&server);
    let reply = get(&server, "/clients?partner=partnerName", WATERFORD);
    assert_eq!(reply.status, 200, "{}", reply.body);
    let body = reply.json();
    assert_eq!(keys_in_order(&reply.body, &body), ["total", "data"]);
    assert_eq!(body["total"], 2);
    let data = body["data"].as_array().unwrap();
    assert_eq!(data.len(), 2);
    // The seed's first item, exactly.
    assert_eq!(
        data[0],
        json!({"id": 744, "name": "Test Client", "mid": null, "isActive": true, "version": 0,
               "partner": {"id": 792, "name": "partnerName"},
               "directPartner": {"id": 792, "name": "partnerName"},
               "contact": {"id": 2664}, "billingId": "cba321"})
    );
    let item_body = &reply.body[reply.body.find("},{\"id\"").unwrap()..];
    assert_eq!(
        keys_in_order(item_body, &data[1]),
        [
            "id",
            "name",
            "mid",
            "isActive",
            "version",
            "partner",
            "directPartner",
            "contact",
            "billingId"
        ]
    );
    assert_eq!(data[1]["id"], id);
    assert_eq!(data[1]["name"], "Test Client 2");
    assert_eq!(data[1]["isActive"], false);
    assert_eq!(data[1]["billingId"], Value::Null);
    assert_eq!(data[1]["contact"], json!({"id": 2666}));
    // By id as well as by name (Bluefin's guide: "either a Partner ID or Name").
    assert_eq!(get(&server, "/clients?partner=792", WATERFORD).json(), body);
}

#[test]
fn seed_detail_example_has_the_documented_fields() {
    let server = Server::start();
    let id = create_test_client_2(&server);
    let reply = get(&server, &format!("/clients/{id}"), WATERFORD);
    assert_eq!(reply.status, 200, "{}", reply.body);
    let body = reply.json();
    assert_eq!(
        keys_in_order(&reply.body, &body),
        [
            "id",
            "name",
            "mid",
            "isActive",
            "created",
            "modified",
            "version",
            "partner",
            "directPartner",
            "contact",
            "billingId",
            "location"
        ]
    );
    assert_eq!(body["id"], id);
    assert_eq!(body["name"], "Test Client 2");
    assert_eq!(body["mid"], Value::Null);
    assert_eq!(body["isActive"], false);
    assert_eq!(body["version"], 0);
    assert_eq!(body["partner"], json!({"id": 792, "name": "partnerName"}));
    assert_eq!(
        body["directPartner"],
        json!({"id": 792, "name": "partnerName"})
    );
    assert_eq!(
        body["contact"],
        json!({"id": 2666, "firstName": "WATERFORD", "lastName": "Example",
               "email": "waterford@example.com"})
    );
    assert_eq!(body["billingId"], Value::Null);
    let created = body["created"].as_str().unwrap();
    assert!(is_iso_millis_utc(created), "{created}");
    assert_eq!(body["modified"], body["created"]);
}

#[test]
fn seed_update_example_moves_the_client_and_counts_a_version() {
    let server = Server::start();
    let id = create_test_client_2(&server);
    std::thread::sleep(std::time::Duration::from_millis(5));
    let patch = json!({
        "name": "Updated Test Client 2",
        "isActive": false,
        "directPartner": {"id": 793, "name": "newPartnerName"},
        "contact": {"id": 2666, "firstName": "WATERFORD", "lastName": "Example",
                    "email": "[email protected]"}
    });
    let reply = call(
        &server,
        "PATCH",
        &format!("/clients/{id}"),
        WATERFORD,
        Some(&patch),
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.json(), json!({ "id": id }));
    let body = get(&server, &format!("/clients/{id}"), WATERFORD).json();
    assert_eq!(body["name"], "Updated Test Client 2");
    assert_eq!(body["version"], 1);
    assert_eq!(
        body["directPartner"],
        json!({"id": 793, "name": "newPartnerName"})
    );
    assert_eq!(
        body["partner"],
        json!({"id": 792, "name": "partnerName"}),
        "the root partner of the tree"
    );
    assert!(body["modified"].as_str().unwrap() > body["created"].as_str().unwrap());
    // Still listed under the root partner: the list covers its whole subtree.
    let list = get(&server, "/clients?partner=partnerName", WATERFORD).json();
    assert_eq!(list["total"], 2);
    let only_sub = get(&server, "/clients?partner=newPartnerName", WATERFORD).json();
    assert_eq!(only_sub["total"], 1);
    assert_eq!(only_sub["data"][0]["id"], id);
}

#[test]
fn seed_delete_example_is_a_soft_delete() {
    let server = Server::start();
    let id = create_test_client_2(&server);
    let reply = call(
        &server,
        "DELETE",
        &format!("/clients/{id}"),
        WATERFORD,
        None,
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body, "");
    for (method, body) in [
        ("GET", None),
        ("PATCH", Some(json!({"name": "Back"}))),
        ("DELETE", None),
    ] {
        let reply = call(
            &server,
            method,
            &format!("/clients/{id}"),
            WATERFORD,
            body.as_ref(),
        );
        assert_vendor_error(&reply, 404, 7404, "Requested resource cannot be found.");
    }
    let list = get(&server, "/clients?partner=partnerName", WATERFORD).json();
    assert_eq!(list["total"], 1);
    assert!(list["data"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["id"] != id));
    let deleted_at: Option<i64> = server
        .db()
        .query_row(
            "SELECT deleted_at FROM sc_clients WHERE id = ?1",
            [id],
            |r| r.get(0),
        )
        .unwrap();
    assert!(deleted_at.is_some(), "kept in the database");
    // The name is free again.
    assert_eq!(
        call(
            &server,
            "POST",
            "/clients",
            WATERFORD,
            Some(&seed_create_body())
        )
        .status,
        200
    );
}

#[test]
fn seed_404_body_has_a_fresh_uuid_each_time() {
    let server = Server::start();
    let a = get(&server, "/clients/99999", WATERFORD);
    let b = get(&server, "/clients/99999", WATERFORD);
    assert_vendor_error(&a, 404, 7404, "Requested resource cannot be found.");
    assert_vendor_error(&b, 404, 7404, "Requested resource cannot be found.");
    assert_ne!(a.json()["uuid"], b.json()["uuid"]);
    for path in [
        "/clients/abc",
        "/clients/123456789012345678901",
        "/users/x",
        "/partners/-1",
    ] {
        assert_vendor_error(
            &get(&server, path, WATERFORD),
            404,
            7404,
            "Requested resource cannot be found.",
        );
    }
}

#[test]
fn unknown_paths_get_the_vendor_404_body() {
    let server = Server::start();
    let reply = server.get("/shieldconex/api/v1/nothing", &[]);
    assert_vendor_error(&reply, 404, 7404, "Requested resource cannot be found.");
    let reply = server.get("/shieldconex/api/v2/clients", &[]);
    assert_eq!(reply.status, 404);
}

#[test]
fn users_and_partners_have_no_delete() {
    let server = Server::start();
    for path in ["/users/2666", "/partners/793"] {
        let reply = call(&server, "DELETE", path, WATERFORD, None);
        assert_eq!(reply.status, 405, "{path}");
        assert_eq!(reply.header("Allow"), Some("GET, PATCH"));
        assert_eq!(reply.json()["errorCode"], 7405);
    }
    let reply = call(&server, "PUT", "/clients", WATERFORD, None);
    assert_eq!(reply.header("Allow"), Some("GET, POST"));
    assert_eq!(server.count("sc_users"), 2);
}

#[test]
fn dedicated_listener_serves_shieldconex_at_the_root() {
    let (_server, url) = Server::with_dedicated("shieldconex");
    let auth = basic(WATERFORD);
    let reply = crate::support::call(
        "GET",
        &format!("{url}/api/v1/clients/744"),
        &[("Authorization", auth.as_str())],
        None,
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.json()["name"], "Test Client");
}

// ------------------------------------------------------------------------------------------
// Authentication and rate-limit headers
// ------------------------------------------------------------------------------------------

#[test]
fn bad_credentials_are_401() {
    let server = Server::start();
    for credential in [
        "waterford@example.com:wrong",
        "nobody@example.com:waterford123",
        // The demo contact has no password until its welcome link sets one.
        "contact@example.com:",
    ] {
        let reply = get(&server, "/clients/744", credential);
        assert_vendor_error(&reply, 401, 7401, "Unauthorized.");
        assert!(reply
            .header("WWW-Authenticate")
            .unwrap()
            .starts_with("Basic"));
    }
    for header in [None, Some("Basic %%%"), Some("Bearer abc")] {
        let mut headers = vec![];
        if let Some(h) = header {
            headers.push(("Authorization", h));
        }
        let reply = server.get(&format!("{API}/clients/744"), &headers);
        assert_eq!(reply.status, 401, "{header:?}");
    }
    // User names compare without regard to case, as the unique index does.
    assert_eq!(
        get(
            &server,
            "/clients/744",
            "WATERFORD@example.com:waterford123"
        )
        .status,
        200
    );
}

#[test]
fn successes_carry_the_rate_limit_headers() {
    let server = Server::start();
    let first = get(&server, "/clients/744", WATERFORD);
    let second = get(&server, "/clients/744", WATERFORD);
    let number = |r: &Reply, h: &str| -> i64 { r.header(h).unwrap().parse().unwrap() };
    assert_eq!(number(&first, "X-RateLimit-Limit"), 10_000);
    assert_eq!(
        number(&second, "X-RateLimit-Remaining"),
        number(&first, "X-RateLimit-Remaining") - 1
    );
    let reset = first.header("X-RateLimit-Reset").unwrap();
    assert!(reset.ends_with(":00:00Z") && reset.len() == 20, "{reset}");
    let error = get(&server, "/clients/99999", WATERFORD);
    assert!(error.header("X-RateLimit-Limit").is_none(), "only on 2xx");
}

// ------------------------------------------------------------------------------------------
// Validation: 409 with one entry per attribute, and nothing written
// ------------------------------------------------------------------------------------------

#[test]
fn the_list_call_needs_a_known_partner() {
    let server = Server::start();
    let cases = [
        ("/clients", "partner", 7400),
        ("/clients?partner=", "partner", 7400),
        ("/clients?partner=noSuchPartner", "partner", 7404),
        ("/clients?partner=99999", "partner", 7404),
    ];
    for (path, attribute, code) in cases {
        let reply = get(&server, path, WATERFORD);
        assert_eq!(
            invalid_attributes(&reply),
            [(attribute.to_string(), code)],
            "{path}"
        );
    }
}

#[test]
fn bad_create_bodies_are_409_naming_each_attribute() {
    let server = Server::start();
    let long = "x".repeat(256);
    let fifty_one = "y".repeat(51);
    let cases: Vec<(String, Vec<(&str, i64)>)> = vec![
        ("{\"name\": ".into(), vec![("body", 7422)]),
        ("".into(), vec![("body", 7400)]),
        ("[1, 2]".into(), vec![("body", 7422)]),
        (
            "{}".into(),
            vec![("contact", 7400), ("directPartner", 7400), ("name", 7400)],
        ),
        (
            json!({"name": "Test Client", "directPartner": {"id": 792}, "contact": {"id": 2666}})
                .to_string(),
            vec![("name", 7410)],
        ),
        (
            json!({"name": "TEST CLIENT", "directPartner": {"id": 792}, "contact": {"id": 2666}})
                .to_string(),
            vec![("name", 7410)],
        ),
        (
            json!({"name": long, "billingId": fifty_one, "mid": fifty_one,
                   "directPartner": {"id": 792}, "contact": {"id": 2666}})
            .to_string(),
            vec![("billingId", 7422), ("mid", 7422), ("name", 7422)],
        ),
        (
            json!({"name": 5, "isActive": "yes", "location": "here",
                   "directPartner": 792, "contact": {"id": "x"}})
            .to_string(),
            vec![
                ("contact.id", 7422),
                ("directPartner", 7422),
                ("isActive", 7422),
                ("location", 7422),
                ("name", 7422),
            ],
        ),
        (
            json!({"name": "N", "directPartner": {"id": 999}, "contact": {"id": 99999}}).to_string(),
            vec![("contact.id", 7404), ("directPartner", 7404)],
        ),
        (
            json!({"name": "N", "directPartner": {"name": "nope"}, "contact": {"id": 2666}}).to_string(),
            vec![("directPartner", 7404)],
        ),
        (
            json!({"name": "N", "directPartner": {"id": 792, "name": "newPartnerName"},
                   "contact": {"id": 2666}})
            .to_string(),
            vec![("directPartner", 7422)],
        ),
        (
            json!({"name": "N", "directPartner": {}, "contact": {"id": 2666}}).to_string(),
            vec![("directPartner", 7400)],
        ),
        (
            json!({"name": "  ", "directPartner": {"id": 792},
                   "contact": {"firstName": "A", "email": "not-an-address", "phone": "415-555"}})
            .to_string(),
            vec![
                ("contact.email", 7422),
                ("contact.lastName", 7400),
                ("contact.phone", 7422),
                ("contact.userName", 7400),
                ("name", 7400),
            ],
        ),
        (
            json!({"name": "N", "directPartner": {"id": 792},
                   "contact": {"userName": "a@example.com", "firstName": "A", "lastName": "B",
                               "email": "a@example.com", "phone": "+14155550000", "userRole": "Boss"}})
            .to_string(),
            vec![("contact.userRole", 7422)],
        ),
        (
            json!({"name": "N", "directPartner": {"id": 792},
                   "contact": {"userName": "waterford@EXAMPLE.com", "firstName": "A", "lastName": "B",
                               "email": "a@example.com", "phone": "+14155550000",
                               "userRole": "Client Administrator"}})
            .to_string(),
            vec![("contact.userName", 7410)],
        ),
    ];
    for (body, expected) in cases {
        let reply = server.call(
            "POST",
            &format!("{API}/clients"),
            &[("Authorization", basic(WATERFORD).as_str())],
            Some(body.as_bytes()),
        );
        let expected: Vec<(String, i64)> = expected
            .into_iter()
            .map(|(a, c)| (a.to_string(), c))
            .collect();
        assert_eq!(invalid_attributes(&reply), expected, "{body}");
    }
    assert_eq!(server.count("sc_clients"), 1, "nothing was written");
    assert_eq!(server.count("sc_users"), 2);
}

#[test]
fn bad_patch_bodies_are_409_and_change_nothing() {
    let server = Server::start();
    create_test_client_2(&server);
    let cases: Vec<(Value, Vec<(&str, i64)>)> = vec![
        (json!({"name": null}), vec![("name", 7422)]),
        (json!({"name": "Test Client 2"}), vec![("name", 7410)]),
        (json!({"isActive": 1}), vec![("isActive", 7422)]),
        (json!({"version": "one"}), vec![("version", 7422)]),
        (
            json!({"contact": {"firstName": "X"}}),
            vec![("contact.id", 7400)],
        ),
        (json!({"contact": null}), vec![("contact", 7422)]),
        (
            json!({"directPartner": {"id": 999}}),
            vec![("directPartner", 7404)],
        ),
        (json!({"mid": "m".repeat(51)}), vec![("mid", 7422)]),
    ];
    for (body, expected) in cases {
        let reply = call(&server, "PATCH", "/clients/744", WATERFORD, Some(&body));
        let expected: Vec<(String, i64)> = expected
            .into_iter()
            .map(|(a, c)| (a.to_string(), c))
            .collect();
        assert_eq!(invalid_attributes(&reply), expected, "{body}");
    }
    let client = get(&server, "/clients/744", WATERFORD).json();
    assert_eq!(client["version"], 0, "no PATCH counted");
    assert_eq!(client["name"], "Test Client");
    assert_eq!(client["modified"], client["created"]);
}

#[test]
fn a_body_over_one_mib_is_413() {
    let server = Server::start();
    let body = json!({"name": "x".repeat(2 * 1024 * 1024)});
    let reply = call(&server, "POST", "/clients", WATERFORD, Some(&body));
    assert_eq!(reply.status, 413);
    assert_eq!(reply.json()["errorCode"], 7413);
    assert_eq!(server.count("sc_clients"), 1);
}

// ------------------------------------------------------------------------------------------
// Paging
// ------------------------------------------------------------------------------------------

#[test]
fn take_and_skip_page_through_the_list() {
    let server = Server::start();
    for i in 0..12 {
        let body = json!({"name": format!("Client {i:02}"), "directPartner": {"id": 792},
                          "contact": {"id": 2666}, "mid": format!("MID{i}"), "billingId": "b"});
        assert_eq!(
            call(&server, "POST", "/clients", WATERFORD, Some(&body)).status,
            200
        );
    }
    let ids = |path: &str| -> (i64, Vec<i64>) {
        let body = get(&server, path, WATERFORD).json();
        let ids = body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_i64().unwrap())
            .collect();
        (body["total"].as_i64().unwrap(), ids)
    };
    let (total, all) = ids("/clients?partner=792&take=1000");
    assert_eq!(total, 13);
    assert_eq!(all.len(), 13);
    assert!(all.windows(2).all(|w| w[0] < w[1]), "ordered by id");
    assert_eq!(
        ids("/clients?partner=792"),
        (13, all[..10].to_vec()),
        "take defaults to 10"
    );
    assert_eq!(
        ids("/clients?partner=792&skip=10"),
        (13, all[10..].to_vec())
    );
    assert_eq!(
        ids("/clients?partner=792&take=3&skip=4"),
        (13, all[4..7].to_vec())
    );
    assert_eq!(ids("/clients?partner=792&skip=13"), (13, vec![]));
    assert_eq!(ids("/clients?partner=792&skip=500"), (13, vec![]));
    assert_eq!(ids("/clients?partner=792&take=0"), (13, vec![]));
    for bad in [
        "take=-1",
        "take=abc",
        "take=1001",
        "skip=-1",
        "skip=1.5",
        "take=",
    ] {
        let reply = get(&server, &format!("/clients?partner=792&{bad}"), WATERFORD);
        let attribute = bad.split('=').next().unwrap().to_string();
        assert_eq!(invalid_attributes(&reply), [(attribute, 7422)], "{bad}");
    }
    // The same paging on users and partners.
    let users = get(&server, "/users?take=1&skip=1", WATERFORD).json();
    assert_eq!(users["total"], 2);
    assert_eq!(users["data"].as_array().unwrap().len(), 1);
    assert_eq!(users["data"][0]["id"], 2666);
    let partners = get(&server, "/partners?take=1", WATERFORD).json();
    assert_eq!(partners["total"], 2);
    assert_eq!(partners["data"][0]["id"], 792);
}

// ------------------------------------------------------------------------------------------
// Versions and concurrency
// ------------------------------------------------------------------------------------------

#[test]
fn every_update_counts_one_version() {
    let server = Server::start();
    for (i, body) in [
        json!({"billingId": "b1"}),
        json!({"mid": "merchantId123", "location": 12}),
        json!({}),
    ]
    .iter()
    .enumerate()
    {
        let reply = call(&server, "PATCH", "/clients/744", WATERFORD, Some(body));
        assert_eq!(reply.status, 200, "{}", reply.body);
        let client = get(&server, "/clients/744", WATERFORD).json();
        assert_eq!(client["version"], i as i64 + 1);
    }
    let client = get(&server, "/clients/744", WATERFORD).json();
    assert_eq!(client["billingId"], "b1");
    assert_eq!(client["mid"], "merchantId123");
    assert_eq!(client["location"], 12);
    assert_eq!(client["name"], "Test Client", "untouched attributes stay");
    let list = get(&server, "/clients?partner=792", WATERFORD).json();
    assert_eq!(list["data"][0]["mid"], "merchantId123");
    assert_eq!(list["data"][0]["version"], 3);
    // null clears a nullable attribute.
    call(
        &server,
        "PATCH",
        "/clients/744",
        WATERFORD,
        Some(&json!({"mid": null})),
    );
    assert_eq!(
        get(&server, "/clients/744", WATERFORD).json()["mid"],
        Value::Null
    );
}

#[test]
fn concurrent_updates_of_one_client_lose_no_increment() {
    let server = Server::start();
    let threads = 8;
    let each = 6;
    std::thread::scope(|scope| {
        for t in 0..threads {
            let server = &server;
            scope.spawn(move || {
                for i in 0..each {
                    let body = json!({"billingId": format!("t{t}-{i}"), "isActive": i % 2 == 0});
                    let reply = call(server, "PATCH", "/clients/744", WATERFORD, Some(&body));
                    assert_eq!(reply.status, 200, "{}", reply.body);
                }
            });
        }
    });
    let client = get(&server, "/clients/744", WATERFORD).json();
    assert_eq!(client["version"], threads * each);
}

// ------------------------------------------------------------------------------------------
// The permission matrix: two partner trees, a sub-partner, client-level and read-only users
// ------------------------------------------------------------------------------------------

const OTHER: &str = "other@example.com:other123";
const SUB: &str = "sub@example.com:sub123";
const CLIENT_ADMIN: &str = "clientadmin@example.com:client123";
const VIEWER: &str = "viewer@example.com:viewer123";
const ROOT: &str = "root@example.com:root123";

/// The demo tree (792 → 793, client 744) plus: another tree 900 → 901 with client 950; client
/// 960 under 793; a supervisor of 900, a supervisor of the sub-partner 793, a client admin of
/// 744, a read-only Partner User of 792 and a System Admin.
fn two_trees() -> Server {
    let server = Server::start();
    let user = |id: i64, name: &str, password: &str, role: &str, home: (&str, i64)| {
        let mut u = json!({"id": id, "userName": name, "password": password, "firstName": "F",
                           "lastName": "L", "email": name, "phone": "+14155550000", "userRole": role});
        if !home.0.is_empty() {
            u[home.0] = json!(home.1);
        }
        u
    };
    let seed = json!({"shieldconex": {
        "partners": [{"id": 900, "name": "otherPartner"},
                     {"id": 901, "name": "otherSubPartner", "parent": 900}],
        "users": [
            user(3000, "other@example.com", "other123", "Partner Supervisor", ("partner", 900)),
            user(3001, "sub@example.com", "sub123", "Partner Supervisor", ("partner", 793)),
            user(3002, "clientadmin@example.com", "client123", "Client Administrator", ("client", 744)),
            user(3003, "viewer@example.com", "viewer123", "Partner User", ("partner", 792)),
            user(3004, "root@example.com", "root123", "System Administrator", ("", 0)),
            user(3005, "otherclient@example.com", "x", "Client User", ("client", 950))
        ],
        "clients": [{"id": 950, "name": "Other Client", "directPartner": 901, "contact": 3000},
                    {"id": 960, "name": "Sub Client", "directPartner": 793, "contact": 3001}]
    }});
    let reply = server.admin("POST", "/seed", Some(&seed.to_string()));
    assert_eq!(reply.status, 200, "{}", reply.body);
    server
}

fn status(server: &Server, method: &str, path: &str, credential: &str, body: Option<Value>) -> u16 {
    call(server, method, path, credential, body.as_ref()).status
}

fn listed_ids(server: &Server, path: &str, credential: &str) -> Vec<i64> {
    let reply = get(server, path, credential);
    assert_eq!(reply.status, 200, "{path}: {}", reply.body);
    reply.json()["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["id"].as_i64().unwrap())
        .collect()
}

#[test]
fn a_partner_sees_its_subtree_and_nothing_of_another_tree() {
    let server = two_trees();
    assert_eq!(
        listed_ids(&server, "/clients?partner=792", WATERFORD),
        [744, 960]
    );
    assert_eq!(listed_ids(&server, "/partners", WATERFORD), [792, 793]);
    assert_eq!(
        listed_ids(&server, "/users", WATERFORD),
        [2664, 2666, 3001, 3002, 3003],
        "its own users, its sub-partner's and its clients'"
    );
    assert_eq!(status(&server, "GET", "/clients/960", WATERFORD, None), 200);
    assert_eq!(
        status(&server, "GET", "/partners/793", WATERFORD, None),
        200
    );
    // The other tree does not exist for it: 404, or "not found" in a 409.
    for path in [
        "/clients/950",
        "/partners/900",
        "/partners/901",
        "/users/3000",
        "/users/3004",
    ] {
        assert_vendor_error(
            &get(&server, path, WATERFORD),
            404,
            7404,
            "Requested resource cannot be found.",
        );
    }
    assert_eq!(
        status(
            &server,
            "PATCH",
            "/clients/950",
            WATERFORD,
            Some(json!({"name": "Mine"}))
        ),
        404
    );
    assert_eq!(
        status(&server, "DELETE", "/clients/950", WATERFORD, None),
        404
    );
    assert_eq!(
        status(
            &server,
            "PATCH",
            "/partners/900",
            WATERFORD,
            Some(json!({"name": "Mine"}))
        ),
        404
    );
    assert_eq!(
        invalid_attributes(&get(&server, "/clients?partner=otherPartner", WATERFORD)),
        [("partner".to_string(), 7404)]
    );
    let into_other =
        json!({"name": "Sneaky", "directPartner": {"id": 901}, "contact": {"id": 2666}});
    assert_eq!(
        invalid_attributes(&call(
            &server,
            "POST",
            "/clients",
            WATERFORD,
            Some(&into_other)
        )),
        [("directPartner".to_string(), 7404)]
    );
    let other_contact = json!({"contact": {"id": 3000}});
    assert_eq!(
        invalid_attributes(&call(
            &server,
            "PATCH",
            "/clients/744",
            WATERFORD,
            Some(&other_contact)
        )),
        [("contact.id".to_string(), 7404)]
    );
    // And the other tree's supervisor sees only its own.
    assert_eq!(
        listed_ids(&server, "/clients?partner=otherPartner", OTHER),
        [950]
    );
    assert_eq!(listed_ids(&server, "/partners", OTHER), [900, 901]);
    assert_eq!(listed_ids(&server, "/users", OTHER), [3000, 3005]);
    assert_eq!(status(&server, "GET", "/clients/744", OTHER, None), 404);
    let name: String = server
        .db()
        .query_row("SELECT name FROM sc_clients WHERE id = 950", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(name, "Other Client", "nothing changed across trees");
}

#[test]
fn a_sub_partner_never_sees_its_parent_or_siblings() {
    let server = two_trees();
    assert_eq!(listed_ids(&server, "/partners", SUB), [793]);
    assert_eq!(
        listed_ids(&server, "/clients?partner=newPartnerName", SUB),
        [960]
    );
    assert_eq!(listed_ids(&server, "/users", SUB), [3001]);
    // Its parent is a level above: Permission denied.
    assert_vendor_error(
        &get(&server, "/partners/792", SUB),
        403,
        7403,
        "Permission denied.",
    );
    assert_vendor_error(
        &get(&server, "/clients?partner=partnerName", SUB),
        403,
        7403,
        "Permission denied.",
    );
    assert_eq!(status(&server, "GET", "/users/2666", SUB, None), 403);
    assert_eq!(
        status(
            &server,
            "PATCH",
            "/partners/792",
            SUB,
            Some(json!({"name": "x"}))
        ),
        403
    );
    let under_parent = json!({"name": "Up", "directPartner": {"id": 792}, "contact": {"id": 3001}});
    assert_eq!(
        status(&server, "POST", "/clients", SUB, Some(under_parent)),
        403
    );
    // Its parent's client is not its business, and does not exist for it.
    assert_eq!(status(&server, "GET", "/clients/744", SUB, None), 404);
    // It may not re-hang itself, even under itself.
    assert_eq!(
        status(
            &server,
            "PATCH",
            "/partners/793",
            SUB,
            Some(json!({"parent": {"id": 793}}))
        ),
        403
    );
    // But it manages its own level and below.
    assert_eq!(
        status(
            &server,
            "PATCH",
            "/partners/793",
            SUB,
            Some(json!({"billingId": "sub-bill"}))
        ),
        200
    );
    let own = json!({"name": "Sub Client 2", "directPartner": {"name": "newPartnerName"}, "contact": {"id": 3001}});
    assert_eq!(status(&server, "POST", "/clients", SUB, Some(own)), 200);
    assert_eq!(server.count("sc_clients"), 4);
}

#[test]
fn client_level_users_see_only_their_client() {
    let server = two_trees();
    assert_eq!(
        status(&server, "GET", "/clients/744", CLIENT_ADMIN, None),
        200
    );
    assert_eq!(
        status(&server, "GET", "/clients/960", CLIENT_ADMIN, None),
        404
    );
    assert_eq!(
        status(&server, "GET", "/clients/950", CLIENT_ADMIN, None),
        404
    );
    // Client-level users cannot view partners.
    for path in [
        "/partners",
        "/partners/792",
        "/partners/900",
        "/clients?partner=792",
        "/users?partner=792",
    ] {
        assert_vendor_error(
            &get(&server, path, CLIENT_ADMIN),
            403,
            7403,
            "Permission denied.",
        );
    }
    let me = get(&server, "/users/3002", CLIENT_ADMIN).json();
    assert_eq!(
        me["userRole"],
        json!({"name": "Client Admin"}),
        "the API's spelling"
    );
    assert_eq!(me["client"], json!({"id": 744, "name": "Test Client"}));
    assert!(
        me.get("partner").is_none(),
        "client-level users get client instead of partner"
    );
    assert_eq!(listed_ids(&server, "/users", CLIENT_ADMIN), [2664, 3002]);
    assert_eq!(
        status(&server, "GET", "/users/2666", CLIENT_ADMIN, None),
        403
    );
    assert_eq!(
        status(&server, "GET", "/users/3005", CLIENT_ADMIN, None),
        404
    );
    // It may change its own client, but not move it, delete it or create clients.
    assert_eq!(
        status(
            &server,
            "PATCH",
            "/clients/744",
            CLIENT_ADMIN,
            Some(json!({"billingId": "c1"}))
        ),
        200
    );
    assert_eq!(
        status(
            &server,
            "PATCH",
            "/clients/744",
            CLIENT_ADMIN,
            Some(json!({"directPartner": {"id": 793}}))
        ),
        403
    );
    assert_eq!(
        status(&server, "DELETE", "/clients/744", CLIENT_ADMIN, None),
        403
    );
    assert_eq!(
        status(
            &server,
            "POST",
            "/clients",
            CLIENT_ADMIN,
            Some(seed_create_body())
        ),
        403
    );
    // It creates users of its own client, never of a higher role.
    let new_user = |role: &str| {
        json!({"userName": format!("{role}@744.example"), "firstName": "N", "lastName": "U",
               "email": "n@744.example", "phone": "+14155550123", "userRole": {"name": role},
               "client": {"id": 744}})
    };
    assert_eq!(
        status(
            &server,
            "POST",
            "/users",
            CLIENT_ADMIN,
            Some(new_user("Partner User"))
        ),
        403
    );
    let reply = call(
        &server,
        "POST",
        "/users",
        CLIENT_ADMIN,
        Some(&new_user("Client User")),
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    let mut elsewhere = new_user("Client User");
    elsewhere["userName"] = json!("elsewhere@744.example");
    elsewhere["client"] = json!({"id": 950});
    assert_eq!(
        invalid_attributes(&call(
            &server,
            "POST",
            "/users",
            CLIENT_ADMIN,
            Some(&elsewhere)
        )),
        [("client".to_string(), 7404)]
    );
    let client = get(&server, "/clients/744", WATERFORD).json();
    assert_eq!(client["directPartner"]["id"], 792);
    assert_eq!(client["billingId"], "c1");
}

#[test]
fn user_roles_only_read() {
    let server = two_trees();
    assert_eq!(
        listed_ids(&server, "/clients?partner=792", VIEWER),
        [744, 960]
    );
    assert_eq!(status(&server, "GET", "/partners/793", VIEWER, None), 200);
    let forbidden = [
        ("POST", "/clients", Some(seed_create_body())),
        ("PATCH", "/clients/744", Some(json!({"name": "x"}))),
        ("DELETE", "/clients/744", None),
        (
            "POST",
            "/partners",
            Some(json!({"name": "p", "parent": {"id": 792}})),
        ),
        ("PATCH", "/partners/793", Some(json!({"name": "x"}))),
        ("PATCH", "/users/3003", Some(json!({"firstName": "x"}))),
    ];
    for (method, path, body) in forbidden {
        assert_vendor_error(
            &call(&server, method, path, VIEWER, body.as_ref()),
            403,
            7403,
            "Permission denied.",
        );
    }
    assert_eq!(server.count("sc_clients"), 3);
    assert_eq!(get(&server, "/clients/744", VIEWER).json()["version"], 0);
}

#[test]
fn a_supervisor_cannot_grant_or_touch_a_higher_role() {
    let server = two_trees();
    let system_user = json!({"userName": "boss", "firstName": "B", "lastName": "S",
                             "email": "boss@example.com", "phone": "+14155550123",
                             "userRole": {"name": "System User"}});
    assert_eq!(
        status(
            &server,
            "POST",
            "/users",
            WATERFORD,
            Some(system_user.clone())
        ),
        403
    );
    assert_eq!(
        status(
            &server,
            "PATCH",
            "/users/3003",
            WATERFORD,
            Some(json!({"userRole": {"name": "System Admin"}}))
        ),
        403
    );
    // A System Admin may.
    assert_eq!(
        status(&server, "POST", "/users", ROOT, Some(system_user)),
        200
    );
    assert_eq!(status(&server, "GET", "/clients/950", ROOT, None), 200);
    assert_eq!(listed_ids(&server, "/partners", ROOT), [792, 793, 900, 901]);
}

#[test]
fn moving_a_client_to_another_tree_recomputes_its_partner() {
    let server = two_trees();
    let reply = call(
        &server,
        "PATCH",
        "/clients/744",
        ROOT,
        Some(&json!({"directPartner": {"name": "otherSubPartner"}})),
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    let client = get(&server, "/clients/744", ROOT).json();
    assert_eq!(
        client["directPartner"],
        json!({"id": 901, "name": "otherSubPartner"})
    );
    assert_eq!(
        client["partner"],
        json!({"id": 900, "name": "otherPartner"})
    );
    assert_eq!(
        status(&server, "GET", "/clients/744", WATERFORD, None),
        404,
        "gone from the old tree"
    );
    assert_eq!(status(&server, "GET", "/clients/744", OTHER, None), 200);
}

#[test]
fn an_inactive_user_is_refused() {
    let server = two_trees();
    assert_eq!(status(&server, "GET", "/clients/744", VIEWER, None), 200);
    let reply = call(
        &server,
        "PATCH",
        "/users/3003",
        WATERFORD,
        Some(&json!({"isActive": false})),
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_vendor_error(
        &get(&server, "/clients/744", VIEWER),
        401,
        7401,
        "Unauthorized.",
    );
    // Deleting a client also shuts out its client-level users.
    assert_eq!(
        status(&server, "GET", "/clients/744", CLIENT_ADMIN, None),
        200
    );
    assert_eq!(
        status(&server, "DELETE", "/clients/744", WATERFORD, None),
        200
    );
    assert_eq!(
        status(&server, "GET", "/clients/744", CLIENT_ADMIN, None),
        401
    );
    assert_eq!(status(&server, "GET", "/users/3002", WATERFORD, None), 404);
}

#[test]
fn a_user_shut_out_in_the_database_itself_is_refused_at_once() {
    let server = two_trees();
    assert_eq!(status(&server, "GET", "/clients/744", VIEWER, None), 200);
    // Another program (sqlite3, a test's fixture) edits the file while the server runs.
    let changed = server
        .db()
        .execute(
            "UPDATE sc_users SET is_active = 0 WHERE user_name = 'viewer@example.com'",
            [],
        )
        .unwrap();
    assert_eq!(changed, 1);
    assert_eq!(status(&server, "GET", "/clients/744", VIEWER, None), 401);
}

// ------------------------------------------------------------------------------------------
// Users and partners
// ------------------------------------------------------------------------------------------

#[test]
fn users_are_created_listed_and_updated() {
    let server = Server::start();
    // The users guide's example, with a partner of the demo.
    let body = json!({"userName": "John Doe", "firstName": "John", "lastName": "Doe",
                      "email": "john.doe@example.com", "phone": "+14155552671",
                      "partner": {"id": 792, "name": "partnerName"},
                      "userRole": {"name": "Partner Supervisor"},
                      "isActive": false, "sendWelcomeEmail": false});
    let reply = call(&server, "POST", "/users", WATERFORD, Some(&body));
    assert_eq!(reply.status, 200, "{}", reply.body);
    let id = reply.json()["id"].as_i64().unwrap();
    let detail = get(&server, &format!("/users/{id}"), WATERFORD);
    let user = detail.json();
    assert_eq!(
        keys_in_order(&detail.body, &user),
        [
            "id",
            "userName",
            "firstName",
            "lastName",
            "email",
            "phone",
            "isActive",
            "version",
            "userRole",
            "partner",
            "created",
            "modified"
        ]
    );
    assert_eq!(user["userName"], "John Doe");
    assert_eq!(user["isActive"], false);
    assert_eq!(user["userRole"], json!({"name": "Partner Supervisor"}));
    assert_eq!(user["partner"], json!({"id": 792, "name": "partnerName"}));
    assert!(is_iso_millis_utc(user["created"].as_str().unwrap()));
    // User names are unique.
    let again = call(&server, "POST", "/users", WATERFORD, Some(&body));
    assert_eq!(invalid_attributes(&again), [("userName".to_string(), 7410)]);
    let missing = call(
        &server,
        "POST",
        "/users",
        WATERFORD,
        Some(&json!({"userName": "x"})),
    );
    assert_eq!(
        invalid_attributes(&missing),
        [
            ("email".to_string(), 7400),
            ("firstName".to_string(), 7400),
            ("lastName".to_string(), 7400),
            ("phone".to_string(), 7400),
            ("userRole".to_string(), 7400)
        ]
    );
    let mut no_partner = body.clone();
    no_partner["userName"] = json!("Jane Doe");
    no_partner.as_object_mut().unwrap().remove("partner");
    assert_eq!(
        invalid_attributes(&call(
            &server,
            "POST",
            "/users",
            WATERFORD,
            Some(&no_partner)
        )),
        [("partner".to_string(), 7400)]
    );
    // Listed, then updated: version + 1, and moved to a client as a client user.
    assert_eq!(listed_ids(&server, "/users", WATERFORD), [2664, 2666, id]);
    let patch = json!({"firstName": "Johnny", "userRole": {"name": "Client User"}, "client": {"name": "Test Client"}});
    assert_eq!(
        call(
            &server,
            "PATCH",
            &format!("/users/{id}"),
            WATERFORD,
            Some(&patch)
        )
        .json(),
        json!({"id": id})
    );
    let user = get(&server, &format!("/users/{id}"), WATERFORD).json();
    assert_eq!(user["firstName"], "Johnny");
    assert_eq!(user["version"], 1);
    assert_eq!(user["client"], json!({"id": 744, "name": "Test Client"}));
    assert!(user.get("partner").is_none());
    assert_eq!(
        listed_ids(&server, "/users?client=744", WATERFORD),
        [2664, id]
    );
    assert_eq!(
        listed_ids(&server, "/users?client=Test%20Client&take=1", WATERFORD),
        [2664]
    );
    let taken = call(
        &server,
        "PATCH",
        &format!("/users/{id}"),
        WATERFORD,
        Some(&json!({"userName": "waterford@example.com"})),
    );
    assert_eq!(invalid_attributes(&taken), [("userName".to_string(), 7410)]);
    assert_eq!(server.count("sc_users"), 3);
}

#[test]
fn a_client_with_an_inline_contact_creates_that_user() {
    let server = Server::start();
    let body = json!({"name": "Inline Co", "directPartner": {"name": "newPartnerName"},
                      "billingId": "cba999", "mid": "merchantId123",
                      "contact": {"userName": "jane@inline.example", "firstName": "Jane",
                                  "lastName": "Inline", "email": "jane@inline.example",
                                  "phone": "+14155550199"}});
    let reply = call(&server, "POST", "/clients", WATERFORD, Some(&body));
    assert_eq!(reply.status, 200, "{}", reply.body);
    let id = reply.json()["id"].as_i64().unwrap();
    let client = get(&server, &format!("/clients/{id}"), WATERFORD).json();
    assert_eq!(client["isActive"], true, "active unless told otherwise");
    assert_eq!(client["mid"], "merchantId123");
    assert_eq!(client["billingId"], "cba999");
    assert_eq!(
        client["directPartner"],
        json!({"id": 793, "name": "newPartnerName"})
    );
    assert_eq!(client["partner"], json!({"id": 792, "name": "partnerName"}));
    assert_eq!(client["contact"]["firstName"], "Jane");
    let contact = get(
        &server,
        &format!("/users/{}", client["contact"]["id"]),
        WATERFORD,
    )
    .json();
    assert_eq!(contact["userRole"], json!({"name": "Client Admin"}));
    assert_eq!(contact["client"], json!({"id": id, "name": "Inline Co"}));
    assert_eq!(server.count("sc_users"), 3);
}

#[test]
fn partners_are_created_as_sub_partners_and_updated() {
    let server = Server::start();
    // The partners guide's example body (it has no contact).
    let body = json!({"name": "subPartnerName", "isActive": false,
                      "reference": "7c6377eb4753ad4490302263a6e0a7df", "parent": {"id": 793}});
    let reply = call(&server, "POST", "/partners", WATERFORD, Some(&body));
    assert_eq!(reply.status, 200, "{}", reply.body);
    let id = reply.json()["id"].as_i64().unwrap();
    let detail = get(&server, &format!("/partners/{id}"), WATERFORD);
    let partner = detail.json();
    assert_eq!(
        keys_in_order(&detail.body, &partner),
        [
            "id",
            "name",
            "reference",
            "billingId",
            "verificationPhrase",
            "isActive",
            "version",
            "parent",
            "contact",
            "created",
            "modified"
        ]
    );
    assert_eq!(
        partner["parent"],
        json!({"id": 793, "name": "newPartnerName"})
    );
    assert_eq!(partner["reference"], "7c6377eb4753ad4490302263a6e0a7df");
    assert_eq!(partner["isActive"], false);
    assert_eq!(partner["contact"], Value::Null);
    // A client under the grandchild still has the root as its partner.
    let client = json!({"name": "Deep", "directPartner": {"id": id}, "contact": {"id": 2666}});
    let client_id = call(&server, "POST", "/clients", WATERFORD, Some(&client)).json()["id"]
        .as_i64()
        .unwrap();
    assert_eq!(
        get(&server, &format!("/clients/{client_id}"), WATERFORD).json()["partner"],
        json!({"id": 792, "name": "partnerName"})
    );
    // Only sub-partners, with unique names.
    let no_parent = call(
        &server,
        "POST",
        "/partners",
        WATERFORD,
        Some(&json!({"name": "Top"})),
    );
    assert_eq!(
        invalid_attributes(&no_parent),
        [("parent".to_string(), 7400)]
    );
    let duplicate = call(
        &server,
        "POST",
        "/partners",
        WATERFORD,
        Some(&json!({"name": "PARTNERNAME", "parent": {"id": 792}})),
    );
    assert_eq!(invalid_attributes(&duplicate), [("name".to_string(), 7410)]);
    // With an inline contact, who becomes a Partner Supervisor of the new partner.
    let with_contact = json!({"name": "Contacted", "parent": {"name": "partnerName"},
                              "contact": {"userName": "pat@example.com", "firstName": "Pat", "lastName": "C",
                                          "email": "pat@example.com", "phone": "+14155550142"}});
    let reply = call(&server, "POST", "/partners", WATERFORD, Some(&with_contact));
    assert_eq!(reply.status, 200, "{}", reply.body);
    let contacted = get(
        &server,
        &format!("/partners/{}", reply.json()["id"]),
        WATERFORD,
    )
    .json();
    assert_eq!(contacted["contact"]["firstName"], "Pat");
    let pat = get(
        &server,
        &format!("/users/{}", contacted["contact"]["id"]),
        WATERFORD,
    )
    .json();
    assert_eq!(pat["userRole"], json!({"name": "Partner Supervisor"}));
    assert_eq!(pat["partner"]["id"], contacted["id"]);
    // Updates count versions; a partner cannot hang below itself.
    let reply = call(
        &server,
        "PATCH",
        &format!("/partners/{id}"),
        WATERFORD,
        Some(&json!({"isActive": true, "verificationPhrase": "open sesame"})),
    );
    assert_eq!(reply.json(), json!({ "id": id }));
    let partner = get(&server, &format!("/partners/{id}"), WATERFORD).json();
    assert_eq!(
        (partner["version"].as_i64(), partner["isActive"].as_bool()),
        (Some(1), Some(true))
    );
    assert_eq!(partner["verificationPhrase"], "open sesame");
    let cycle = call(
        &server,
        "PATCH",
        "/partners/793",
        WATERFORD,
        Some(&json!({"parent": {"id": id}})),
    );
    assert_eq!(invalid_attributes(&cycle), [("parent".to_string(), 7422)]);
    assert_eq!(
        status(
            &server,
            "PATCH",
            "/partners/792",
            WATERFORD,
            Some(json!({"parent": {"id": 793}}))
        ),
        403
    );
    assert_eq!(
        listed_ids(&server, "/partners?partner=793", WATERFORD),
        [793, id]
    );
}

/// The welcome mail and its set-password page.
#[path = "shieldconex_welcome.rs"]
mod welcome;

/// The list's `total` comes from counts kept by triggers; after creates, a move to another
/// partner and a soft delete, it must still equal a plain count, and paging across the
/// subtree's partners must give every live client once, in id order.
#[test]
fn list_totals_and_pages_stay_exact_across_moves_and_deletes() {
    let server = Server::start();
    let auth = basic(WATERFORD);
    let headers = [
        ("Authorization", auth.as_str()),
        ("Content-Type", "application/json"),
    ];
    let mut ids = Vec::new();
    for i in 0..7 {
        let partner = if i % 2 == 0 { 792 } else { 793 };
        let body = json!({"name": format!("Counted {i}"), "directPartner": {"id": partner}, "contact": {"id": 2664}});
        let reply = server.post("/shieldconex/api/v1/clients", &headers, &body.to_string());
        assert_eq!(reply.status, 200, "{}", reply.body);
        ids.push(reply.json()["id"].as_i64().unwrap());
    }
    let moved = server.call(
        "PATCH",
        &format!("/shieldconex/api/v1/clients/{}", ids[0]),
        &headers,
        Some(br#"{"directPartner": {"id": 793}}"#),
    );
    assert_eq!(moved.status, 200);
    assert_eq!(
        server
            .call(
                "DELETE",
                &format!("/shieldconex/api/v1/clients/{}", ids[1]),
                &headers,
                None
            )
            .status,
        200
    );

    let live: i64 = server
        .db()
        .query_row(
            "SELECT count(*) FROM sc_clients WHERE deleted_at IS NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let mut seen = Vec::new();
    for skip in (0..20).step_by(3) {
        let page = server
            .get(
                &format!("/shieldconex/api/v1/clients?partner=792&take=3&skip={skip}"),
                &headers,
            )
            .json();
        assert_eq!(page["total"], live);
        seen.extend(
            page["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["id"].as_i64().unwrap()),
        );
    }
    let mut sorted = seen.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(seen, sorted, "in id order, each once");
    assert_eq!(seen.len() as i64, live);
    assert!(!seen.contains(&ids[1]));
    let sub = server
        .get("/shieldconex/api/v1/clients?partner=793", &headers)
        .json();
    assert_eq!(
        sub["total"], 3,
        "793 got clients 1, 3 and 5; 1 was deleted and 0 moved in: {sub}"
    );
}

/// Tree walks stop at 64 levels, so a tree may not grow deeper: past it, a create answers
/// 409 on `parent`, and every partner of the chain still has the true root.
#[test]
fn partner_trees_stop_at_64_levels() {
    let server = Server::start();
    let auth = basic(WATERFORD);
    let headers = [
        ("Authorization", auth.as_str()),
        ("Content-Type", "application/json"),
    ];
    let mut parent = 792;
    let mut refused = None;
    for level in 1..=70 {
        let body = json!({"name": format!("level{level}"), "parent": {"id": parent}});
        let reply = server.post("/shieldconex/api/v1/partners", &headers, &body.to_string());
        if reply.status != 200 {
            assert_eq!(reply.status, 409, "{}", reply.body);
            assert!(reply.json()["errors"]["parent"]["message"]
                .as_str()
                .unwrap()
                .contains("64 levels"));
            refused = Some(level);
            break;
        }
        parent = reply.json()["id"].as_i64().unwrap();
    }
    assert_eq!(
        refused,
        Some(64),
        "levels 1 to 63 below the root are accepted"
    );
    let deepest = server.get(&format!("/shieldconex/api/v1/partners/{parent}"), &headers);
    assert_eq!(
        deepest.status, 200,
        "the root partner's user still sees the deepest one"
    );
}

/// The live ids of partner 792's subtree in id order, straight from the file: what every page
/// of `GET /clients?partner=792` must be cut from.
fn subtree_ids_in_db(server: &Server) -> Vec<i64> {
    server
        .db()
        .rows(
            "WITH RECURSIVE sub(id) AS (SELECT CAST(792 AS BIGINT) UNION ALL
                 SELECT p.id FROM sc_partners p JOIN sub ON p.parent_id = sub.id)
             SELECT id FROM sc_clients WHERE deleted_at IS NULL
               AND direct_partner_id IN (SELECT id FROM sub) ORDER BY id",
            [],
            |r| r.get(0),
        )
        .unwrap()
}

/// Deep pages start from a bucket of 1,024 ids (schema.sql, migration 4) instead of stepping
/// over every earlier client: each page, at and around every bucket boundary, across the
/// partner and its sub-partner, with soft-deleted and hard-deleted clients in between, must
/// be exactly the slice of the list that `skip` and `take` define.
#[test]
fn deep_pages_are_the_same_slices_of_the_list() {
    let dir = Server::start().kill();
    {
        let db = crate::support::TestDb::open(&crate::support::database_of(&dir));
        db.with(|tx| {
            tx.execute_batch("BEGIN").unwrap();
            let mut insert = tx
            .prepare(
                "INSERT INTO sc_clients (id, name, billing_id, mid, location, is_active, version,
                                         direct_partner_id, contact_id, created_at, modified_at,
                                         deleted_at)
                 SELECT ?1, ?4, billing_id, mid, location, is_active, version, ?2,
                        contact_id, created_at, modified_at, ?3
                 FROM sc_clients WHERE id = 744",
            )
            .unwrap();
            let (mut id, mut x) = (5000i64, 7u64);
            for _ in 0..3000 {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                id += 1 + (x >> 60) as i64 % 4;
                let partner = if (x >> 40).is_multiple_of(3) {
                    793
                } else {
                    792
                };
                let deleted = (x >> 20).is_multiple_of(11).then_some(1i64);
                insert
                    .execute(clientele::params![
                        id,
                        partner,
                        deleted,
                        format!("Deep {id}")
                    ])
                    .unwrap();
            }
            drop(insert);
            tx.execute("DELETE FROM sc_clients WHERE id % 17 = 0 AND id > 5000", [])
                .unwrap();
            tx.execute_batch("COMMIT").unwrap();
        });
    }
    let server = Server::builder().start_in(dir);
    // Through the API as well: soft deletes around the first bucket boundaries, and creates.
    let before = subtree_ids_in_db(&server);
    for position in [1020, 1023, 1024, 1030, 2047] {
        let id = before[position];
        let reply = call(
            &server,
            "DELETE",
            &format!("/clients/{id}"),
            WATERFORD,
            None,
        );
        assert_eq!(reply.status, 200, "{}", reply.body);
    }
    for i in 0..3 {
        let body = json!({"name": format!("Deep new {i}"), "directPartner": {"id": 793},
                          "contact": {"id": 2666}, "mid": "M", "billingId": "b"});
        assert_eq!(
            call(&server, "POST", "/clients", WATERFORD, Some(&body)).status,
            200
        );
    }
    let all = subtree_ids_in_db(&server);
    let total = all.len();
    assert!(total > 2500, "{total}");
    let mut skips = vec![
        0,
        1,
        1022,
        1023,
        1024,
        1025,
        2048,
        total - 1,
        total,
        total + 7,
    ];
    for p in 1..total {
        if all[p] >> 10 != all[p - 1] >> 10 {
            skips.extend([p - 1, p, p + 1]);
        }
    }
    for skip in skips {
        for take in [1, 20, 1000] {
            let body = get(
                &server,
                &format!("/clients?partner=792&take={take}&skip={skip}"),
                WATERFORD,
            )
            .json();
            let ids: Vec<i64> = body["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["id"].as_i64().unwrap())
                .collect();
            let expected = &all[skip.min(total)..(skip + take).min(total)];
            assert_eq!(ids, expected, "skip={skip} take={take}");
            assert_eq!(body["total"], total, "skip={skip} take={take}");
        }
    }
    // The sub-partner's own list, a part of the same buckets.
    let sub = listed_ids(&server, "/clients?partner=793&take=1000&skip=0", WATERFORD);
    let sub_deep = listed_ids(&server, "/clients?partner=793&take=5&skip=1024", WATERFORD);
    let sub_all: Vec<i64> = server
        .db()
        .rows(
            "SELECT id FROM sc_clients WHERE deleted_at IS NULL AND direct_partner_id = 793
             ORDER BY id",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(sub, sub_all[..1000.min(sub_all.len())]);
    assert_eq!(
        sub_deep,
        sub_all[1024.min(sub_all.len())..1029.min(sub_all.len())]
    );
}
