//! Sending an invitation: a fresh one-time registration link (revoking any earlier one) and
//! its mail, queued in the caller's transaction. Used by a create and by a review approval.

use super::invitation::{already_registered_mail, registration_mail, Invitation};
use super::REGISTER_LINK;
use crate::app::App;

/// What an invitation mail needs of its client and processor.
pub struct Recipient {
    pub client_id: String,
    pub email: String,
    pub first_name: String,
    pub company_name: String,
    pub processor_name: String,
    pub status: String,
    /// Created in this transaction: it has no earlier link to revoke.
    pub is_new: bool,
}

/// Queues the invitation mail for client `client_id`, read from the database.
pub fn send(
    app: &App,
    tx: &crate::db::Transaction,
    client_id: &str,
    now_ms: i64,
) -> crate::db::Result<()> {
    let recipient = tx
        .prepare_cached(
            "SELECT c.email, c.first_name, c.company_name, p.name, c.status
             FROM mx_clients c JOIN mx_processors p ON p.id = c.processor_id WHERE c.id = ?1",
        )?
        .query_row([client_id], |r| {
            Ok(Recipient {
                client_id: client_id.to_string(),
                email: r.get(0)?,
                first_name: r.get(1)?,
                company_name: r.get(2)?,
                processor_name: r.get(3)?,
                status: r.get(4)?,
                is_new: false,
            })
        })?;
    send_to(app, tx, &recipient, now_ms)
}

/// Queues the invitation mail for `recipient`; a client who registered already gets a
/// pointer to the sign-in page instead of a new link.
pub fn send_to(
    app: &App,
    tx: &crate::db::Transaction,
    recipient: &Recipient,
    now_ms: i64,
) -> crate::db::Result<()> {
    let invitation = Invitation {
        first_name: &recipient.first_name,
        company_name: &recipient.company_name,
        processor_name: &recipient.processor_name,
        email: &recipient.email,
    };
    let base = format!("{}/mx/dashboard", app.settings.public_url);
    if recipient.status == "registered" {
        let mail = already_registered_mail(&invitation, &format!("{base}/login"));
        crate::mail::enqueue_with_secrets(tx, &mail, now_ms, &[])?;
        return Ok(());
    }
    let ttl = app.settings.link_ttl_ms;
    let (id, ids) = (&recipient.client_id, &app.ids);
    let token = if recipient.is_new {
        crate::links::issue_first(tx, ids, REGISTER_LINK, id, now_ms, ttl)?
    } else {
        crate::links::issue(tx, ids, REGISTER_LINK, id, now_ms, ttl)?
    };
    let link = format!("{base}/register/{token}");
    let expires_at = now_ms.saturating_add(ttl);
    let mail = registration_mail(&invitation, &link, expires_at, ttl);
    // The mail's one link is the token just issued.
    crate::mail::enqueue_with_secrets(tx, &mail, now_ms, &[(0, expires_at)])?;
    Ok(())
}
