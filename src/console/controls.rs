//! The controls page: fault rules (add, list, delete), the clock (advance, set, back to real
//! time) and a reset of all data, which asks for a confirmation.

use serde_json::{json, Map, Value};

use super::{back, esc, failed, input, select, text, Ctx};
use crate::http::{form_field, Response};

/// `GET /controls`, or the page again with `error` above the forms (a refused form).
pub fn show(ctx: &Ctx, error: Option<&str>, status: u16) -> Response {
    let app = ctx.app;
    let error = error.map_or(String::new(), |e| {
        format!("<p class=\"error\" role=\"alert\">{}</p>", esc(e))
    });
    let mut body = format!("<h1>Controls</h1>{}{error}<h2>Faults</h2>", ctx.note());
    let faults = app.faults.list();
    let rules = faults["faults"].as_array().cloned().unwrap_or_default();
    if rules.is_empty() {
        body.push_str("<p class=\"muted\" id=\"no-faults\">No fault rules.</p>");
    } else {
        body.push_str(
            "<table id=\"faults\"><thead><tr><th>#</th><th>Flavour</th><th>Method</th>\
             <th>Path</th><th>Does</th><th>Times left</th><th></th></tr></thead><tbody>",
        );
        for rule in &rules {
            let id = rule["id"].as_u64().unwrap_or(0);
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
            body.push_str(&format!(
                "<tr><td>{id}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(rule["flavour"].as_str().unwrap_or("any")),
                esc(rule["method"].as_str().unwrap_or("any")),
                esc(rule["path"].as_str().unwrap_or("any")),
                esc(&does.join(", ")),
                rule["times"]
                    .as_u64()
                    .map_or("until removed".to_string(), |t| t.to_string()),
                ctx.form(&format!("/faults/{id}/delete"), "", "Delete", "danger"),
            ));
        }
        body.push_str("</tbody></table>");
    }
    let mut flavours: Vec<(&str, &str)> = vec![("", "any flavour")];
    flavours.extend(crate::flavours::ALL.iter().map(|f| (f.name(), f.title())));
    let methods: &[(&str, &str)] = &[
        ("", "any method"),
        ("GET", "GET"),
        ("POST", "POST"),
        ("PUT", "PUT"),
        ("PATCH", "PATCH"),
        ("DELETE", "DELETE"),
    ];
    body.push_str("<h3>Add a fault</h3>");
    let fields = format!(
        "{}{}{}{}{}{}<label class=\"check\"><input type=\"checkbox\" name=\"drop\" value=\"yes\">\
         drop the connection</label>{}",
        select("flavour", "Flavour", &flavours, ""),
        select("method", "Method", methods, ""),
        input("path", "Path (* for any run)", "", "/clients"),
        input("status", "Answer status", "", "503"),
        input("delay_ms", "Delay (ms)", "", "0"),
        input("times", "Times", "", "until removed"),
        input("body", "Answer body (JSON)", "", "{\"error\": \"busy\"}"),
    );
    body.push_str(&ctx.form("/faults", &fields, "Add fault", "").replacen(
        "<form ",
        "<form id=\"add-fault\" class=\"row\" ",
        1,
    ));

    let now = app.clock.now_ms();
    let offset = app.clock.offset_ms();
    body.push_str(&format!(
        "<h2>Clock</h2><dl id=\"clock\"><dt>Now</dt><dd>{}</dd><dt>Offset from real time</dt>\
         <dd>{} ms</dd></dl>",
        crate::clock::iso_millis(now),
        offset
    ));
    let advance = format!(
        "<input type=\"hidden\" name=\"action\" value=\"advance\">{}",
        input("by", "Advance by", "", "8d, 2h, 30m")
    );
    let set = format!(
        "<input type=\"hidden\" name=\"action\" value=\"set\">{}",
        input("at", "Set to", "", "2030-01-01T00:00:00Z")
    );
    for (fields, button) in [(advance, "Advance"), (set, "Set")] {
        body.push_str(&ctx.form("/clock", &fields, button, "").replacen(
            "<form ",
            "<form class=\"row\" ",
            1,
        ));
    }
    body.push_str(&ctx.form(
        "/clock",
        "<input type=\"hidden\" name=\"action\" value=\"real\">",
        "Back to real time",
        "quiet",
    ));

    body.push_str(
        "<h2>Reset</h2><p>Deletes every record, mail and link, and seeds the startup tenants \
         again. Faults, the clock and the journal stay.</p>",
    );
    body.push_str(&ctx.form(
        "/reset",
        "<label class=\"check\"><input type=\"checkbox\" id=\"confirm-reset\" name=\"confirm\" \
         value=\"yes\" required>Yes, delete all data</label> ",
        "Reset",
        "danger",
    ));
    Response::html(status, ctx.page("Controls", "controls", &body, None))
}

