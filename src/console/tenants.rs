//! The tenants page: per flavour, the tables its `Flavour::records` gives (tenants and
//! their records, paged, with the buttons of the flavour's own admin calls), and the tenant
//! sets of `POST /_admin/tenants` with delete.

use super::layout::{back, enc, hidden, refused, text, Ctx, BASE};
use crate::admin;
use crate::flavours::{self, ActionKind, Flavour, Page, RecordAction, Records};
use crate::http::Response;
use crate::markup::{html, Markup};
use crate::router::Params;
use crate::tenants::Summary;

/// Rows per table per page.
const PAGE: usize = 25;

/// `GET /tenants?flavour=&offset=`.
pub fn list(ctx: &Ctx, _: &Params) -> Response {
    let chosen = flavours::by_name(&ctx.query("flavour")).unwrap_or(flavours::ALL[0]);
    let offset = ctx
        .query("offset")
        .parse::<usize>()
        .unwrap_or(0)
        .min(1_000_000);
    let page = Page {
        offset,
        limit: PAGE,
    };
    let (tables, sets) = match admin::tenants(ctx.app, chosen, page) {
        Ok(found) => found,
        Err(e) => return refused(&e),
    };
    let more = tables.iter().any(|t| t.more);
    let body = html! {
        h1 { "Tenants and records" }
        (ctx.note())
        p #flavours {
            @for f in flavours::ALL {
                a.button.quiet href={ (BASE) "/tenants?flavour=" (f.name()) }
                    aria-current=[(f.name() == chosen.name()).then_some("page")] { (f.title()) }
                " "
            }
        }
        @for table in &tables {
            (records(ctx, chosen, table))
        }
        (paging(chosen, offset, more))
        h2 { "Tenant sets" }
        (tenant_sets(ctx, &sets))
    };
    Response::html(200, ctx.page("Tenants", "tenants", body, None))
}

fn records(ctx: &Ctx, flavour: &dyn Flavour, table: &Records) -> Markup {
    let has_actions = table.rows.iter().any(|r| !r.actions.is_empty());
    html! {
        h2 { (table.title) }
        @if table.rows.is_empty() {
            p.muted { "None." }
        } @else {
            div.table-box {
                table {
                    thead { tr {
                        @for column in table.columns { th { (column) } }
                        @if has_actions { th {} }
                    } }
                    tbody {
                        @for row in &table.rows {
                            tr {
                                @for cell in &row.cells { td { (cell) } }
                                @if has_actions {
                                    td { @for action in &row.actions { (button(ctx, flavour, action)) " " } }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A row's action as a form; how it looks is the flavour's say (`ActionKind`).
fn button(ctx: &Ctx, flavour: &dyn Flavour, action: &RecordAction) -> Markup {
    let fields = html! { (hidden("flavour", flavour.name())) (hidden("path", &action.path)) };
    let class = match action.kind {
        ActionKind::Destructive => "danger",
        ActionKind::Ordinary => "",
    };
    ctx.form("/tenants/action", fields, action.label, class)
}

fn paging(flavour: &dyn Flavour, offset: usize, more: bool) -> Markup {
    let base = format!("{BASE}/tenants?flavour={}", enc(flavour.name()));
    html! {
        @if offset > 0 || more {
            p.paging {
                @if offset > 0 {
                    a href={ (base) "&offset=" (offset.saturating_sub(PAGE)) } { "Previous page" } " "
                }
                @if more {
                    a href={ (base) "&offset=" (offset + PAGE) } { "Next page" }
                }
            }
        }
    }
}

fn tenant_sets(ctx: &Ctx, sets: &[Summary]) -> Markup {
    html! {
        @if sets.is_empty() {
            p.muted { "None (" code { "POST /_admin/tenants" } " makes one)." }
        } @else {
            div.table-box {
                table #sets {
                    thead { tr { th { "Set" } th { "Created" } th { "Tenants" } th {} } }
                    tbody {
                        @for set in sets {
                            tr {
                                td { (set.id) }
                                td { (crate::clock::iso_seconds(set.created_at)) }
                                td { (set.members) }
                                td { (ctx.form(&format!("/tenant-sets/{}/delete", set.id), html! {}, "Delete", "danger")) }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// `POST /tenants/action` (`flavour`, `path`): runs the flavour's admin call `POST path`
/// (one of its `admin_routes`) and goes back to its tenants.
pub fn act(ctx: &Ctx, _: &Params) -> Response {
    let Some(flavour) = flavours::by_name(ctx.field("flavour")) else {
        return text(400, "no such flavour");
    };
    let back_to = format!("/tenants?flavour={}", enc(flavour.name()));
    match admin::flavour_call(ctx.app, flavour, "POST", ctx.field("path")) {
        None => text(404, "no such action"),
        Some(Ok(_)) => back(&back_to, "done"),
        Some(Err(e)) => refused(&e),
    }
}

/// `POST /tenant-sets/{id}/delete`.
pub fn delete_set(ctx: &Ctx, params: &Params) -> Response {
    match admin::delete_tenant_set(ctx.app, params.get("id")) {
        Ok(()) => back("/tenants", "set-deleted"),
        Err(e) => refused(&e),
    }
}
