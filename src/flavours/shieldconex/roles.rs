//! The six ShieldConex roles. The docs spell them "System Administrator", "Client
//! Administrator", ...; the OpenAPI enum "System Admin", "Client Admin", ... (docs/shieldconex.md).
//! Both are accepted; the API's spelling is what we store and emit.
//!
//! Each role sits at a level of the hierarchy (System → Partner → Client) and is either the
//! level's manager (Admin, Supervisor) or a plain user. The order of `ROLES` is the order of
//! permission: a user may create or change users of its own rank or lower ("cannot be a higher
//! permission level than the role creating it", OpenAPI `userRole`).

/// The OpenAPI spellings, highest permission first.
pub const ROLES: [&str; 6] = [
    "System Admin",
    "System User",
    "Partner Supervisor",
    "Partner User",
    "Client Admin",
    "Client User",
];

/// The partner-level roles, as stored (for SQL `IN` lists).
pub const PARTNER_ROLES: [&str; 2] = ["Partner Supervisor", "Partner User"];
/// The client-level roles, as stored.
pub const CLIENT_ROLES: [&str; 2] = ["Client Admin", "Client User"];

/// Where in the hierarchy a role belongs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    System,
    Partner,
    Client,
}

/// The stored spelling of a role name in either spelling (case-insensitive).
pub fn canonical(name: &str) -> Option<&'static str> {
    let name = name.trim();
    let long_form = |role: &str| role.replace(" Admin", " Administrator");
    ROLES
        .iter()
        .find(|role| name.eq_ignore_ascii_case(role) || name.eq_ignore_ascii_case(&long_form(role)))
        .copied()
}

/// True when `name` is one of the documented spellings, case and all (`canonical` takes
/// any case; another one is recorded as a deviation).
pub fn is_spelt_as_documented(name: &str) -> bool {
    let name = name.trim();
    ROLES
        .iter()
        .any(|role| name == *role || name == role.replace(" Admin", " Administrator"))
}

pub fn level(role: &str) -> Level {
    if role.starts_with("System") {
        Level::System
    } else if role.starts_with("Partner") {
        Level::Partner
    } else {
        Level::Client
    }
}

/// 0 for System Admin down to 5 for Client User; an unknown role ranks below everything.
pub fn rank(role: &str) -> usize {
    ROLES.iter().position(|r| *r == role).unwrap_or(ROLES.len())
}

/// True when `role` may hand out or change a user holding `other` (same rank or lower).
pub fn outranks_or_equals(role: &str, other: &str) -> bool {
    rank(role) <= rank(other)
}

/// Admins and Supervisors manage their level; the "User" roles only read (README decision:
/// the vendor names a manager role at every level, so the plain roles are read-only here).
pub fn can_manage(role: &str) -> bool {
    matches!(role, "System Admin" | "Partner Supervisor" | "Client Admin")
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

    #[test]
    fn levels_and_ranks() {
        assert_eq!(level("System User"), Level::System);
        assert_eq!(level("Partner User"), Level::Partner);
        assert_eq!(level("Client Admin"), Level::Client);
        assert!(outranks_or_equals(
            "Partner Supervisor",
            "Partner Supervisor"
        ));
        assert!(outranks_or_equals("Partner Supervisor", "Client User"));
        assert!(!outranks_or_equals("Client Admin", "Partner User"));
        assert!(can_manage("Client Admin") && !can_manage("Partner User"));
    }
}