/// `POST /faults`: the form as a rule of `POST /_admin/faults`.
pub fn add_fault(ctx: &Ctx, form: &[(String, String)]) -> Response {
    let mut rule = Map::new();
    let field = |name| {
        form_field(form, name)
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    for name in ["flavour", "method", "path"] {
        if let Some(value) = field(name) {
            rule.insert(name.into(), json!(value));
        }
    }
    for name in ["status", "delay_ms", "times"] {
        if let Some(value) = field(name) {
            match value.parse::<u64>() {
                Ok(n) => rule.insert(name.into(), json!(n)),
                Err(_) => {
                    let message = format!("{name} must be a whole number");
                    return show(ctx, Some(&message), 400);
                }
            };
        }
    }
    if field("drop").is_some() {
        rule.insert("drop".into(), json!(true));
    }
    if let Some(body) = field("body") {
        match serde_json::from_str::<Value>(body) {
            Ok(value) => rule.insert("body".into(), value),
            Err(e) => return show(ctx, Some(&format!("the body is not JSON: {e}")), 400),
        };
    }
    let rule = match serde_json::from_value::<crate::faults::Rule>(Value::Object(rule)) {
        Ok(rule) => rule,
        Err(e) => return show(ctx, Some(&format!("invalid fault rule: {e}")), 400),
    };
    match crate::admin::add_fault_rule(ctx.app, rule) {
        Ok(_) => back("/controls", "fault-added"),
        Err(m) => show(ctx, Some(&format!("invalid fault rule: {m}")), 400),
    }
}

/// `POST /faults/{id}/delete`.
pub fn delete_fault(ctx: &Ctx, id: &str) -> Response {
    match id.parse::<u64>() {
        Ok(id) if ctx.app.faults.remove(Some(id)) => back("/controls", "fault-deleted"),
        _ => text(404, "no such fault"),
    }
}

/// `POST /clock` with `action` `advance` (`by`), `set` (`at`) or `real`.
pub fn clock(ctx: &Ctx, form: &[(String, String)]) -> Response {
    let value = |name| form_field(form, name).unwrap_or("").trim();
    let moved = match value("action") {
        "advance" => crate::admin::advance_clock(ctx.app, value("by")),
        "set" => crate::admin::set_clock(ctx.app, value("at")),
        "real" => {
            ctx.app.clock.reset();
            Ok(())
        }
        _ => Err("unknown clock action".to_string()),
    };
    match moved {
        Ok(()) => back("/controls", "clock"),
        Err(m) => show(ctx, Some(&m), 400),
    }
}

/// `POST /reset`, only with the confirmation ticked.
pub fn reset(ctx: &Ctx, form: &[(String, String)]) -> Response {
    if form_field(form, "confirm") != Some("yes") {
        return show(
            ctx,
            Some("Tick “Yes, delete all data” to reset: nothing was deleted."),
            400,
        );
    }
    match ctx.app.reset() {
        Ok(()) => back("/controls", "reset"),
        Err(e) => failed("reset", &e),
    }
}
