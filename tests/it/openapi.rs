//! The OpenAPI documents (`src/flavours/<flavour>/openapi.json`) checked against the code and
//! against a real server, one test per flavour:
//!
//! 1. **Routes.** The document's operations (path template and method) are exactly the
//!    flavour's route table (`Flavour::operations`), which its router consults for every
//!    request: nothing answered is undocumented, nothing documented is unanswered.
//! 2. **The document itself.** Valid against the OpenAPI 3.1 schema of the OpenAPI Initiative
//!    (`oas-3.1-schema.json`: https://spec.openapis.org/oas/3.1/schema/2022-10-07, Apache-2.0,
//!    kept verbatim); every `$ref` resolves; every schema is a valid
//!    JSON Schema 2020-12; path parameters match their templates; operation ids are unique;
//!    security requirements and links name what exists; every example in the document
//!    (request bodies, parameters, responses) validates against its schema, except request
//!    examples that exist to show an error. Two rules keep generated TypeScript types true
//!    (openapi-typescript; the CI run compiles strict programs against them): no property of a
//!    request body's schema has a `default`, and in an `allOf` a property that one branch
//!    requires is required by every branch that declares it.
//! 3. **Replay.** A `--demo` server is started and every example request is sent to it, the
//!    operations in route-table order on one server (so a create comes before the read of what
//!    it created, as the vendors' own tutorials run), and within an operation the examples that
//!    succeed first. Each recorded response must have a documented status, the status of the
//!    response that names the example (in its content's `examples`, or, for a response without
//!    a body, in its `x-examples`), the documented content type and required headers, and a
//!    body that validates against the documented schema. Every operation that needs
//!    credentials is also sent once without them and must answer its documented 401.
//!    A value that a response's `links` carry to another operation must be valid for the
//!    parameter it fills, as the answer has it: an id has one type from the create to the read.
//! 4. **Other methods.** Every method a path does not declare is sent to it and must answer
//!    405, with `Allow` naming exactly the declared methods and the response the path item's
//!    `x-method-not-allowed` names (OpenAPI has no operation to attach that answer to).
//!
//! Building a request from the document: the example names of an operation are those of its
//! request body's and parameters' `examples` (one nameless replay, "default", when there are
//! none). A parameter takes its example of that name, else its `example`, else a value that a
//! `links` entry of an earlier response captured for it (`$response.body#/pointer`), else its
//! schema's `default`, which is what a generated client sends (MX's `Accept`). A
//! parameter example marked `"x-from-link": true` shows the vendor's value (client 872 of
//! ShieldConex's guide) and is replayed with the linked one (the client the create example made), so that a
//! create, read, update and delete replay as one story. The body is the request body's example
//! of that name, sent as its media type (JSON or a form).
//! Credentials come from the security requirement: the demo tenants' Basic credentials, and
//! bearer tokens obtained the way the vendor says (Nueve09's login, MakeLeaps' token endpoint).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use clientele::flavours::{self, Flavour};
use serde_json::{json, Value};

use crate::support::{Reply, Server, MX_DEMO_AUTH};

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// A flavour by name.
fn flavour(name: &str) -> &'static dyn Flavour {
    flavours::by_name(name).unwrap_or_else(|| panic!("no flavour {name}"))
}

#[test]
fn mx_document_matches_the_code_and_the_server() {
    check(flavour("mx"));
}

#[test]
fn shieldconex_document_matches_the_code_and_the_server() {
    check(flavour("shieldconex"));
}

#[test]
fn nueve09_document_matches_the_code_and_the_server() {
    check(flavour("nueve09"));
}

#[test]
fn makeleaps_document_matches_the_code_and_the_server() {
    check(flavour("makeleaps"));
}

/// The document is served as written under the prefix, and with the prefix taken out of its
/// server URL at the root of a dedicated listener.
#[test]
fn documents_are_served_without_authentication() {
    for flavour in flavours::ALL {
        let (server, dedicated) = Server::with_dedicated(flavour.name());
        let reply = server.get(&format!("{}/openapi.json", flavour.prefix()), &[]);
        assert_eq!(reply.status, 200, "{}", flavour.name());
        assert_eq!(reply.header("Content-Type"), Some("application/json"));
        assert_eq!(reply.body, flavour.openapi());

        let reply = crate::support::call("GET", &format!("{dedicated}/openapi.json"), &[], None);
        assert_eq!(reply.status, 200);
        assert_eq!(reply.header("Content-Type"), Some("application/json"));
        let served = reply.json();
        let written: Value = serde_json::from_str(flavour.openapi()).unwrap();
        assert_eq!(served["servers"][0]["url"], "/");
        assert_eq!(served["paths"], written["paths"]);

        // Other methods get the vendor's 405.
        let reply = server.call(
            "DELETE",
            &format!("{}/openapi.json", flavour.prefix()),
            &[],
            None,
        );
        assert_eq!(reply.status, 405, "{}", flavour.name());
        assert_eq!(reply.header("Allow"), Some("GET"));
    }
}

