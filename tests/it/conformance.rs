//! Vendor-contract checks: each deviation is refused as the vendor refuses it (or accepted
//! and recorded under `--lenient`), and `GET /_admin/conformance` reports it for the tenant
//! that made it.

use serde_json::{json, Value};

use crate::support::{Server, MX_ACCEPT, MX_DEMO_AUTH};

const JSON: (&str, &str) = ("Content-Type", "application/json");
/// `waterford@example.com:waterford123`, the ShieldConex demo user.
const WATERFORD: &str = "Basic d2F0ZXJmb3JkQGV4YW1wbGUuY29tOndhdGVyZm9yZDEyMw==";

fn mx_body() -> String {
    json!({"client": {"company_name": "MX", "email": "john.foo@mx.com",
                      "first_name": "John", "last_name": "Foo"}})
    .to_string()
}

fn lenient() -> Server {
    Server::builder().arg("--lenient").start()
}

/// The codes of the rules a journal entry broke, with whether each was refused.
fn codes(entry: &Value) -> Vec<(String, bool)> {
    entry["conformance"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["code"].as_str().unwrap().to_string(),
                d["refused"] == true,
            )
        })
        .collect()
}

fn last_entry(server: &Server) -> Value {
    let list = server.admin("GET", "/requests", None).json();
    list["requests"].as_array().unwrap().last().unwrap().clone()
}

fn report(server: &Server, query: &str) -> Value {
    let reply = server.admin("GET", &format!("/conformance{query}"), None);
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.json()
}

