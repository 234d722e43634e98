//! The controls page: fault rules (add, list, delete), the clock (advance, set, back to real
//! time) and a reset of all data, which asks for a confirmation.

use serde_json::{json, Map, Value};

use super::layout::{back, hidden, input, refused, select, Ctx};
use crate::admin::{self, Move};
use crate::http::Response;
use crate::markup::{html, Markup};
use crate::pages::error_box;
use crate::router::Params;

/// `GET /controls`.
pub fn show(ctx: &Ctx, _: &Params) -> Response {
    page(ctx, None, 200)
}

/// The page, with `error` above the forms (a refused form).
fn page(ctx: &Ctx, error: Option<&str>, status: u16) -> Response {
    let body = html! {
        h1 { "Controls" }
        (ctx.note())
        (error_box(error))
        h2 { "Faults" }
        (faults(ctx))
        h3 { "Add a fault" }
        (add_fault_form(ctx))
        (clock(ctx))
        h2 { "Reset" }
        p {
            "Deletes every record, mail and link, and seeds the startup tenants again. Faults, \
             the clock and the journal stay."
        }
        (ctx.form("/reset", html! {
            label.check {
                input type="checkbox" id="confirm-reset" name="confirm" value="yes" required;
                "Yes, delete all data"
            }
            " "
        }, "Reset", "danger"))
    };
    Response::html(status, ctx.page("Controls", "controls", body, None))
}