/// The checks must be able to fail. A schema that contradicts the server's real answer, where
/// the document has no example that would give it away, is caught by the replay alone: here
/// the served document is claimed to be OpenAPI 3.0.3.
#[test]
fn a_schema_the_server_contradicts_is_reported() {
    let mut doc: Value = serde_json::from_str(flavour("mx").openapi()).unwrap();
    doc["components"]["schemas"]["OpenApiDocument"]["properties"]["openapi"] =
        json!({"const": "3.0.3"});
    let problems = problems_of(flavour("mx"), &doc);
    assert!(
        problems.len() == 1
            && problems[0].contains("GET /openapi.json example default")
            && problems[0].contains("\"3.0.3\" was expected"),
        "{problems:#?}"
    );
}

/// The 405 check can fail too: an undeclared method's answer that breaks the response its
/// path item names, and a path item that names none, are both reported.
#[test]
fn a_wrong_or_missing_405_answer_is_reported() {
    let mut doc: Value = serde_json::from_str(flavour("shieldconex").openapi()).unwrap();
    doc["components"]["responses"]["MethodNotAllowed"]["content"]["application/json"]["schema"] =
        json!({"$ref": "#/components/schemas/InvalidData"});
    doc["paths"]["/openapi.json"]
        .as_object_mut()
        .unwrap()
        .remove("x-method-not-allowed");
    let problems = problems_of(flavour("shieldconex"), &doc);
    assert!(
        problems.iter().any(
            |p| p.starts_with("PUT /api/v1/users/{id} (undeclared method)")
                && p.contains("\"success\" is a required property")
        ) && problems
            .iter()
            .any(|p| p == "/openapi.json: no x-method-not-allowed response"),
        "{problems:#?}"
    );
}

/// The link check can fail: ShieldConex's read taking its id as a string, while the create
/// answers it as a number, is reported (a generated client could not pass one to the other).
#[test]
fn a_link_value_its_target_refuses_is_reported() {
    let mut doc: Value = serde_json::from_str(flavour("shieldconex").openapi()).unwrap();
    let id = &mut doc["paths"]["/api/v1/clients/{id}"]["get"]["parameters"][0];
    id["schema"] = json!({"type": "string", "pattern": "^[0-9]{1,20}$"});
    id["examples"]["seed"]["value"] = json!("872");
    id["examples"]["notFound"]["value"] = json!("999999");
    let problems = problems_of(flavour("shieldconex"), &doc);
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with("POST /api/v1/clients: link GetClient")
                && p.contains("which its schema refuses")),
        "{problems:#?}"
    );
}

fn check(flavour: &dyn Flavour) {
    let doc: Value = serde_json::from_str(flavour.openapi())
        .unwrap_or_else(|e| panic!("{} openapi.json is not JSON: {e}", flavour.name()));
    let problems = problems_of(flavour, &doc);
    assert!(
        problems.is_empty(),
        "{} problems in {}'s openapi.json:\n- {}",
        problems.len(),
        flavour.name(),
        problems.join("\n- ")
    );
}

/// Everything wrong with `doc` as the document of `flavour`.
fn problems_of(flavour: &dyn Flavour, doc: &Value) -> Vec<String> {
    let mut checker = Checker {
        doc,
        problems: Vec::new(),
    };
    checker.check_routes(flavour);
    checker.check_document(flavour);
    if checker.problems.is_empty() {
        // Replaying a document whose structure is broken would only add noise.
        let server = Server::start();
        let mut replay = Replay {
            checker: &mut checker,
            server: &server,
            prefix: flavour.prefix(),
            credentials: HashMap::new(),
            linked: HashMap::new(),
        };
        replay.credentials = credentials(flavour, &server);
        replay.run(flavour);
    }
    checker.problems
}

/// The `Authorization` value for each security scheme of a flavour's document, for the demo
/// tenants (each flavour's `demo.json`).
fn credentials(flavour: &dyn Flavour, server: &Server) -> HashMap<String, String> {
    let basic =
        |user: &str, secret: &str| format!("Basic {}", STANDARD.encode(format!("{user}:{secret}")));
    let mut map = HashMap::new();
    match flavour.name() {
        "mx" => {
            map.insert("processorBasic".to_string(), MX_DEMO_AUTH.to_string());
        }
        "shieldconex" => {
            map.insert(
                "userBasic".to_string(),
                basic("waterford@example.com", "waterford123"),
            );
        }
        "nueve09" => {
            let reply = server.post(
                "/nueve09/auth/login",
                &[("Content-Type", "application/json")],
                r#"{"api_client": {"api_key": "api_key", "password": "password"}}"#,
            );
            assert_eq!(reply.status, 200, "{}", reply.body);
            let token = reply.header("Authorization").expect("the login's token");
            map.insert("loginToken".to_string(), token.to_string());
        }
        "makeleaps" => {
            let client = basic("demo-client-id", "demo-client-secret");
            let reply = server.post(
                "/makeleaps/user/oauth2/token/",
                &[
                    ("Authorization", client.as_str()),
                    ("Content-Type", "application/x-www-form-urlencoded"),
                ],
                "grant_type=client_credentials",
            );
            assert_eq!(reply.status, 200, "{}", reply.body);
            let token = reply.json()["access_token"].as_str().unwrap().to_string();
            map.insert("clientBasic".to_string(), client);
            map.insert("partnerToken".to_string(), format!("Bearer {token}"));
        }
        other => panic!("no demo credentials for {other}"),
    }
    map
}

