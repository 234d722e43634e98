//! The invitation mail, as the vendor documents it: "MX will send an email ... with a one-time use
//! link to register on the Client Dashboard". Plain text with an HTML alternative; it greets the
//! recipient by first name, names the company and the processor, and gives the link's expiry.

use crate::clock::iso_seconds;
use crate::mail::Mail;
use crate::markup::{html, DOCTYPE};

/// What the mail talks about.
pub struct Invitation<'a> {
    pub first_name: &'a str,
    pub company_name: &'a str,
    pub processor_name: &'a str,
    pub email: &'a str,
}

/// The mail carrying a registration link that expires at `expires_at_ms`.
pub fn registration_mail(inv: &Invitation, link: &str, expires_at_ms: i64, ttl_ms: i64) -> Mail {
    let expiry = format!(
        "{} ({})",
        iso_seconds(expires_at_ms)
            .replace('T', " ")
            .replace('Z', " UTC"),
        human(ttl_ms)
    );
    let text = format!(
        "Hello {first},\n\n\
         {processor} has enabled {company} on MX. Use this one-time link to register on the \
         MX Client Dashboard:\n\n{link}\n\n\
         The link works once and expires on {expiry}. If it has expired, ask {processor} to \
         send a new invitation.\n\n\
         If you were not expecting this e-mail, you can ignore it.\n",
        first = inv.first_name,
        processor = inv.processor_name,
        company = inv.company_name,
    );
    let button = "display:inline-block;padding:10px 18px;background:#1b5fd1;color:#fff;\
                  border-radius:6px;text-decoration:none";
    let html = html! {
        (DOCTYPE)
        html { body style="font-family:sans-serif;line-height:1.5" {
            p { "Hello " (inv.first_name) "," }
            p {
                (inv.processor_name) " has enabled " b { (inv.company_name) } " on MX. Use this \
                 one-time link to register on the MX Client Dashboard:"
            }
            p { a href=(link) style=(button) { "Register" } }
            p style="font-size:90%" { "Or open " (link) }
            p {
                "The link works once and expires on " (expiry) ". If it has expired, ask "
                (inv.processor_name) " to send a new invitation."
            }
            p style="color:#666" { "If you were not expecting this e-mail, you can ignore it." }
        } }
    }
    .into_string();
    Mail {
        flavour: "mx",
        to: inv.email.to_string(),
        subject: format!("Register {} on the MX Client Dashboard", inv.company_name),
        text,
        html: Some(html),
        links: vec![link.to_string()],
    }
}

/// The mail for a client who registered already and was invited again: no new link (it
/// would let anyone with the mailbox reset the password), a pointer to sign in instead.
pub fn already_registered_mail(inv: &Invitation, login_url: &str) -> Mail {
    let text = format!(
        "Hello {first},\n\n\
         {processor} invited {company} to the MX Client Dashboard again, but you have \
         registered already. Sign in here:\n\n{login_url}\n",
        first = inv.first_name,
        processor = inv.processor_name,
        company = inv.company_name,
    );
    let html = html! {
        (DOCTYPE)
        html { body style="font-family:sans-serif;line-height:1.5" {
            p { "Hello " (inv.first_name) "," }
            p {
                (inv.processor_name) " invited " b { (inv.company_name) } " to the MX Client \
                 Dashboard again, but you have registered already."
            }
            p { a href=(login_url) { "Sign in" } }
        } }
    }
    .into_string();
    Mail {
        flavour: "mx",
        to: inv.email.to_string(),
        subject: format!("{} is already on the MX Client Dashboard", inv.company_name),
        text,
        html: Some(html),
        links: vec![login_url.to_string()],
    }
}

/// `7 days`, `12 hours`, `30 minutes`, `45 seconds`.
fn human(ms: i64) -> String {
    let plural = |n: i64, unit: &str| format!("{n} {unit}{}", if n == 1 { "" } else { "s" });
    let secs = ms / 1000;
    if secs % 86_400 == 0 && secs > 0 {
        plural(secs / 86_400, "day")
    } else if secs % 3600 == 0 && secs > 0 {
        plural(secs / 3600, "hour")
    } else if secs % 60 == 0 && secs > 0 {
        plural(secs / 60, "minute")
    } else {
        plural(secs, "second")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mail_names_everyone_and_escapes_html() {
        let inv = Invitation {
            first_name: "John",
            company_name: "MX <&> Co",
            processor_name: "Demo Processor",
            email: "john.foo@mx.com",
        };
        let mail = registration_mail(&inv, "http://x/mx/dashboard/register/t", 0, 7 * 86_400_000);
        assert!(mail.text.starts_with("Hello John,"));
        assert!(mail.text.contains("Demo Processor has enabled MX <&> Co"));
        assert!(mail.text.contains("1970-01-01 00:00:00 UTC (7 days)"));
        let html = mail.html.unwrap();
        assert!(html.contains("MX &lt;&amp;&gt; Co") && !html.contains("<&>"));
        assert_eq!(mail.links, vec!["http://x/mx/dashboard/register/t"]);
        assert_eq!(human(3_600_000), "1 hour");
        assert_eq!(human(90_000), "90 seconds");
    }
}
