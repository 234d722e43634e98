//! The tenants page: per flavour, the tables its `Flavour::records` gives (tenants and
//! their records, paged, with the buttons of the flavour's own admin calls), and the tenant
//! sets of `POST /_admin/tenants` with delete.

use super::{back, enc, esc, failed, text, Ctx, BASE};
use crate::flavours::{self, Page};
use crate::http::{form_field, Request, Response};
use crate::router::{Routing, Table};

/// Rows per table per page.
const PAGE: usize = 25;

/// `GET /tenants?flavour=&offset=`.
pub fn list(ctx: &Ctx) -> Response {
    let chosen = ctx
        .req
        .query_param("flavour")
        .and_then(|name| flavours::by_name(&name))
        .unwrap_or(flavours::ALL[0]);
    let offset = ctx
        .req
        .query_param("offset")
        .and_then(|o| o.parse::<usize>().ok())
        .unwrap_or(0)
        .min(1_000_000);
    let page = Page {
        offset,
        limit: PAGE,
    };
    let read = ctx.app.store.read(|c| {
        let tables = chosen.records(c, page)?;
        let sets = c
            .prepare_cached(
                "SELECT s.id, s.created_at, group_concat(m.flavour || ' ' || m.tenant_key, ', ')
                 FROM tenant_sets s LEFT JOIN tenant_set_members m ON m.set_id = s.id
                 GROUP BY s.id ORDER BY s.created_at DESC, s.id LIMIT 100",
            )?
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, Option<String>>(2)?.unwrap_or_default(),
                ))
            })?
            .collect::<crate::db::Result<Vec<_>>>()?;
        Ok::<_, crate::db::Error>((tables, sets))
    });
    let (tables, sets) = match read {
        Ok(found) => found,
        Err(e) => return failed("reading the tenants", &e),
    };
    let tabs: String = flavours::ALL
        .iter()
        .map(|f| {
            let mark = if f.name() == chosen.name() {
                " aria-current=\"page\""
            } else {
                ""
            };
            format!(
                "<a class=\"button quiet\" href=\"{BASE}/tenants?flavour={}\"{mark}>{}</a> ",
                f.name(),
                esc(f.title())
            )
        })
        .collect();
    let mut body = format!(
        "<h1>Tenants and records</h1>{}<p id=\"flavours\">{tabs}</p>",
        ctx.note()
    );
    let mut more = false;
    for table in &tables {
        more |= table.more;
        body.push_str(&format!("<h2>{}</h2>", esc(table.title)));
        if table.rows.is_empty() {
            body.push_str("<p class=\"muted\">None.</p>");
            continue;
        }
        let has_actions = table.rows.iter().any(|r| !r.actions.is_empty());
        body.push_str("<table><thead><tr>");
        for column in table.columns {
            body.push_str(&format!("<th>{}</th>", esc(column)));
        }
        if has_actions {
            body.push_str("<th></th>");
        }
        body.push_str("</tr></thead><tbody>");
        for row in &table.rows {
            body.push_str("<tr>");
            for cell in &row.cells {
                body.push_str(&format!("<td>{}</td>", esc(cell)));
            }
            if has_actions {
                body.push_str("<td>");
                for action in &row.actions {
                    let fields = format!(
                        "<input type=\"hidden\" name=\"flavour\" value=\"{}\">\
                         <input type=\"hidden\" name=\"path\" value=\"{}\">",
                        esc(chosen.name()),
                        esc(&action.path)
                    );
                    let class = if action.label == "Reject" || action.label == "Delete" {
                        "danger"
                    } else {
                        ""
                    };
                    body.push_str(&ctx.form("/tenants/action", &fields, action.label, class));
                    body.push(' ');
                }
                body.push_str("</td>");
            }
            body.push_str("</tr>");
        }
        body.push_str("</tbody></table>");
    }
    let base = format!("{BASE}/tenants?flavour={}", enc(chosen.name()));
    let mut paging = String::new();
    if offset > 0 {
        paging.push_str(&format!(
            "<a href=\"{base}&amp;offset={}\">Previous page</a> ",
            offset.saturating_sub(PAGE)
        ));
    }
    if more {
        paging.push_str(&format!(
            "<a href=\"{base}&amp;offset={}\">Next page</a>",
            offset + PAGE
        ));
    }
    if !paging.is_empty() {
        body.push_str(&format!("<p class=\"paging\">{paging}</p>"));
    }
    body.push_str("<h2>Tenant sets</h2>");
    if sets.is_empty() {
        body.push_str("<p class=\"muted\">None (<code>POST /_admin/tenants</code> makes one).</p>");
    } else {
        body.push_str(
            "<table id=\"sets\"><thead><tr><th>Set</th><th>Created</th><th>Tenants</th><th></th>\
             </tr></thead><tbody>",
        );
        for (id, created, members) in &sets {
            body.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(id),
                crate::clock::iso_seconds(*created),
                esc(members),
                ctx.form(&format!("/tenant-sets/{id}/delete"), "", "Delete", "danger"),
            ));
        }
        body.push_str("</tbody></table>");
    }
    Response::html(200, ctx.page("Tenants", "tenants", &body, None))
}

/// `POST /tenants/action` (`flavour`, `path`): runs the flavour's admin call `POST path`
/// (one of its `admin_routes`) and goes back to its tenants.
pub fn act(ctx: &Ctx, form: &[(String, String)]) -> Response {
    let Some(flavour) = form_field(form, "flavour").and_then(flavours::by_name) else {
        return text(400, "no such flavour");
    };
    let path = form_field(form, "path").unwrap_or("");
    let table = Table::new(flavour.admin_routes());
    let Routing::Found {
        handler, params, ..
    } = table.lookup("POST", path)
    else {
        return text(404, "no such action");
    };
    // The flavour's handler sees the call as the JSON API would have received it.
    let call = Request {
        method: "POST".to_string(),
        path: format!("/_admin{path}"),
        query: String::new(),
        mount: String::new(),
        headers: Vec::new(),
        body: crate::http::Body::Complete(Vec::new()),
        remote: ctx.req.remote,
        secure: ctx.req.secure,
    };
    let back_to = format!("/tenants?flavour={}", enc(flavour.name()));
    match handler(ctx.app, &call, &params) {
        Ok(_) => back(&back_to, "done"),
        Err(flavours::AdminError::NotFound(message)) => text(404, message),
        Err(flavours::AdminError::Failed { what, detail }) => failed(what, &detail),
    }
}

/// `POST /tenant-sets/{id}/delete`.
pub fn delete_set(ctx: &Ctx, id: &str) -> Response {
    match crate::tenants::delete(ctx.app, id) {
        Ok(true) => back("/tenants", "set-deleted"),
        Ok(false) => text(404, "no such tenant set"),
        Err(e) => failed("deleting a tenant set", &e),
    }
}
