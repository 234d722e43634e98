//! "No 5xx and no panic on anything a client can send": every write endpoint of every
//! flavour gets garbage bodies and its documented example with each field swapped for values
//! of the wrong type. Every answer must be below 500, and the server must stay up.

use serde_json::{json, Value};

use crate::support::{Server, MX_ACCEPT, MX_DEMO_AUTH};

const GARBAGE: [&str; 9] = [
    "",
    "null",
    "[]",
    "{",
    "\"x\"",
    "1e999",
    "{\"a\":",
    "\u{0}\u{1}\u{2}",
    "{}",
];

fn wrong_values() -> Vec<Value> {
    vec![
        Value::Null,
        json!(1),
        json!(-1.5),
        json!(1e300),
        json!("x"),
        json!(""),
        json!("ü".repeat(300)),
        json!([]),
        json!({}),
        json!(true),
        json!([[{"deep": [1]}]]),
    ]
}

/// Every one-field change of `example`: at the top level and one level down.
fn mutations(example: &Value) -> Vec<Value> {
    let mut out = Vec::new();
    let Some(top) = example.as_object() else {
        return out;
    };
    for (key, inner) in top {
        for wrong in wrong_values() {
            let mut body = example.clone();
            body[key] = wrong;
            out.push(body);
        }
        let mut without = example.clone();
        without.as_object_mut().unwrap().remove(key);
        out.push(without);
        if let Some(nested) = inner.as_object() {
            for nested_key in nested.keys() {
                for wrong in wrong_values() {
                    let mut body = example.clone();
                    body[key][nested_key] = wrong;
                    out.push(body);
                }
            }
        }
        if let Some(items) = inner.as_array() {
            if let Some(Value::Object(first)) = items.first() {
                for nested_key in first.keys() {
                    for wrong in wrong_values() {
                        let mut body = example.clone();
                        body[key][0][nested_key] = wrong;
                        out.push(body);
                    }
                }
            }
        }
    }
    out
}

/// `example` with `key` set to `value` (a PATCH must not collide with what the POST made).
fn with(example: &Value, key: &str, value: Value) -> Value {
    let mut changed = example.clone();
    changed[key] = value;
    changed
}

fn hammer(server: &Server, method: &str, path: &str, headers: &[(&str, &str)], example: &Value) {
    // The example itself is accepted, so the mutations reach past the first checks.
    let valid = server.call(method, path, headers, Some(example.to_string().as_bytes()));
    assert!(
        valid.status < 300,
        "{method} {path} rejects its example: {} {}",
        valid.status,
        valid.body
    );
    let mut bodies: Vec<String> = GARBAGE.iter().map(|s| s.to_string()).collect();
    bodies.extend(mutations(example).iter().map(Value::to_string));
    for body in bodies {
        let reply = server.call(method, path, headers, Some(body.as_bytes()));
        assert!(
            reply.status < 500,
            "{method} {path} with {body}: {} {}",
            reply.status,
            reply.body
        );
    }
}