struct Checker<'d> {
    doc: &'d Value,
    problems: Vec<String>,
}

/// An operation of the document.
struct Operation<'d> {
    method: String,
    template: String,
    path_item: &'d Value,
    op: &'d Value,
}

impl Operation<'_> {
    fn label(&self) -> String {
        format!("{} {}", self.method.to_uppercase(), self.template)
    }

    fn id(&self) -> &str {
        self.op["operationId"].as_str().unwrap_or("")
    }
}

impl<'d> Checker<'d> {
    fn problem(&mut self, text: String) {
        self.problems.push(text);
    }

    /// Follows `$ref`s (within the document) until a value that is not one.
    fn resolve(&self, value: &'d Value) -> &'d Value {
        let mut value = value;
        for _ in 0..16 {
            match value.get("$ref").and_then(Value::as_str) {
                Some(reference) => match pointer(self.doc, reference) {
                    Some(target) => value = target,
                    None => return &Value::Null,
                },
                None => return value,
            }
        }
        value
    }

    fn operations(&self) -> Vec<Operation<'d>> {
        let mut operations = Vec::new();
        let Some(paths) = self.doc["paths"].as_object() else {
            return operations;
        };
        for (template, path_item) in paths {
            for method in METHODS {
                if let Some(op) = path_item.get(method) {
                    operations.push(Operation {
                        method: method.to_string(),
                        template: template.clone(),
                        path_item,
                        op,
                    });
                }
            }
        }
        operations
    }

    /// The document's operations and `ROUTES`, both ways.
    fn check_routes(&mut self, flavour: &dyn Flavour) {
        let documented: BTreeSet<(String, String)> = self
            .operations()
            .iter()
            .map(|o| (o.method.to_uppercase(), o.template.clone()))
            .collect();
        let routed: BTreeSet<(String, String)> = flavour
            .operations()
            .iter()
            .map(|(m, t)| (m.to_string(), t.to_string()))
            .collect();
        for (method, template) in routed.difference(&documented) {
            self.problem(format!(
                "ROUTES has {method} {template}, the document does not"
            ));
        }
        for (method, template) in documented.difference(&routed) {
            self.problem(format!(
                "the document has {method} {template}, ROUTES does not"
            ));
        }
    }