fn faults(ctx: &Ctx) -> Markup {
    let listed = admin::faults(ctx.app);
    let rules = listed["faults"].as_array().cloned().unwrap_or_default();
    html! {
        @if rules.is_empty() {
            p.muted #no-faults { "No fault rules." }
        } @else {
            div.table-box {
                table #faults {
                    thead { tr {
                        th { "#" } th { "Flavour" } th { "Method" } th { "Path" } th { "Does" }
                        th { "Times left" } th {}
                    } }
                    tbody {
                        @for rule in &rules {
                            @let id = rule["id"].as_u64().unwrap_or(0);
                            tr {
                                td { (id) }
                                td { (rule["flavour"].as_str().unwrap_or("any")) }
                                td { (rule["method"].as_str().unwrap_or("any")) }
                                td { (rule["path"].as_str().unwrap_or("any")) }
                                td { (does(rule)) }
                                td { (rule["times"].as_u64().map_or("until removed".to_string(), |t| t.to_string())) }
                                td { (ctx.form(&format!("/faults/{id}/delete"), html! {}, "Delete", "danger")) }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// What a listed rule does to the requests it matches.
fn does(rule: &Value) -> String {
    let mut does = Vec::new();
    if let Some(ms) = rule["delay_ms"].as_u64() {
        does.push(format!("wait {ms} ms"));
    }
    if let Some(status) = rule["status"].as_u64() {
        does.push(format!("answer {status}"));
    }
    if rule["drop"] == true {
        does.push("drop the connection".to_string());
    }
    if !rule["body"].is_null() {
        does.push(format!("with body {}", rule["body"]));
    }
    does.join(", ")
}

fn add_fault_form(ctx: &Ctx) -> Markup {
    let mut flavours: Vec<(&str, &str)> = vec![("", "any flavour")];
    flavours.extend(crate::flavours::ALL.iter().map(|f| (f.name(), f.title())));
    let mut methods = vec![("", "any method")];
    methods.extend(["GET", "POST", "PUT", "PATCH", "DELETE"].map(|m| (m, m)));
    let fields = html! {
        (select("flavour", "Flavour", &flavours, ""))
        (select("method", "Method", &methods, ""))
        (input("path", "Path (* for any run)", "", "/clients"))
        (input("status", "Answer status", "", "503"))
        (input("delay_ms", "Delay (ms)", "", "0"))
        (input("times", "Times", "", "until removed"))
        label.check { input type="checkbox" name="drop" value="yes"; "drop the connection" }
        (input("body", "Answer body (JSON)", "", "{\"error\": \"busy\"}"))
    };
    ctx.form_with("/faults", "add-fault", "row", fields, "Add fault", "")
}

fn clock(ctx: &Ctx) -> Markup {
    let now = admin::clock(ctx.app);
    let advance =
        html! { (hidden("action", "advance")) (input("by", "Advance by", "", "8d, 2h, 30m")) };
    let set =
        html! { (hidden("action", "set")) (input("at", "Set to", "", "2030-01-01T00:00:00Z")) };
    html! {
        h2 { "Clock" }
        dl #clock {
            dt { "Now" } dd { (now.now) }
            dt { "Offset from real time" } dd { (now.offset_ms) " ms" }
        }
        (ctx.form_with("/clock", "", "row", advance, "Advance", ""))
        (ctx.form_with("/clock", "", "row", set, "Set", ""))
        (ctx.form("/clock", hidden("action", "real"), "Back to real time", "quiet"))
    }
}

/// `POST /faults`: the form as a rule of `POST /_admin/faults`.
pub fn add_fault(ctx: &Ctx, _: &Params) -> Response {
    let rule = match fault_rule(ctx) {
        Ok(rule) => rule,
        Err(message) => return page(ctx, Some(&message), 400),
    };
    match admin::add_fault(ctx.app, rule) {
        Ok(_) => back("/controls", "fault-added"),
        Err(e) => page(ctx, Some(&e.shown_by("console")), e.status()),
    }
}

/// The form's fields as a fault rule, or what is wrong with them.
fn fault_rule(ctx: &Ctx) -> Result<crate::faults::Rule, String> {
    let mut rule = Map::new();
    let given = |name| Some(ctx.field(name)).filter(|v| !v.is_empty());
    for name in ["flavour", "method", "path"] {
        if let Some(value) = given(name) {
            rule.insert(name.into(), json!(value));
        }
    }
    for name in ["status", "delay_ms", "times"] {
        if let Some(value) = given(name) {
            let n = value
                .parse::<u64>()
                .map_err(|_| format!("{name} must be a whole number"))?;
            rule.insert(name.into(), json!(n));
        }
    }
    if given("drop").is_some() {
        rule.insert("drop".into(), json!(true));
    }
    if let Some(body) = given("body") {
        let value = serde_json::from_str::<Value>(body)
            .map_err(|e| format!("the body is not JSON: {e}"))?;
        rule.insert("body".into(), value);
    }
    serde_json::from_value(Value::Object(rule)).map_err(|e| format!("invalid fault rule: {e}"))
}

/// `POST /faults/{id}/delete`.
pub fn delete_fault(ctx: &Ctx, params: &Params) -> Response {
    match admin::delete_fault(ctx.app, params.get("id")) {
        Ok(()) => back("/controls", "fault-deleted"),
        Err(e) => refused(&e),
    }
}

/// `POST /clock` with `action` `advance` (`by`), `set` (`at`) or `real`.
pub fn move_clock(ctx: &Ctx, _: &Params) -> Response {
    let to = match ctx.field("action") {
        "advance" => Move::Advance(ctx.field("by")),
        "set" => Move::Set(ctx.field("at")),
        "real" => Move::Real,
        _ => return page(ctx, Some("unknown clock action"), 400),
    };
    match admin::move_clock(ctx.app, to) {
        Ok(_) => back("/controls", "clock"),
        Err(e) => page(ctx, Some(&e.shown_by("console")), e.status()),
    }
}

/// `POST /reset`, only with the confirmation ticked.
pub fn reset(ctx: &Ctx, _: &Params) -> Response {
    if ctx.field("confirm") != "yes" {
        let message = "Tick “Yes, delete all data” to reset: nothing was deleted.";
        return page(ctx, Some(message), 400);
    }
    match admin::reset(ctx.app) {
        Ok(()) => back("/controls", "reset"),
        Err(e) => refused(&e),
    }
}
