//! Secrets out of messages. Everything the process prints or logs passes through `text`:
//! passwords in URLs (`scheme://user:PASSWORD@host`, parsable or not, and `password=` in a
//! query) become `***`, and so does any secret registered at startup (the admin token, the
//! relay's and the database's passwords, flavours' secret options), wherever it appears: in
//! an error from a library that quotes its input, say.

use std::sync::RwLock;

/// Shorter secrets are not searched for: replacing every `ab` would garble the log, and a
/// secret that short is not worth hiding.
const SHORTEST_SECRET: usize = 4;

/// Secrets registered for this process (in-process test servers share it, as they share
/// stderr): a secret once registered stays hidden.
static SECRETS: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// Hides `secret` in every later message.
pub fn register(secret: &str) {
    if secret.len() < SHORTEST_SECRET {
        return;
    }
    let mut secrets = SECRETS.write().unwrap_or_else(|e| e.into_inner());
    if !secrets.iter().any(|s| s == secret) {
        secrets.push(secret.to_string());
        // Longest first: a secret that contains another is replaced whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }
}

/// Registers the password of a URL-shaped option (`smtp://`, `postgres://`), as written and
/// percent-decoded, whether or not the rest of it parses.
pub fn register_url_password(url: &str) {
    if let Some(password) = url_password(url) {
        register(password);
        if let Some((_, decoded)) =
            form_urlencoded::parse(format!("x={}", password.replace('+', "%2B")).as_bytes()).next()
        {
            register(&decoded);
        }
    }
}

/// `message` with every secret it shows replaced by `***`.
pub fn text(message: &str) -> String {
    let mut shown = urls(message);
    let secrets = SECRETS.read().unwrap_or_else(|e| e.into_inner());
    for secret in secrets.iter() {
        if shown.contains(secret.as_str()) {
            shown = shown.replace(secret.as_str(), "***");
        }
    }
    shown
}

/// Where a URL's text ends in a message: at white space or a quoting character.
fn url_end(c: char) -> bool {
    c.is_whitespace() || matches!(c, '"' | '\'' | '`' | '<' | '>' | '(' | ')' | ',')
}

/// The password of the URL starting at `url` (`scheme://user:PASSWORD@...`): between the
/// first `:` after `://` and the last `@` before the URL ends. Taken from the text, not a
/// parse, so that a URL that fails to parse (a bad port, a `/` in the password) still has
/// its password found.
fn url_password(url: &str) -> Option<&str> {
    let start = url.find("://")? + 3;
    let rest = &url[start..];
    let end = rest.find(url_end).unwrap_or(rest.len());
    let at = rest[..end].rfind('@')?;
    let colon = rest[..at].find(':')?;
    Some(&rest[colon + 1..at])
}

/// Every URL password and secret query value in `message` replaced by `***`.
fn urls(message: &str) -> String {
    if !message.contains("://") && !message.contains('=') {
        return message.to_string();
    }
    let mut shown = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(found) = rest.find("://") {
        let (before, url) = rest.split_at(found.saturating_sub(scheme_len(&rest[..found])));
        shown.push_str(before);
        match url_password(url) {
            Some(password) if !password.is_empty() => {
                let offset = password.as_ptr() as usize - url.as_ptr() as usize;
                shown.push_str(&url[..offset]);
                shown.push_str("***");
                rest = &url[offset + password.len()..];
            }
            _ => {
                let skip = url.find("://").map_or(url.len(), |i| i + 3);
                shown.push_str(&url[..skip]);
                rest = &url[skip..];
            }
        }
    }
    shown.push_str(rest);
    parameters(&shown)
}

/// The length of the URL scheme that ends `before` (the letters before `://`).
fn scheme_len(before: &str) -> usize {
    before
        .chars()
        .rev()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        .count()
}

/// Every `name=value` whose name says it holds a secret (`journal::is_secret`, the names
/// the journal hides) with the value replaced.
fn parameters(message: &str) -> String {
    let mut shown = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(equals) = rest.find('=') {
        let (before, after) = (&rest[..equals], &rest[equals + 1..]);
        let name_start = before
            .char_indices()
            .rev()
            .find(|(_, c)| matches!(c, '?' | '&') || url_end(*c))
            .map_or(0, |(i, c)| i + c.len_utf8());
        let value_len = after
            .find(|c: char| c == '&' || url_end(c))
            .unwrap_or(after.len());
        shown.push_str(before);
        shown.push('=');
        let name = &before[name_start..];
        if !name.is_empty() && value_len > 0 && crate::journal::is_secret(name) {
            shown.push_str("***");
        } else {
            shown.push_str(&after[..value_len]);
        }
        rest = &after[value_len..];
    }
    shown.push_str(rest);
    shown
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_in_urls_are_hidden_whether_or_not_they_parse() {
        assert_eq!(
            text("--mail \"smtp://apikey:S3cretPW@mail.example.com:notaport\": invalid port"),
            "--mail \"smtp://apikey:***@mail.example.com:notaport\": invalid port"
        );
        assert_eq!(
            text("postgres://u:pa/ss@db/x?sslmode=require"),
            "postgres://u:***@db/x?sslmode=require"
        );
        assert_eq!(text("smtp://u:p@ss@h:25"), "smtp://u:***@h:25");
        assert_eq!(
            text("smtp://user@h:25 and http://h:80/x"),
            "smtp://user@h:25 and http://h:80/x"
        );
        assert_eq!(
            text("postgres://h/db?user=u&password=hunter22&x=1"),
            "postgres://h/db?user=u&password=***&x=1"
        );
    }

    #[test]
    fn registered_secrets_are_hidden_anywhere() {
        register("tok-registered-1234");
        register_url_password("smtp://u:p%40ssw0rd@h:bad");
        assert_eq!(
            text("bearer tok-registered-1234 refused"),
            "bearer *** refused"
        );
        assert_eq!(text("login p@ssw0rd failed"), "login *** failed");
        register("ab");
        assert_eq!(text("ab"), "ab");
    }
}