    fn check_document(&mut self, flavour: &dyn Flavour) {
        let doc = self.doc;
        if !doc["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1."))
        {
            self.problem(format!("openapi is {}, not 3.1.x", doc["openapi"]));
        }
        if doc["servers"][0]["url"] != flavour.prefix() {
            self.problem(format!(
                "servers[0].url is {}, not the mount {}",
                doc["servers"][0]["url"],
                flavour.prefix()
            ));
        }
        let oas: Value = serde_json::from_str(include_str!("oas-3.1-schema.json")).unwrap();
        match jsonschema::draft202012::new(&oas) {
            Ok(validator) => {
                for e in validator.iter_errors(doc) {
                    self.problem(format!("not OpenAPI 3.1: {e} (at {})", e.instance_path()));
                }
            }
            Err(e) => self.problem(format!("the OpenAPI 3.1 schema does not compile: {e}")),
        }
        let mut refs = Vec::new();
        collect_refs(doc, &mut refs);
        for reference in refs {
            if pointer(doc, &reference).is_none() {
                self.problem(format!("$ref {reference} resolves to nothing"));
            }
        }
        if let Some(schemas) = doc["components"]["schemas"].as_object() {
            for (name, schema) in schemas {
                if let Err(e) = jsonschema::meta::validate(&dialect(schema)) {
                    self.problem(format!("components/schemas/{name} is no JSON Schema: {e}"));
                }
            }
        }
        let schemes = doc["components"]["securitySchemes"].clone();
        let mut ids = BTreeSet::new();
        for operation in self.operations() {
            let label = operation.label();
            if !ids.insert(operation.id().to_string()) || operation.id().is_empty() {
                self.problem(format!("{label}: operationId missing or used twice"));
            }
            if operation.op["responses"]
                .as_object()
                .is_none_or(|r| r.is_empty())
            {
                self.problem(format!("{label}: no responses"));
            }
            self.check_path_parameters(&operation);
            for requirement in security(doc, operation.op) {
                for scheme in requirement.keys() {
                    if schemes.get(scheme).is_none() {
                        self.problem(format!("{label}: unknown security scheme {scheme}"));
                    }
                }
            }
            self.check_examples(&operation);
            self.check_links(&operation);
        }
        self.check_request_defaults();
        self.check_all_of_required(doc, "#");
    }

    /// No property of a request body's schema has a `default`: openapi-typescript (7.x, as
    /// it runs by default) reads a property with a `default` as always there and makes it
    /// required, so strict TypeScript would refuse a create that leaves out an optional
    /// attribute. The documents give such defaults in words.
    fn check_request_defaults(&mut self) {
        let mut seen = BTreeSet::new();
        let mut found = BTreeSet::new();
        for operation in self.operations() {
            let body = self.resolve(&operation.op["requestBody"]);
            for (media_type, media) in object_entries(&body["content"]) {
                let at = format!("{} request body {media_type}", operation.label());
                self.defaulted_properties(&media["schema"], &at, &mut seen, &mut found);
            }
        }
        for at in found {
            self.problem(format!(
                "{at} has a default: openapi-typescript would make it required; say it in words"
            ));
        }
    }

    /// The properties with a `default` in `schema` and in every schema it refers to (each
    /// referred schema once, named by its reference).
    fn defaulted_properties(
        &self,
        schema: &'d Value,
        at: &str,
        seen: &mut BTreeSet<String>,
        found: &mut BTreeSet<String>,
    ) {
        match schema {
            Value::Object(map) => {
                if let Some(Value::String(reference)) = map.get("$ref") {
                    if seen.insert(reference.clone()) {
                        if let Some(target) = pointer(self.doc, reference) {
                            self.defaulted_properties(target, reference, seen, found);
                        }
                    }
                }
                for (name, property) in object_entries(&schema["properties"]) {
                    if property.get("default").is_some() {
                        found.insert(format!("{at}/properties/{name}"));
                    }
                }
                for (key, value) in map {
                    if !matches!(key.as_str(), "$ref" | "examples" | "example" | "default") {
                        self.defaulted_properties(value, &format!("{at}/{key}"), seen, found);
                    }
                }
            }
            Value::Array(list) => {
                for (i, value) in list.iter().enumerate() {
                    self.defaulted_properties(value, &format!("{at}/{i}"), seen, found);
                }
            }
            _ => {}
        }
    }

    /// In an `allOf`, a property that one branch requires is required by every branch that
    /// declares it. TypeScript intersects the branches, and openapi-typescript types a
    /// property as possibly undefined if any branch leaves it optional (or as `unknown`
    /// if a branch requires it without declaring it); MakeLeaps' enveloped answers had
    /// their `response` typed possibly undefined that way.
    fn check_all_of_required(&mut self, value: &'d Value, at: &str) {
        match value {
            Value::Object(map) => {
                if let Some(branches) = map.get("allOf").and_then(Value::as_array) {
                    let branches: Vec<&Value> = branches.iter().map(|b| self.resolve(b)).collect();
                    let required: BTreeSet<&str> = branches
                        .iter()
                        .flat_map(|b| b["required"].as_array().into_iter().flatten())
                        .filter_map(Value::as_str)
                        .collect();
                    for (i, branch) in branches.iter().enumerate() {
                        let own: BTreeSet<&str> = branch["required"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter_map(Value::as_str)
                            .collect();
                        for (name, _) in object_entries(&branch["properties"]) {
                            if required.contains(name.as_str()) && !own.contains(name.as_str()) {
                                self.problem(format!(
                                    "{at}/allOf/{i} declares {name} without requiring it, \
                                     which another branch requires"
                                ));
                            }
                        }
                    }
                }
                for (key, value) in map {
                    if !matches!(key.as_str(), "examples" | "example") {
                        self.check_all_of_required(value, &format!("{at}/{key}"));
                    }
                }
            }
            Value::Array(list) => {
                for (i, value) in list.iter().enumerate() {
                    self.check_all_of_required(value, &format!("{at}/{i}"));
                }
            }
            _ => {}
        }
    }

    fn parameters(&self, operation: &Operation<'d>) -> Vec<&'d Value> {
        let mut parameters: Vec<&'d Value> = Vec::new();
        for list in [
            &operation.op["parameters"],
            &operation.path_item["parameters"],
        ] {
            for parameter in list.as_array().into_iter().flatten() {
                let parameter = self.resolve(parameter);
                // Operation-level parameters override path-level ones of the same name.
                if !parameters
                    .iter()
                    .any(|p| p["name"] == parameter["name"] && p["in"] == parameter["in"])
                {
                    parameters.push(parameter);
                }
            }
        }
        parameters
    }

    fn check_path_parameters(&mut self, operation: &Operation<'d>) {
        let in_template: BTreeSet<String> = operation
            .template
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(str::to_string)
            .collect();
        let declared: BTreeSet<String> = self
            .parameters(operation)
            .iter()
            .filter(|p| p["in"] == "path")
            .filter_map(|p| p["name"].as_str().map(str::to_string))
            .collect();
        if in_template != declared {
            self.problem(format!(
                "{}: path parameters {declared:?} do not match the template's {in_template:?}",
                operation.label()
            ));
        }
        for parameter in self.parameters(operation) {
            if parameter["in"] == "path" && parameter["required"] != true {
                self.problem(format!(
                    "{}: path parameter {} must be required",
                    operation.label(),
                    parameter["name"]
                ));
            }
        }
    }

    /// The status of the response that names example `name`, if one does.
    fn expected_status(&self, op: &'d Value, name: &str) -> Option<String> {
        let responses = op["responses"].as_object()?;
        responses.iter().find_map(|(status, response)| {
            let response = self.resolve(response);
            let in_content = response["content"]
                .as_object()
                .into_iter()
                .flat_map(|c| c.values())
                .any(|media| media["examples"].get(name).is_some());
            let listed = response["x-examples"]
                .as_array()
                .is_some_and(|names| names.iter().any(|n| n == name));
            (in_content || listed).then(|| status.clone())
        })
    }

    /// Every example of the document validates against its schema; request examples only
    /// when the response they get is a success.
    fn check_examples(&mut self, operation: &Operation<'d>) {
        let label = operation.label();
        let op = operation.op;
        let succeeds = |me: &Self, name: &str| {
            me.expected_status(op, name)
                .is_some_and(|s| s.starts_with('2') || s.starts_with('3'))
        };
        for (media_type, media) in object_entries(&self.resolve(&op["requestBody"])["content"]) {
            for (name, example) in object_entries(&media["examples"]) {
                let example = self.resolve(example);
                if self.expected_status(op, name).is_none() {
                    self.problem(format!(
                        "{label}: no response names the request example {name}"
                    ));
                }
                if succeeds(self, name) {
                    let problems = self.validate(&media["schema"], &example["value"]);
                    for p in problems {
                        self.problem(format!(
                            "{label}: request example {name} ({media_type}): {p}"
                        ));
                    }
                }
            }
        }
        for parameter in self.parameters(operation) {
            let pname = parameter["name"].as_str().unwrap_or("?").to_string();
            let mut values: Vec<(String, Value)> = object_entries(&parameter["examples"])
                .map(|(n, e)| (n.clone(), self.resolve(e)["value"].clone()))
                .collect();
            if let Some(example) = parameter.get("example") {
                values.push(("example".into(), example.clone()));
            }
            for (name, value) in values {
                if name != "example" && self.expected_status(op, &name).is_none() {
                    self.problem(format!(
                        "{label}: no response names the example {name} of parameter {pname}"
                    ));
                }
                if name == "example" || succeeds(self, &name) {
                    for p in self.validate(&parameter["schema"], &value) {
                        self.problem(format!("{label}: parameter {pname} example {name}: {p}"));
                    }
                }
            }
        }
        for (status, response) in object_entries(&op["responses"]) {
            let response = self.resolve(response);
            for (media_type, media) in object_entries(&response["content"]) {
                let schema = &media["schema"];
                if schema.is_null() {
                    self.problem(format!(
                        "{label}: response {status} {media_type} has no schema"
                    ));
                }
                let mut examples: Vec<(String, &Value)> = object_entries(&media["examples"])
                    .map(|(name, example)| (name.clone(), &self.resolve(example)["value"]))
                    .collect();
                if let Some(example) = media.get("example") {
                    examples.push(("example".into(), example));
                }
                for (name, value) in examples {
                    for p in self.validate(schema, value) {
                        self.problem(format!("{label}: response {status} example {name}: {p}"));
                    }
                }
            }
        }
    }

    /// The (operationId, parameter) pairs that some response's links give a value.
    fn link_targets(&self) -> BTreeSet<(String, String)> {
        let mut targets = BTreeSet::new();
        for operation in self.operations() {
            for (_, response) in object_entries(&operation.op["responses"]) {
                for (_, link) in object_entries(&self.resolve(response)["links"]) {
                    let target = link["operationId"].as_str().unwrap_or("").to_string();
                    for (parameter, _) in object_entries(&link["parameters"]) {
                        targets.insert((target.clone(), parameter.clone()));
                    }
                }
            }
        }
        targets
    }

    fn check_links(&mut self, operation: &Operation<'d>) {
        let targets = self.link_targets();
        for parameter in self.parameters(operation) {
            let pname = parameter["name"].as_str().unwrap_or("").to_string();
            for (name, example) in object_entries(&parameter["examples"]) {
                let linked = (operation.id().to_string(), pname.clone());
                if self.resolve(example)["x-from-link"] == true && !targets.contains(&linked) {
                    self.problem(format!(
                        "{}: example {name} of {pname} is x-from-link, but no link gives {pname}",
                        operation.label()
                    ));
                }
            }
        }
        let ids: BTreeSet<String> = self
            .operations()
            .iter()
            .map(|o| o.id().to_string())
            .collect();
        for (status, response) in object_entries(&operation.op["responses"]) {
            for (name, link) in object_entries(&self.resolve(response)["links"]) {
                let target = link["operationId"].as_str().unwrap_or("");
                if !ids.contains(target) {
                    self.problem(format!(
                        "{}: response {status} link {name} names no operation ({target:?})",
                        operation.label()
                    ));
                }
            }
        }
    }

    /// What is wrong with `instance` against `schema` (its `$ref`s into this document).
    fn validate(&self, schema: &Value, instance: &Value) -> Vec<String> {
        if schema.is_null() {
            return Vec::new();
        }
        let mut wrapper = dialect(schema);
        // Refs are `#/components/schemas/...`: give the schema the document's components,
        // so that they resolve against the schema's own root.
        wrapper["components"] = self.doc["components"].clone();
        let validator = match jsonschema::draft202012::options()
            .should_validate_formats(true)
            .build(&wrapper)
        {
            Ok(v) => v,
            Err(e) => return vec![format!("the schema does not compile: {e}")],
        };
        validator
            .iter_errors(instance)
            .map(|e| format!("{e} (at {})", e.instance_path()))
            .collect()
    }
}

/// A schema marked as JSON Schema 2020-12, OpenAPI 3.1's default dialect.
fn dialect(schema: &Value) -> Value {
    let mut schema = schema.clone();
    if let Value::Object(map) = &mut schema {
        map.insert(
            "$schema".into(),
            json!("https://json-schema.org/draft/2020-12/schema"),
        );
    }
    schema
}

fn object_entries(value: &Value) -> impl Iterator<Item = (&String, &Value)> {
    value.as_object().into_iter().flat_map(|m| m.iter())
}

/// `#/a/b` within the document.
fn pointer<'d>(doc: &'d Value, reference: &str) -> Option<&'d Value> {
    doc.pointer(reference.strip_prefix('#')?)
}