/// (code, count, refused) of each rule of a report.
fn tally(report: &Value) -> Vec<(String, u64, u64)> {
    report["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["code"].as_str().unwrap().to_string(),
                r["count"].as_u64().unwrap(),
                r["refused"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn mx_refuses_a_missing_accept_and_an_inexact_path_and_reports_them() {
    let server = Server::start();
    let auth = ("Authorization", MX_DEMO_AUTH);
    let no_accept = server.post("/mx/clients", &[auth, JSON], &mx_body());
    assert_eq!(no_accept.status, 406);
    assert_eq!(codes(&last_entry(&server)), [("mx.accept".into(), true)]);
    let slash = server.post(
        "/mx/clients/",
        &[auth, JSON, ("Accept", MX_ACCEPT)],
        &mx_body(),
    );
    assert_eq!(slash.status, 404);
    let text = server.post(
        "/mx/clients",
        &[auth, ("Content-Type", "text/plain"), ("Accept", MX_ACCEPT)],
        &mx_body(),
    );
    assert_eq!(text.status, 404);
    let fine = server.post(
        "/mx/clients",
        &[auth, JSON, ("Accept", MX_ACCEPT)],
        &mx_body(),
    );
    assert_eq!(fine.status, 200);
    assert_eq!(codes(&last_entry(&server)), []);
    assert_eq!(server.count("mx_clients"), 1);

    let mine = report(&server, "?tenant=PROCESSOR-1234&flavour=mx");
    assert_eq!(mine["requests"], 4);
    assert_eq!(mine["deviating_requests"], 3);
    assert_eq!(
        tally(&mine),
        [
            ("mx.accept".to_string(), 1, 1),
            ("mx.content_type".to_string(), 1, 1),
            ("mx.path".to_string(), 1, 1),
        ]
    );
    let path_rule = &mine["rules"][2];
    assert_eq!(path_rule["first"]["path"], "/mx/clients/");
    assert_eq!(path_rule["first"]["status"], 404);
    assert!(path_rule["source"]
        .as_str()
        .unwrap()
        .starts_with("https://"));
    assert_eq!(report(&server, "?tenant=someone-else")["rules"], json!([]));
}

#[test]
fn lenient_accepts_what_mx_refuses_and_records_it() {
    let server = lenient();
    let auth = ("Authorization", MX_DEMO_AUTH);
    let reply = server.post("/mx/clients/", &[auth, JSON, ("Accept", "*/*")], &mx_body());
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        codes(&last_entry(&server)),
        [("mx.path".into(), false), ("mx.accept".into(), false)]
    );
    assert_eq!(server.count("mx_clients"), 1);
    let mine = report(&server, "?tenant=PROCESSOR-1234");
    assert_eq!(
        tally(&mine),
        [
            ("mx.accept".to_string(), 1, 0),
            ("mx.path".to_string(), 1, 0)
        ]
    );
}

#[test]
fn the_environment_variable_turns_lenient_on() {
    let server = Server::builder().env("CLIENTELE_LENIENT", "true").start();
    let reply = server.post(
        "/mx/clients",
        &[("Authorization", MX_DEMO_AUTH), JSON],
        &mx_body(),
    );
    assert_eq!(reply.status, 200);
}

fn inline_contact(role: Value) -> Value {
    json!({"userName": "pat@example.com", "firstName": "Pat", "lastName": "C",
           "email": "pat@example.com", "phone": "+14155550142", "userRole": role})
}

#[test]
fn shieldconex_refuses_text_bodies_and_null_contact_roles() {
    let server = Server::start();
    let api = "/shieldconex/api/v1";
    let auth = ("Authorization", WATERFORD);
    let partners = server.count("sc_partners");
    let partner = json!({"name": "Sub", "parent": {"id": 792}}).to_string();
    let text = server.post(
        &format!("{api}/partners"),
        &[auth, ("Content-Type", "text/plain")],
        &partner,
    );
    assert_eq!(text.status, 409, "{}", text.body);
    assert_eq!(
        codes(&last_entry(&server)),
        [("shieldconex.content_type".into(), true)]
    );
    for (path, body) in [
        (
            "/partners",
            json!({"name": "Sub", "parent": {"id": 792}, "contact": inline_contact(Value::Null)}),
        ),
        (
            "/clients",
            json!({"name": "C", "directPartner": {"id": 792}, "contact": inline_contact(Value::Null)}),
        ),
    ] {
        let reply = server.post(&format!("{api}{path}"), &[auth, JSON], &body.to_string());
        assert_eq!(reply.status, 409, "{path}: {}", reply.body);
        assert!(
            reply.body.contains("contact.userRole is required"),
            "{}",
            reply.body
        );
    }
    let slash = server.post(&format!("{api}/partners/"), &[auth, JSON], &partner);
    assert_eq!(slash.status, 404);
    let mine = report(&server, "?tenant=waterford@example.com");
    assert_eq!(
        tally(&mine),
        [
            ("shieldconex.contact_role_null".to_string(), 2, 2),
            ("shieldconex.content_type".to_string(), 1, 1),
            ("shieldconex.path".to_string(), 1, 1),
        ]
    );
    assert_eq!(server.count("sc_partners"), partners, "nothing was written");
}

#[test]
fn shieldconex_lenient_takes_the_default_role_for_a_null_one() {
    let server = lenient();
    let body =
        json!({"name": "Sub", "parent": {"id": 792}, "contact": inline_contact(Value::Null)});
    let reply = server.post(
        "/shieldconex/api/v1/partners",
        &[("Authorization", WATERFORD), ("Content-Type", "text/plain")],
        &body.to_string(),
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        codes(&last_entry(&server)),
        [
            ("shieldconex.content_type".into(), false),
            ("shieldconex.contact_role_null".into(), false)
        ]
    );
}

fn nueve09_login(server: &Server) -> (String, String) {
    let body = json!({"api_client": {"api_key": "api_key", "password": "password"}});
    let reply = server.post("/nueve09/auth/login", &[JSON], &body.to_string());
    assert_eq!(reply.status, 200, "{}", reply.body);
    let account = reply.json()["data"]["client"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    (reply.header("Authorization").unwrap().to_string(), account)
}

#[test]
fn nueve09_requires_json_and_records_blank_optional_fields() {
    let server = Server::start();
    let login = json!({"api_client": {"api_key": "api_key", "password": "password"}});
    let bare = server.post("/nueve09/auth/login", &[], &login.to_string());
    assert_eq!(bare.status, 400, "{}", bare.body);
    assert_eq!(bare.json()["status"]["code"], 400);
    let (token, account) = nueve09_login(&server);
    let auth = ("Authorization", token.as_str());
    let body = crate::nueve09::CREATE_EXAMPLE;
    let no_type = server.post("/nueve09/clients", &[auth], body);
    assert_eq!(no_type.status, 400, "{}", no_type.body);
    assert_eq!(no_type.json()["success"], false);
    assert_eq!(server.count("n09_accounts"), 1, "no sub-client");
    let mut blank: Value = serde_json::from_str(body).unwrap();
    blank["legal_representative_telephone"] = json!("");
    blank["legal_representative_telephone_country_code"] = json!("");
    let created = server.post("/nueve09/clients", &[auth, JSON], &blank.to_string());
    assert_eq!(created.status, 200, "{}", created.body);
    let entry = last_entry(&server);
    assert_eq!(entry["tenant"], account.as_str());
    assert_eq!(
        codes(&entry),
        [
            ("nueve09.blank_optional".into(), false),
            ("nueve09.blank_optional".into(), false)
        ]
    );
    let mine = report(&server, &format!("?tenant={account}"));
    assert_eq!(
        tally(&mine),
        [
            ("nueve09.blank_optional".to_string(), 2, 0),
            ("nueve09.content_type".to_string(), 2, 2),
        ],
        "the login without Content-Type is the account's too: its api_key names it"
    );
}

fn makeleaps_token(server: &Server) -> String {
    format!("Bearer {}", crate::support::makeleaps_demo_token(server))
}

const ML_PARTNER: &str = "0000000000000000000";

#[test]
fn makeleaps_paths_are_exact_and_per_page_null_is_recorded() {
    let server = Server::start();
    let token = makeleaps_token(&server);
    let auth = ("Authorization", token.as_str());
    let body = json!({"contacts": [{"contact_type": "organization", "name": "No Slash"}]});
    let no_slash = server.post(
        &format!("/makeleaps/api/partner/{ML_PARTNER}/client"),
        &[auth, JSON],
        &body.to_string(),
    );
    assert_eq!(no_slash.status, 404, "{}", no_slash.body);
    assert_eq!(no_slash.json()["response"]["detail"], "Not found.");
    let text = server.post(
        &format!("/makeleaps/api/partner/{ML_PARTNER}/client/"),
        &[auth, ("Content-Type", "text/plain")],
        &body.to_string(),
    );
    assert_eq!(text.status, 415);
    let list = server.get(
        &format!("/makeleaps/api/partner/{ML_PARTNER}/client/?per_page=null"),
        &[auth],
    );
    assert_eq!(list.status, 200, "{}", list.body);
    let entry = last_entry(&server);
    assert_eq!(entry["tenant"], ML_PARTNER);
    assert_eq!(codes(&entry), [("makeleaps.per_page".into(), false)]);
    let mine = report(&server, &format!("?tenant={ML_PARTNER}&flavour=makeleaps"));
    assert_eq!(
        tally(&mine),
        [
            ("makeleaps.content_type".to_string(), 1, 1),
            ("makeleaps.path".to_string(), 1, 1),
            ("makeleaps.per_page".to_string(), 1, 0),
        ],
        "the path deviation is the partner's too: its token names it"
    );
    let everyone = report(&server, "?flavour=makeleaps");
    assert_eq!(everyone["rules"].as_array().unwrap().len(), 3);
}

#[test]
fn makeleaps_lenient_takes_the_path_without_its_slash() {
    let server = lenient();
    let token = makeleaps_token(&server);
    let body = json!({"contacts": [{"contact_type": "organization", "name": "No Slash"}]});
    let created = server.post(
        &format!("/makeleaps/api/partner/{ML_PARTNER}/client"),
        &[("Authorization", token.as_str()), JSON],
        &body.to_string(),
    );
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(
        codes(&last_entry(&server)),
        [("makeleaps.path".into(), false)]
    );
}

#[test]
fn makeleaps_api_root_leads_to_the_partner_with_the_proxy_s_scheme() {
    let server = Server::builder()
        .arg("--trusted-proxies")
        .arg("127.0.0.1")
        .start();
    let token = makeleaps_token(&server);
    let auth = ("Authorization", token.as_str());
    let root = server.get("/makeleaps/api/", &[auth]);
    assert_eq!(root.status, 200, "{}", root.body);
    let url = root.json()["response"]["partners"][0]["url"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(url.starts_with("http://"), "{url}");
    assert!(
        url.ends_with(&format!("/makeleaps/api/partner/{ML_PARTNER}/")),
        "{url}"
    );
    let path = &url[url.find("/makeleaps/").unwrap()..];
    assert_eq!(server.get(path, &[auth]).status, 200);
    let proxied = server.get("/makeleaps/api/", &[auth, ("X-Forwarded-Proto", "https")]);
    let partner = &proxied.json()["response"]["partners"][0];
    for key in ["url", "clients", "contacts"] {
        assert!(
            partner[key].as_str().unwrap().starts_with("https://"),
            "{partner}"
        );
    }
    let listed = server.get(
        &format!("/makeleaps/api/partner/{ML_PARTNER}/client/?per_page=1"),
        &[auth, ("X-Forwarded-Proto", "https")],
    );
    let listed = listed.json();
    assert!(listed["response"][0]["url"]
        .as_str()
        .unwrap()
        .starts_with("https://"));
}

#[test]
fn x_forwarded_proto_counts_only_from_trusted_proxies() {
    let server = Server::start();
    let token = makeleaps_token(&server);
    let root = server.get(
        "/makeleaps/api/",
        &[
            ("Authorization", token.as_str()),
            ("X-Forwarded-Proto", "https"),
        ],
    );
    let url = root.json()["response"]["partners"][0]["url"].clone();
    assert!(url.as_str().unwrap().starts_with("http://"), "{url}");
}

#[test]
fn the_report_is_filtered_like_the_journal_and_only_answers_get() {
    let server = Server::start();
    let reply = server.post(
        "/mx/clients",
        &[("Authorization", MX_DEMO_AUTH), JSON],
        &mx_body(),
    );
    assert_eq!(reply.status, 406);
    assert_eq!(report(&server, "?flavour=mx")["deviating_requests"], 1);
    assert_eq!(report(&server, "?flavour=makeleaps")["requests"], 0);
    let later = report(&server, "?since=2999-01-01T00:00:00Z");
    assert_eq!(later["requests"], 0);
    assert_eq!(
        server
            .admin("GET", "/conformance?since=yesterday", None)
            .status,
        400
    );
    let post = server.admin("POST", "/conformance", Some("{}"));
    assert_eq!(post.status, 405);
    assert_eq!(post.header("Allow"), Some("GET"));
    let only_mine = server
        .admin("GET", "/requests?tenant=PROCESSOR-1234", None)
        .json();
    assert_eq!(only_mine["requests"].as_array().unwrap().len(), 1);
}

#[test]
fn counts_outlive_the_journal_and_go_with_a_reset() {
    let server = Server::builder().arg("--journal-entries").arg("20").start();
    let auth = ("Authorization", MX_DEMO_AUTH);
    for _ in 0..60 {
        let reply = server.post("/mx/clients", &[auth, JSON], &mx_body());
        assert_eq!(reply.status, 406);
    }
    for _ in 0..5 {
        assert_eq!(server.get("/healthz", &[]).status, 200);
    }
    let mine = report(&server, "?tenant=PROCESSOR-1234");
    assert_eq!(tally(&mine), [("mx.accept".to_string(), 60, 60)]);
    assert_eq!(mine["deviating_requests"], 60);
    assert_eq!(mine["counts_from"], "store");
    assert_eq!(mine["uncounted"], 0);
    assert!(
        mine["requests"].as_u64().unwrap() <= 20,
        "examples come from the ring"
    );
    assert!(mine["rules"][0]["last"]["id"].as_u64().is_some());
    // A time filter can only look at the journal, and says so.
    let recent = report(&server, "?tenant=PROCESSOR-1234&since=2000-01-01T00:00:00Z");
    assert_eq!(recent["counts_from"], "journal");
    assert!(recent["rules"][0]["count"].as_u64().unwrap() <= 20);

    assert_eq!(server.admin("POST", "/reset", None).status, 200);
    assert_eq!(
        report(&server, "?tenant=PROCESSOR-1234")["rules"],
        json!([])
    );
}

#[test]
fn every_deviation_of_a_refused_request_is_listed_in_order() {
    let server = Server::start();
    let reply = server.post(
        "/mx/clients",
        &[
            ("Authorization", MX_DEMO_AUTH),
            ("Content-Type", "text/plain"),
        ],
        &mx_body(),
    );
    // MX answers a wrong Content-Type with its 404 (docs/mx.md): the first deviation.
    assert_eq!(reply.status, 404, "{}", reply.body);
    assert!(reply.body.contains("Content-Type"), "{}", reply.body);
    assert_eq!(
        codes(&last_entry(&server)),
        [("mx.content_type".into(), true), ("mx.accept".into(), true)]
    );
    let mine = report(&server, "?tenant=PROCESSOR-1234");
    assert_eq!(
        tally(&mine),
        [
            ("mx.accept".to_string(), 1, 1),
            ("mx.content_type".to_string(), 1, 1)
        ]
    );
    assert_eq!(mine["deviating_requests"], 1);
}

#[test]
fn mistakes_made_before_authentication_carry_the_callers_tenant() {
    let server = Server::start();
    // Nueve09: a path mistake with a token, and a login without Content-Type.
    let (token, account) = nueve09_login(&server);
    let slash = server.get("/nueve09/clients/", &[("Authorization", token.as_str())]);
    assert_eq!(slash.status, 404, "{}", slash.body);
    assert_eq!(last_entry(&server)["tenant"], account.as_str());
    let login = json!({"api_client": {"api_key": "api_key", "password": "wrong"}});
    let bare = server.post("/nueve09/auth/login", &[], &login.to_string());
    assert_eq!(bare.status, 400);
    assert_eq!(last_entry(&server)["tenant"], account.as_str());
    assert_eq!(
        tally(&report(&server, &format!("?tenant={account}"))),
        [
            ("nueve09.content_type".to_string(), 1, 1),
            ("nueve09.path".to_string(), 1, 1)
        ]
    );
    // MakeLeaps: the token endpoint's mistakes are the partner's, not the client id's.
    let no_slash = server.post(
        "/makeleaps/user/oauth2/token",
        &[
            (
                "Authorization",
                "Basic ZGVtby1jbGllbnQtaWQ6ZGVtby1jbGllbnQtc2VjcmV0",
            ),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        "grant_type=client_credentials",
    );
    assert_eq!(no_slash.status, 404, "{}", no_slash.body);
    assert_eq!(last_entry(&server)["tenant"], ML_PARTNER);
    makeleaps_token(&server);
    assert_eq!(last_entry(&server)["tenant"], ML_PARTNER, "a good call too");
    assert_eq!(
        tally(&report(&server, &format!("?tenant={ML_PARTNER}"))),
        [("makeleaps.path".to_string(), 1, 1)]
    );
    // ShieldConex: the Basic user, as for every other call.
    let slash = server.get(
        "/shieldconex/api/v1/clients/744/",
        &[("Authorization", WATERFORD)],
    );
    assert_eq!(slash.status, 404, "{}", slash.body);
    assert_eq!(last_entry(&server)["tenant"], "waterford@example.com");
}

#[test]
fn deleting_a_tenant_set_forgets_its_counts() {
    let server = Server::start();
    let set = server.admin("POST", "/tenants", None).json();
    let processor = set["mx"]["processor_id"].as_str().unwrap();
    let auth = (
        "Authorization",
        set["mx"]["authorization"].as_str().unwrap(),
    );
    assert_eq!(
        server.post("/mx/clients", &[auth, JSON], &mx_body()).status,
        406
    );
    let demo = server.post(
        "/mx/clients",
        &[("Authorization", MX_DEMO_AUTH), JSON],
        &mx_body(),
    );
    assert_eq!(demo.status, 406);
    let query = format!("?tenant={processor}");
    assert_eq!(
        tally(&report(&server, &query)),
        [("mx.accept".to_string(), 1, 1)]
    );
    let id = set["id"].as_str().unwrap();
    assert_eq!(
        server
            .admin("DELETE", &format!("/tenants/{id}"), None)
            .status,
        200
    );
    let gone = report(&server, &query);
    assert_eq!(gone["deviating_requests"], 0);
    assert_eq!(
        gone["rules"],
        json!([]),
        "although the journal still has the request"
    );
    assert_eq!(gone["counts_from"], "store");
    assert_eq!(
        tally(&report(&server, "?tenant=PROCESSOR-1234")),
        [("mx.accept".to_string(), 1, 1)],
        "another tenant's counts stay"
    );
}

// Types and nulls (issue 25): each refused wrong type or null is a rule with its code, the
// field in its `detail`; each accepted value of another type is a warning rule.

/// (code, detail, refused) of each deviation of a journal entry, in the order checked.
fn deviations(entry: &Value) -> Vec<(String, Option<String>, bool)> {
    entry["conformance"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["code"].as_str().unwrap().to_string(),
                d["detail"].as_str().map(str::to_string),
                d["refused"] == true,
            )
        })
        .collect()
}

fn deviation(code: &str, detail: &str, refused: bool) -> (String, Option<String>, bool) {
    (code.to_string(), Some(detail.to_string()), refused)
}

#[test]
fn shieldconex_lists_refused_types_and_nulls_with_their_fields() {
    let server = Server::start();
    let api = "/shieldconex/api/v1";
    let auth = ("Authorization", WATERFORD);
    let body = json!({"name": null, "billingId": 5, "isActive": "yes",
                      "directPartner": {"id": 792}, "contact": {"id": 2666}});
    let reply = server.post(&format!("{api}/clients"), &[auth, JSON], &body.to_string());
    assert_eq!(reply.status, 409, "{}", reply.body);
    assert_eq!(reply.json()["errorCode"], 7409);
    for message in [
        "name is required.",
        "billingId must be a string.",
        "isActive must be a boolean.",
    ] {
        assert!(reply.body.contains(message), "{message}: {}", reply.body);
    }
    assert_eq!(
        deviations(&last_entry(&server)),
        [
            deviation("shieldconex.null", "name", true),
            deviation("shieldconex.type", "billingId", true),
            deviation("shieldconex.type", "isActive", true),
        ]
    );
    // A PATCH cannot clear isActive; a query's take is an integer; a path id is digits.
    let patch = server.call(
        "PATCH",
        &format!("{api}/clients/744"),
        &[auth, JSON],
        Some(br#"{"isActive": null}"#),
    );
    assert_eq!(patch.status, 409, "{}", patch.body);
    assert!(
        patch.body.contains("isActive cannot be null."),
        "{}",
        patch.body
    );
    let list = server.get(&format!("{api}/clients?partner=792&take=ten"), &[auth]);
    assert_eq!(list.status, 409, "{}", list.body);
    assert_eq!(
        deviations(&last_entry(&server)),
        [deviation("shieldconex.type", "take", true)]
    );
    let word = server.get(&format!("{api}/clients/seven"), &[auth]);
    assert_eq!(word.status, 404, "{}", word.body);
    let mine = report(&server, "?tenant=waterford@example.com");
    assert_eq!(
        tally(&mine),
        [
            ("shieldconex.null".to_string(), 2, 2),
            ("shieldconex.type".to_string(), 4, 4),
        ]
    );
    let null = &mine["rules"][0];
    assert_eq!(null["first"]["detail"], "name");
    assert_eq!(null["last"]["detail"], "isActive");
    assert_eq!(mine["rules"][1]["last"]["detail"], "path id seven");
    assert_eq!(server.count("sc_clients"), 1, "nothing was written");
}

#[test]
fn shieldconex_records_the_other_types_it_accepts() {
    let server = Server::start();
    let api = "/shieldconex/api/v1";
    let auth = ("Authorization", WATERFORD);
    let body = json!({"name": "String Id", "directPartner": {"id": "792"},
                      "contact": {"id": 2666}});
    let created = server.post(&format!("{api}/clients"), &[auth, JSON], &body.to_string());
    assert_eq!(created.status, 200, "{}", created.body);
    assert_eq!(
        deviations(&last_entry(&server)),
        [deviation(
            "shieldconex.numeric_string",
            "directPartner.id",
            false
        )]
    );
    let padded = server.get(&format!("{api}/clients/00744"), &[auth]);
    assert_eq!(padded.status, 200, "{}", padded.body);
    assert_eq!(padded.json()["id"], 744);
    assert_eq!(
        deviations(&last_entry(&server)),
        [deviation("shieldconex.padded_id", "path id 00744", false)]
    );
    let shouted = server.get(&format!("{api}/clients?partner=PARTNERNAME"), &[auth]);
    assert_eq!(shouted.status, 200, "{}", shouted.body);
    assert_eq!(
        deviations(&last_entry(&server)),
        [deviation("shieldconex.name_case", "partner", false)]
    );
    let user = json!({"userName": "case@example.com", "firstName": "C", "lastName": "Ase",
                      "email": "case@example.com", "phone": "+14155550100",
                      "userRole": "partner user", "partner": {"name": "partnername"}});
    let made = server.post(&format!("{api}/users"), &[auth, JSON], &user.to_string());
    assert_eq!(made.status, 200, "{}", made.body);
    assert_eq!(
        deviations(&last_entry(&server)),
        [
            deviation("shieldconex.name_case", "userRole", false),
            deviation("shieldconex.name_case", "partner", false),
        ]
    );
    // As the answers give them, nothing is recorded.
    let exact = server.get(&format!("{api}/clients?partner=partnerName"), &[auth]);
    assert_eq!(exact.status, 200);
    assert_eq!(deviations(&last_entry(&server)), []);
    assert_eq!(
        tally(&report(&server, "?tenant=waterford@example.com")),
        [
            ("shieldconex.name_case".to_string(), 3, 0),
            ("shieldconex.numeric_string".to_string(), 1, 0),
            ("shieldconex.padded_id".to_string(), 1, 0),
        ]
    );
}

#[test]
fn shieldconex_lenient_takes_a_wrong_type_as_left_out() {
    let server = lenient();
    let body = json!({"name": "Lenient", "isActive": "yes", "directPartner": {"id": 792},
                      "contact": {"id": 2666}});
    let created = server.post(
        "/shieldconex/api/v1/clients",
        &[("Authorization", WATERFORD), JSON],
        &body.to_string(),
    );
    assert_eq!(created.status, 200, "{}", created.body);
    assert_eq!(
        deviations(&last_entry(&server)),
        [deviation("shieldconex.type", "isActive", false)]
    );
    let id = created.json()["id"].as_i64().unwrap();
    let read = server.get(
        &format!("/shieldconex/api/v1/clients/{id}"),
        &[("Authorization", WATERFORD)],
    );
    assert_eq!(read.json()["isActive"], true, "the default: {}", read.body);
}

#[test]
fn mx_lists_every_deviation_of_one_request_headers_and_body() {
    let server = Server::start();
    let body = json!({"client": {"company_name": "MX", "email": null, "first_name": 5,
                                 "last_name": "Foo"}});
    let reply = server.post(
        "/mx/clients",
        &[
            ("Authorization", MX_DEMO_AUTH),
            ("Content-Type", "text/plain"),
        ],
        &body.to_string(),
    );
    assert_eq!(
        reply.status, 404,
        "the first deviation answers: {}",
        reply.body
    );
    let entry = last_entry(&server);
    assert_eq!(
        deviations(&entry),
        [
            ("mx.content_type".to_string(), None, true),
            ("mx.accept".to_string(), None, true),
            deviation("mx.null", "client.email", true),
            deviation("mx.type", "client.first_name", true),
        ]
    );
    let headers_right = server.post(
        "/mx/clients",
        &[("Authorization", MX_DEMO_AUTH), JSON, ("Accept", MX_ACCEPT)],
        &body.to_string(),
    );
    assert_eq!(headers_right.status, 400);
    assert_eq!(headers_right.json()["error"], "client.email is required");
    let not_an_object = server.post(
        "/mx/clients",
        &[("Authorization", MX_DEMO_AUTH), JSON, ("Accept", MX_ACCEPT)],
        r#"{"client": "MX"}"#,
    );
    assert_eq!(not_an_object.status, 400);
    assert_eq!(
        tally(&report(&server, "?tenant=PROCESSOR-1234")),
        [
            ("mx.accept".to_string(), 1, 1),
            ("mx.content_type".to_string(), 1, 1),
            ("mx.null".to_string(), 2, 2),
            ("mx.type".to_string(), 3, 3),
        ]
    );
    assert_eq!(server.count("mx_clients"), 0);
}

#[test]
fn nueve09_lists_refused_types_and_nulls_and_records_what_it_accepts_otherwise() {
    let server = Server::start();
    let (token, account) = nueve09_login(&server);
    let auth = ("Authorization", token.as_str());
    let mut body: Value = serde_json::from_str(crate::nueve09::CREATE_EXAMPLE).unwrap();
    body["name"] = json!(12345);
    body["contact_email"] = Value::Null;
    body["available"] = json!(true);
    let refused = server.post("/nueve09/clients", &[auth, JSON], &body.to_string());
    assert_eq!(refused.status, 422, "{}", refused.body);
    let errors = &refused.json()["data"]["errors"];
    assert_eq!(errors["name"][0], "must be a string", "{errors}");
    assert_eq!(errors["contact_email"][0], "is required", "{errors}");
    assert_eq!(errors["available"][0], "must be a number", "{errors}");
    assert_eq!(
        deviations(&last_entry(&server)),
        [
            deviation("nueve09.type", "name", true),
            deviation("nueve09.null", "contact_email", true),
            deviation("nueve09.type", "available", true),
        ]
    );
    // Refused for its missing Content-Type, the body is still read for its own mistakes.
    let untyped = server.post("/nueve09/clients", &[auth], &body.to_string());
    assert_eq!(untyped.status, 400, "{}", untyped.body);
    assert_eq!(
        codes(&last_entry(&server)),
        [
            ("nueve09.content_type".into(), true),
            ("nueve09.type".into(), true),
            ("nueve09.null".into(), true),
            ("nueve09.type".into(), true),
        ]
    );
    let login = json!({"api_client": {"api_key": 7, "password": null}});
    let bad_login = server.post("/nueve09/auth/login", &[JSON], &login.to_string());
    assert_eq!(bad_login.status, 400, "{}", bad_login.body);
    assert_eq!(
        deviations(&last_entry(&server)),
        [
            deviation("nueve09.type", "api_client.api_key", true),
            deviation("nueve09.null", "api_client.password", true),
        ]
    );
    let page = server.get("/nueve09/clients?page=first", &[auth]);
    assert_eq!(page.status, 422, "{}", page.body);
    assert_eq!(
        deviations(&last_entry(&server)),
        [deviation("nueve09.type", "page", true)]
    );
    let mut string_amount: Value = serde_json::from_str(crate::nueve09::CREATE_EXAMPLE).unwrap();
    string_amount["available"] = json!("1000");
    string_amount["state"] = json!("Nuevo Leon");
    let created = server.post(
        "/nueve09/clients",
        &[auth, JSON],
        &string_amount.to_string(),
    );
    assert_eq!(created.status, 200, "{}", created.body);
    assert_eq!(created.json()["data"]["subclient"]["available"], 1000);
    assert_eq!(
        deviations(&last_entry(&server)),
        [
            deviation("nueve09.name_case", "state", false),
            deviation("nueve09.numeric_string", "available", false),
        ]
    );
    assert_eq!(
        tally(&report(&server, &format!("?tenant={account}"))),
        [
            ("nueve09.content_type".to_string(), 1, 1),
            ("nueve09.name_case".to_string(), 1, 0),
            ("nueve09.null".to_string(), 2, 2),
            ("nueve09.numeric_string".to_string(), 1, 0),
            ("nueve09.type".to_string(), 5, 5),
        ],
        "the login without a usable api_key names no account"
    );
}

#[test]
fn makeleaps_lists_refused_types_and_nulls_and_records_numbers_as_text() {
    let server = Server::start();
    let token = makeleaps_token(&server);
    let auth = ("Authorization", token.as_str());
    let clients = format!("/makeleaps/api/partner/{ML_PARTNER}/client/");
    let body = json!({"contacts": [{"contact_type": "organization", "name": null,
                                    "title": true, "phone_number": 312345678}]});
    let refused = server.post(&clients, &[auth, JSON], &body.to_string());
    assert_eq!(refused.status, 400, "{}", refused.body);
    let errors = &refused.json()["response"]["contacts"][0];
    assert_eq!(errors["name"][0], "This field may not be null.", "{errors}");
    assert_eq!(errors["title"][0], "Not a valid string.", "{errors}");
    assert_eq!(
        deviations(&last_entry(&server)),
        [
            deviation("makeleaps.null", "name", true),
            deviation("makeleaps.type", "title", true),
            deviation("makeleaps.number_as_text", "phone_number", false),
        ]
    );
    let not_a_list = server.post(&clients, &[auth, JSON], r#"{"contacts": "x"}"#);
    assert_eq!(not_a_list.status, 400);
    assert_eq!(
        deviations(&last_entry(&server)),
        [deviation("makeleaps.type", "contacts", true)]
    );
    // Refused for its media type, the body is still read for its own mistakes.
    let text = server.post(
        &clients,
        &[auth, ("Content-Type", "text/plain")],
        r#"{"contacts": null}"#,
    );
    assert_eq!(text.status, 415, "{}", text.body);
    assert_eq!(
        deviations(&last_entry(&server)),
        [
            ("makeleaps.content_type".to_string(), None, true),
            deviation("makeleaps.null", "contacts", true),
        ]
    );
    let body = json!({"contacts": [{"contact_type": "organization", "name": "Numbers",
                                    "phone_number": 312345678}]});
    let created = server.post(&clients, &[auth, JSON], &body.to_string());
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(
        deviations(&last_entry(&server)),
        [deviation("makeleaps.number_as_text", "phone_number", false)]
    );
    assert_eq!(
        tally(&report(&server, &format!("?tenant={ML_PARTNER}"))),
        [
            ("makeleaps.content_type".to_string(), 1, 1),
            ("makeleaps.null".to_string(), 2, 2),
            ("makeleaps.number_as_text".to_string(), 2, 0),
            ("makeleaps.type".to_string(), 2, 2),
        ]
    );
}
