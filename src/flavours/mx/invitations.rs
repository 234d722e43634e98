//! Sending an invitation: a fresh one-time registration link (revoking any earlier one) and
//! its mail, queued in the caller's transaction. Used by a create and by a review approval.

use super::invitation::{already_registered_mail, registration_mail, Invitation};
use super::REGISTER_LINK;
use crate::app::App;

/// Queues the invitation mail for client `client_id`; a client who registered already gets
/// a pointer to the sign-in page instead of a new link.
pub fn send(
    app: &App,
    tx: &crate::db::Transaction,
    client_id: &str,
    now_ms: i64,
) -> crate::db::Result<()> {
    let (email, first_name, company_name, processor_name, status): (
        String,
        String,
        String,
        String,
        String,
    ) = tx
        .prepare_cached(
            "SELECT c.email, c.first_name, c.company_name, p.name, c.status
             FROM mx_clients c JOIN mx_processors p ON p.id = c.processor_id WHERE c.id = ?1",
        )?
        .query_row([client_id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })?;
    let invitation = Invitation {
        first_name: &first_name,
        company_name: &company_name,
        processor_name: &processor_name,
        email: &email,
    };
    let base = format!("{}/mx/dashboard", app.settings.public_url);
    let mail = if status == "registered" {
        already_registered_mail(&invitation, &format!("{base}/login"))
    } else {
        let ttl = app.settings.link_ttl_ms;
        let token = crate::links::issue(tx, &app.ids, REGISTER_LINK, client_id, now_ms, ttl)?;
        let link = format!("{base}/register/{token}");
        registration_mail(&invitation, &link, now_ms.saturating_add(ttl), ttl)
    };
    crate::mail::enqueue(tx, &mail, now_ms)?;
    Ok(())
}