#[test]
fn no_input_makes_any_flavour_fail_with_a_5xx() {
    let server = Server::start();
    let json_type = ("Content-Type", "application/json");

    let mx = json!({"client": {"company_name": "MX", "email": "john.foo@mx.com", "first_name": "John", "last_name": "Foo"}});
    hammer(
        &server,
        "POST",
        "/mx/clients",
        &[
            ("Accept", MX_ACCEPT),
            ("Authorization", MX_DEMO_AUTH),
            json_type,
        ],
        &mx,
    );

    let sc_auth = "Basic d2F0ZXJmb3JkQGV4YW1wbGUuY29tOndhdGVyZm9yZDEyMw==";
    let sc_client = json!({"name": "Robust Client", "isActive": false, "billingId": "b", "mid": "m",
        "directPartner": {"id": 792, "name": "partnerName"},
        "contact": {"id": 2666, "firstName": "WATERFORD", "lastName": "Example", "email": "x@example.com"}});
    hammer(
        &server,
        "POST",
        "/shieldconex/api/v1/clients",
        &[("Authorization", sc_auth), json_type],
        &sc_client,
    );
    hammer(
        &server,
        "PATCH",
        "/shieldconex/api/v1/clients/744",
        &[("Authorization", sc_auth), json_type],
        &with(&sc_client, "name", json!("Robust Client Renamed")),
    );
    let sc_user = json!({"userName": "robust@example.com", "firstName": "R", "lastName": "B", "email": "robust@example.com",
        "phone": "+14155550100", "userRole": "Partner User", "partner": {"id": 792}, "isActive": true, "sendWelcomeEmail": true});
    hammer(
        &server,
        "POST",
        "/shieldconex/api/v1/users",
        &[("Authorization", sc_auth), json_type],
        &sc_user,
    );
    hammer(
        &server,
        "PATCH",
        "/shieldconex/api/v1/users/2664",
        &[("Authorization", sc_auth), json_type],
        &with(&sc_user, "userName", json!("robust2@example.com")),
    );
    let sc_partner = json!({"name": "robustPartner", "isActive": false, "reference": "7c6377eb", "parent": {"id": 792}});
    hammer(
        &server,
        "POST",
        "/shieldconex/api/v1/partners",
        &[("Authorization", sc_auth), json_type],
        &sc_partner,
    );
    hammer(
        &server,
        "PATCH",
        "/shieldconex/api/v1/partners/793",
        &[("Authorization", sc_auth), json_type],
        &with(&sc_partner, "name", json!("robustPartner2")),
    );

    let login = json!({"api_client": {"api_key": "api_key", "password": "password"}});
    hammer(&server, "POST", "/nueve09/auth/login", &[json_type], &login);
    let logged_in = server.post("/nueve09/auth/login", &[json_type], &login.to_string());
    let bearer = logged_in
        .header("Authorization")
        .expect("a token")
        .to_string();
    let n09_client = json!({"name": "Robusto", "alias": "ROBU", "email": "r@example.com", "available": 1,
        "phone": "5555555555", "mobile_phone": "6666666666", "rfc": "AAMM9001010A1", "street": "Av",
        "ext_street_number": "1", "suburb": "S", "township": "T", "city": "C", "state": "CDMX",
        "postal_code": "55555", "contact_name": "Juan", "contact_surname": "P", "contact_email": "j@example.com",
        "contact_telephone_country_code": 52, "contact_telephone": "5555555555", "contact_mobile_phone_country_code": "52", "contact_mobile_phone": "6666666666",
        "legal_representative_name": "I", "legal_representative_surname": "M",
        "api_key_name": "ROBUST_KEY", "api_key_description": "d", "api_key_password": "12345"});
    hammer(
        &server,
        "POST",
        "/nueve09/clients",
        &[("Authorization", bearer.as_str()), json_type],
        &n09_client,
    );

    let token = server.post(
        "/makeleaps/user/oauth2/token/",
        &[
            (
                "Authorization",
                "Basic ZGVtby1jbGllbnQtaWQ6ZGVtby1jbGllbnQtc2VjcmV0",
            ),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        "grant_type=client_credentials",
    );
    assert_eq!(token.status, 200, "{}", token.body);
    let ml_auth = format!("Bearer {}", token.json()["access_token"].as_str().unwrap());
    let ml_client = json!({"client_external_id": "ROBUST-1", "contacts": [
        {"contact_type": "organization", "name": "Example Co", "addresses": [], "email": null},
        {"contact_type": "person", "family_name": "Sato", "given_name": "Taro",
         "addresses": [{"street_address": "1", "postal_code": "601-8446"}], "email": {"address": "taro@example.com"}}]});
    let partner = "/makeleaps/api/partner/0000000000000000000";
    hammer(
        &server,
        "POST",
        &format!("{partner}/client/"),
        &[("Authorization", ml_auth.as_str()), json_type],
        &ml_client,
    );
    for method in ["PUT", "PATCH"] {
        hammer(
            &server,
            method,
            &format!("{partner}/client/0000000000000000000/"),
            &[("Authorization", ml_auth.as_str()), json_type],
            &with(
                &ml_client,
                "client_external_id",
                json!(format!("ROBUST-{method}")),
            ),
        );
    }

    assert_eq!(server.get("/healthz", &[]).status, 200);
}