fn collect_refs(value: &Value, refs: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get("$ref") {
                refs.push(r.clone());
            }
            map.values().for_each(|v| collect_refs(v, refs));
        }
        Value::Array(list) => list.iter().for_each(|v| collect_refs(v, refs)),
        _ => {}
    }
}

/// The security requirements of an operation (its own, else the document's).
fn security<'d>(doc: &'d Value, op: &'d Value) -> Vec<&'d serde_json::Map<String, Value>> {
    op.get("security")
        .unwrap_or(&doc["security"])
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
        .collect()
}

struct Replay<'c, 'd, 's> {
    checker: &'c mut Checker<'d>,
    server: &'s Server,
    prefix: &'static str,
    credentials: HashMap<String, String>,
    /// (operationId, parameter) → a value a link captured.
    linked: HashMap<(String, String), String>,
}

/// One request to send.
struct Request {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
}

impl Replay<'_, '_, '_> {
    fn run(&mut self, flavour: &dyn Flavour) {
        let operations = self.checker.operations();
        for (method, template) in flavour.operations() {
            let Some(operation) = operations
                .iter()
                .find(|o| o.method.eq_ignore_ascii_case(method) && o.template == template)
            else {
                continue;
            };
            self.replay_operation(operation);
        }
        self.check_other_methods();
    }

    /// Every method a path does not declare answers 405, with `Allow` naming exactly the
    /// declared ones and the body of the response its path item's `x-method-not-allowed`
    /// names (OpenAPI has no operation to attach it to). Sent with the credentials and
    /// required headers of the path's first operation, without a body.
    fn check_other_methods(&mut self) {
        let doc = self.checker.doc;
        let operations = self.checker.operations();
        for (template, path_item) in object_entries(&doc["paths"]) {
            let declared: BTreeSet<String> = METHODS
                .iter()
                .filter(|m| path_item.get(**m).is_some())
                .map(|m| m.to_uppercase())
                .collect();
            let Some(first) = operations.iter().find(|o| &o.template == template) else {
                continue;
            };
            if path_item["x-method-not-allowed"].is_null() {
                self.checker
                    .problem(format!("{template}: no x-method-not-allowed response"));
                continue;
            }
            let answer = json!({"responses": {"405": path_item["x-method-not-allowed"].clone()}});
            let name = self.first_example_name(first);
            let Some(authorization) = self.authorization(first) else {
                continue;
            };
            for method in ["GET", "PUT", "POST", "PATCH", "DELETE", "HEAD", "OPTIONS"] {
                if declared.contains(method) {
                    continue;
                }
                let Some(mut request) = self.build(first, &name, authorization.as_deref()) else {
                    continue;
                };
                request.method = method.to_string();
                request.body = None;
                request
                    .headers
                    .retain(|(k, _)| !k.eq_ignore_ascii_case("Content-Type"));
                let reply = self.send(&request);
                let other = Operation {
                    method: method.to_lowercase(),
                    template: template.clone(),
                    path_item,
                    op: &answer,
                };
                self.check_reply(&other, "(undeclared method)", Some("405"), &request, &reply);
                let allowed: BTreeSet<String> = reply
                    .header("Allow")
                    .unwrap_or("")
                    .split(',')
                    .map(|m| m.trim().to_string())
                    .filter(|m| !m.is_empty())
                    .collect();
                if allowed != declared {
                    self.checker.problem(format!(
                        "{method} {template}: Allow {allowed:?}, the document declares {declared:?}"
                    ));
                }
            }
        }
    }

    /// The example name an operation is replayed with first ("default" when it has none).
    fn first_example_name(&self, operation: &Operation) -> String {
        let mut names: BTreeSet<String> = BTreeSet::new();
        let body_content = self.checker.resolve(&operation.op["requestBody"])["content"].clone();
        for (_, media) in object_entries(&body_content) {
            names.extend(object_entries(&media["examples"]).map(|(n, _)| n.clone()));
        }
        for parameter in self.checker.parameters(operation) {
            names.extend(object_entries(&parameter["examples"]).map(|(n, _)| n.clone()));
        }
        names.into_iter().next().unwrap_or_else(|| "default".into())
    }

    fn replay_operation(&mut self, operation: &Operation) {
        let op = operation.op;
        let mut names: BTreeSet<String> = BTreeSet::new();
        let body_content = self.checker.resolve(&op["requestBody"])["content"].clone();
        for (_, media) in object_entries(&body_content) {
            names.extend(object_entries(&media["examples"]).map(|(n, _)| n.clone()));
        }
        for parameter in self.checker.parameters(operation) {
            names.extend(object_entries(&parameter["examples"]).map(|(n, _)| n.clone()));
        }
        if names.is_empty() {
            names.insert("default".into());
        }
        // Successes first: an error example may depend on what a success created (a duplicate).
        let mut names: Vec<(bool, String)> = names
            .into_iter()
            .map(|n| {
                let error = self
                    .checker
                    .expected_status(op, &n)
                    .is_some_and(|s| s.starts_with('4') || s.starts_with('5'));
                (error, n)
            })
            .collect();
        names.sort();

        let authorization = self.authorization(operation);
        if let Some(Some(_)) = &authorization {
            if let Some((_, first)) = names.first() {
                if let Some(request) = self.build(operation, first, None) {
                    let reply = self.send(&request);
                    self.check_reply(operation, "(no credentials)", Some("401"), &request, &reply);
                }
            }
        }
        let Some(authorization) = authorization else {
            self.checker.problem(format!(
                "{}: no credentials for any of its security requirements",
                operation.label()
            ));
            return;
        };
        for (_, name) in names {
            let Some(request) = self.build(operation, &name, authorization.as_deref()) else {
                continue;
            };
            let expected = match name.as_str() {
                "default" => None,
                _ => self.checker.expected_status(op, &name),
            };
            let reply = self.send(&request);
            let label = format!("example {name}");
            self.check_reply(operation, &label, expected.as_deref(), &request, &reply);
            if name == "default" && !(200..400).contains(&reply.status) {
                self.checker.problem(format!(
                    "{}: the nameless replay answered {}: {}",
                    operation.label(),
                    reply.status,
                    reply.body
                ));
            }
            self.capture_links(operation, &reply);
        }
    }

    /// `Some(None)`: no credentials needed; `Some(Some(value))`: this `Authorization`;
    /// `None`: none of the requirements can be met.
    fn authorization(&self, operation: &Operation) -> Option<Option<String>> {
        let requirements = security(self.checker.doc, operation.op);
        if requirements.is_empty() {
            return Some(None);
        }
        requirements.iter().find_map(|requirement| {
            if requirement.is_empty() {
                return Some(None);
            }
            // One scheme per requirement is all these vendors use.
            let scheme = requirement.keys().next()?;
            self.credentials.get(scheme).cloned().map(Some)
        })
    }

    /// The request of example `name`, or `None` (with a problem) when a value is missing.
    fn build(
        &mut self,
        operation: &Operation,
        name: &str,
        authorization: Option<&str>,
    ) -> Option<Request> {
        let label = operation.label();
        let mut path = operation.template.clone();
        let mut query = form_urlencoded::Serializer::new(String::new());
        let mut headers = Vec::new();
        for parameter in self.checker.parameters(operation) {
            let pname = parameter["name"].as_str().unwrap_or("").to_string();
            let linked = self
                .linked
                .get(&(operation.id().to_string(), pname.clone()))
                .map(|v| Value::String(v.clone()));
            let value = match parameter["examples"]
                .get(name)
                .map(|e| self.checker.resolve(e))
            {
                Some(example) if example["x-from-link"] == true => {
                    linked.or_else(|| Some(example["value"].clone()))
                }
                Some(example) => Some(example["value"].clone()),
                // A generated client sends a parameter's default when it is given nothing
                // (MX's `Accept`).
                None => parameter.get("example").cloned().or(linked).or_else(|| {
                    self.checker
                        .resolve(&parameter["schema"])
                        .get("default")
                        .cloned()
                }),
            };
            let Some(value) = value else {
                if parameter["required"] == true {
                    self.checker.problem(format!(
                        "{label}: example {name} has no value for parameter {pname}"
                    ));
                    return None;
                }
                continue;
            };
            let text = match value {
                Value::String(s) => s,
                other => other.to_string(),
            };
            match parameter["in"].as_str() {
                Some("path") => path = path.replace(&format!("{{{pname}}}"), &text),
                Some("query") => {
                    query.append_pair(&pname, &text);
                }
                Some("header") => headers.push((pname, text)),
                other => {
                    self.checker
                        .problem(format!("{label}: parameter in {other:?} is not replayed"));
                }
            }
        }
        let query = query.finish();
        if !query.is_empty() {
            path = format!("{path}?{query}");
        }
        let mut body = None;
        let content = self.checker.resolve(&operation.op["requestBody"])["content"].clone();
        if let Some((media_type, media)) = object_entries(&content).next() {
            if let Some(example) = media["examples"].get(name) {
                let value = self.checker.resolve(example)["value"].clone();
                let bytes = if media_type == "application/x-www-form-urlencoded" {
                    let mut form = form_urlencoded::Serializer::new(String::new());
                    for (k, v) in object_entries(&value) {
                        form.append_pair(k, v.as_str().unwrap_or(&v.to_string()));
                    }
                    form.finish().into_bytes()
                } else {
                    value.to_string().into_bytes()
                };
                headers.push(("Content-Type".to_string(), media_type.clone()));
                body = Some(bytes);
            }
        }
        if let Some(value) = authorization {
            headers.push(("Authorization".to_string(), value.to_string()));
        }
        Some(Request {
            method: operation.method.to_uppercase(),
            path: format!("{}{path}", self.prefix),
            headers,
            body,
        })
    }

    fn send(&self, request: &Request) -> Reply {
        let headers: Vec<(&str, &str)> = request
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        self.server.call(
            &request.method,
            &request.path,
            &headers,
            request.body.as_deref(),
        )
    }

    /// Checks a recorded reply against the operation's documented responses.
    fn check_reply(
        &mut self,
        operation: &Operation,
        label: &str,
        expected: Option<&str>,
        request: &Request,
        reply: &Reply,
    ) {
        let context = format!(
            "{} {label} ({} {} → {} {})",
            operation.label(),
            request.method,
            request.path,
            reply.status,
            reply.body.chars().take(300).collect::<String>()
        );
        // `CLIENTELE_REPLAY_LOG=1 cargo test --test it openapi:: -- --nocapture` shows them all.
        if std::env::var_os("CLIENTELE_REPLAY_LOG").is_some() {
            eprintln!("{context}");
        }
        let status = reply.status.to_string();
        if let Some(expected) = expected {
            if status != expected {
                self.checker
                    .problem(format!("{context}: expected status {expected}"));
            }
        }
        let responses = &operation.op["responses"];
        let Some(response) = responses
            .get(&status)
            .or_else(|| responses.get(format!("{}XX", &status[..1])))
            .or_else(|| responses.get("default"))
        else {
            self.checker
                .problem(format!("{context}: status {status} is not documented"));
            return;
        };
        let response = self.checker.resolve(response);
        for (name, header) in object_entries(&response["headers"]) {
            let header = self.checker.resolve(header);
            if header["required"] == true && reply.header(name).is_none() {
                self.checker
                    .problem(format!("{context}: required header {name} is missing"));
            }
        }
        let head = request.method == "HEAD";
        let content = object_entries(&response["content"]).collect::<BTreeMap<_, _>>();
        if content.is_empty() {
            if !reply.body.is_empty() {
                self.checker
                    .problem(format!("{context}: documented without a body, got one"));
            }
            return;
        }
        if head {
            return;
        }
        let media_type = reply
            .header("Content-Type")
            .and_then(|v| v.split(';').next())
            .unwrap_or("")
            .trim()
            .to_string();
        let Some(media) = content.get(&media_type) else {
            self.checker.problem(format!(
                "{context}: Content-Type {media_type:?} is not documented ({:?})",
                content.keys().collect::<Vec<_>>()
            ));
            return;
        };
        if media_type == "application/json" {
            let body: Value = match serde_json::from_str(&reply.body) {
                Ok(v) => v,
                Err(e) => {
                    self.checker
                        .problem(format!("{context}: the body is not JSON: {e}"));
                    return;
                }
            };
            for p in self.checker.validate(&media["schema"], &body) {
                self.checker.problem(format!("{context}: {p}"));
            }
        } else if reply.body.is_empty() {
            self.checker.problem(format!(
                "{context}: {media_type} documented, the body is empty"
            ));
        }
    }

    /// A value a link carries is a valid value of the parameter it fills, as it stands in the
    /// answer: an id has one type from the create to the read, so that a generated client
    /// (typed from the document) can pass what it got back without converting it.
    fn check_linked_type(
        &mut self,
        operation: &Operation,
        link: &str,
        target: &str,
        parameter: &str,
        value: &Value,
    ) {
        // `query.client` names the location; a bare name is the only parameter of that name.
        let (location, pname) = match parameter.split_once('.') {
            Some((location, pname)) => (Some(location), pname),
            None => (None, parameter),
        };
        let operations = self.checker.operations();
        let Some(target_op) = operations.iter().find(|o| o.id() == target) else {
            return;
        };
        let schema = self
            .checker
            .parameters(target_op)
            .into_iter()
            .find(|p| p["name"] == pname && location.is_none_or(|l| p["in"] == l))
            .map(|p| p["schema"].clone());
        let Some(schema) = schema else {
            self.checker.problem(format!(
                "{}: link {link} gives {target} a parameter {parameter} it does not have",
                operation.label()
            ));
            return;
        };
        for p in self.checker.validate(&schema, value) {
            self.checker.problem(format!(
                "{}: link {link} gives {target}'s {parameter} the value {value}, \
                 which its schema refuses: {p}",
                operation.label()
            ));
        }
    }

    /// Records the values the response's documented links give their target operations.
    fn capture_links(&mut self, operation: &Operation, reply: &Reply) {
        let status = reply.status.to_string();
        let Some(response) = operation.op["responses"].get(&status) else {
            return;
        };
        let response = self.checker.resolve(response);
        let body: Value = serde_json::from_str(&reply.body).unwrap_or(Value::Null);
        for (name, link) in object_entries(&response["links"]) {
            let target = link["operationId"].as_str().unwrap_or("").to_string();
            for (parameter, expression) in object_entries(&link["parameters"]) {
                let value = expression
                    .as_str()
                    .and_then(|e| e.strip_prefix("$response.body#"))
                    .and_then(|p| body.pointer(p));
                if let Some(value) = value {
                    self.check_linked_type(operation, name, &target, parameter, value);
                }
                match value {
                    Some(Value::String(s)) => {
                        self.linked
                            .insert((target.clone(), parameter.clone()), s.clone());
                    }
                    Some(v @ Value::Number(_)) => {
                        self.linked
                            .insert((target.clone(), parameter.clone()), v.to_string());
                    }
                    _ => self.checker.problem(format!(
                        "{}: link {name} ({expression}) finds nothing in the {status} answer {}",
                        operation.label(),
                        reply.body
                    )),
                }
            }
        }
    }
}
