//! The six ShieldConex roles. The docs spell them "System Administrator", "Client
//! Administrator", ...; the OpenAPI enum "System Admin", "Client Admin", ... (VENDORS.md §2).
//! Both are accepted; the API's spelling is what we store and emit.

/// The OpenAPI spellings, highest level first.
pub const ROLES: [&str; 6] = [
    "System Admin",
    "System User",
    "Partner Supervisor",
    "Partner User",
    "Client Admin",
    "Client User",
];

/// The stored spelling of a role name in either spelling (case-insensitive).
pub fn canonical(name: &str) -> Option<&'static str> {
    let name = name.trim();
    let long_form = |role: &str| role.replace(" Admin", " Administrator");
    ROLES
        .iter()
        .find(|role| name.eq_ignore_ascii_case(role) || name.eq_ignore_ascii_case(&long_form(role)))
        .copied()
}

/// True for roles that belong to a client rather than a partner.
pub fn is_client_level(role: &str) -> bool {
    role.starts_with("Client")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_both_spellings() {
        assert_eq!(canonical("Client Administrator"), Some("Client Admin"));
        assert_eq!(canonical("client admin"), Some("Client Admin"));
        assert_eq!(canonical("System Administrator"), Some("System Admin"));
        assert_eq!(canonical("Partner Supervisor"), Some("Partner Supervisor"));
        assert_eq!(canonical("Partner Administrator"), None);
    }
}
