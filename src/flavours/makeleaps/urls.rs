//! MakeLeaps' links: every reference in a body is a full URL (HATEOAS, docs/makeleaps.md), e.g.
//! `https://api.makeleaps.com/api/partner/{mid}/client/{mid}/`. We build them from the
//! request's own scheme, Host and mount (our choice), so a client that follows them stays on this
//! server, whether it came through `/makeleaps` on the main listener or a dedicated one.
//!
//! Links sent back to us (a client's `contacts` on update) are read the way DRF's
//! `HyperlinkedRelatedField` reads them: the scheme and host are ignored, only the path counts.

use crate::http::Request;

pub struct Urls {
    /// `http://host:port/makeleaps`, or without the mount on a dedicated listener.
    base: String,
    /// The mount alone, to strip from links sent back to us.
    mount: String,
}

impl Urls {
    /// The links of `req`: its scheme is the connection's, or the `X-Forwarded-Proto` of a
    /// proxy in `trusted_proxies` (a TLS-terminating proxy says `https`).
    pub fn of(req: &Request, trusted_proxies: &[ipnet::IpNet]) -> Urls {
        let from_trusted_proxy = req
            .remote
            .is_some_and(|peer| trusted_proxies.iter().any(|n| n.contains(&peer.ip())));
        let forwarded = req
            .header("X-Forwarded-Proto")
            .and_then(|v| v.split(',').next())
            .map(|v| v.trim().to_ascii_lowercase())
            .filter(|v| from_trusted_proxy && (v == "https" || v == "http"));
        let scheme = match forwarded.as_deref() {
            Some("https") => "https",
            Some(_) => "http",
            None if req.secure => "https",
            None => "http",
        };
        // The seed's transcripts show an empty `Host:`; fall back rather than emit `http:///`.
        let host = req
            .header("Host")
            .map(str::trim)
            .filter(|h| !h.is_empty())
            .unwrap_or("localhost");
        Urls {
            base: format!("{scheme}://{host}{}", req.mount),
            mount: req.mount.clone(),
        }
    }

    /// The absolute URL of a path below the mount (`/api/...`), for paging links.
    pub fn absolute(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn partner(&self, partner: &str) -> String {
        format!("{}/api/partner/{partner}/", self.base)
    }

    /// A partner's collection, e.g. `clients` → `.../api/partner/{mid}/client/`.
    pub fn partner_collection(&self, partner: &str, collection: &str) -> String {
        format!("{}/api/partner/{partner}/{collection}/", self.base)
    }

    pub fn client(&self, partner: &str, client: &str) -> String {
        format!("{}/api/partner/{partner}/client/{client}/", self.base)
    }

    pub fn contact(&self, partner: &str, contact: &str) -> String {
        format!("{}/api/partner/{partner}/contact/{contact}/", self.base)
    }

    /// Reads a contact link sent by a client: `(partner mid, contact mid)`, or DRF's message
    /// for a link that names no contact.
    pub fn parse_contact<'a>(&self, link: &'a str) -> Result<(&'a str, &'a str), &'static str> {
        let path = match link.split_once("://") {
            Some((_, rest)) => rest.find('/').map_or("/", |i| &rest[i..]),
            None => link,
        };
        let path = path.split(['?', '#']).next().unwrap_or("");
        let path = match path.strip_prefix(self.mount.as_str()) {
            Some(rest) if !self.mount.is_empty() && rest.starts_with('/') => rest,
            _ => path,
        };
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        match segments.as_slice() {
            ["api", "partner", partner, "contact", contact] => Ok((partner, contact)),
            ["api", ..] => Err("Invalid hyperlink - Incorrect URL match."),
            _ => Err("Invalid hyperlink - No URL match."),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn urls(mount: &str) -> Urls {
        Urls {
            base: format!("http://127.0.0.1:9{mount}"),
            mount: mount.to_string(),
        }
    }

    #[test]
    fn builds_links_below_the_mount() {
        let u = urls("/makeleaps");
        assert_eq!(
            u.client("1", "2"),
            "http://127.0.0.1:9/makeleaps/api/partner/1/client/2/"
        );
        assert_eq!(
            urls("").contact("1", "3"),
            "http://127.0.0.1:9/api/partner/1/contact/3/"
        );
    }

    #[test]
    fn reads_contact_links_from_any_host_with_or_without_the_mount() {
        let u = urls("/makeleaps");
        for link in [
            "http://127.0.0.1:9/makeleaps/api/partner/1/contact/3/",
            "https://api.makeleaps.com/api/partner/1/contact/3/",
            "/makeleaps/api/partner/1/contact/3",
            "/api/partner/1/contact/3/?x=1",
        ] {
            assert_eq!(u.parse_contact(link), Ok(("1", "3")), "{link}");
        }
        assert_eq!(
            u.parse_contact("https://api.makeleaps.com/api/partner/1/client/3/"),
            Err("Invalid hyperlink - Incorrect URL match.")
        );
        assert_eq!(
            u.parse_contact("not a link"),
            Err("Invalid hyperlink - No URL match.")
        );
    }
}
