//! Who is calling: Basic `userName:password` of a ShieldConex user, the user's portal login
//! (docs/shieldconex.md; the vendor's HMAC and RSA schemes are not emulated).
//!
//! The password is checked through the credential cache, so argon2id runs once per
//! credential rather than once per request; and who a credential is stays remembered until
//! the database changes (`auth::CallerMemo`), so a request with a known credential reads
//! nothing for it. A user without a password (one whose welcome link is still unused), an
//! inactive user, or a client-level user whose client was deleted is refused like a wrong
//! password: 401, without saying which.

use crate::db::OptionalExtension;

use super::error::Error;
use super::roles::{self, Level};
use crate::app::App;
use crate::http::Request;

/// An authenticated user, with where it sits in the hierarchy.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user_id: i64,
    pub role: &'static str,
    pub home: Home,
}

/// The node of the hierarchy a user belongs to; its scope is everything below it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Home {
    System,
    Partner(i64),
    /// A client-level user's client.
    Client(i64),
}

impl Caller {
    /// Refuses roles that only read (README: "User" roles are read-only).
    pub fn must_manage(&self) -> Result<(), Error> {
        if roles::can_manage(self.role) {
            Ok(())
        } else {
            Err(Error::Forbidden)
        }
    }

    /// Refuses client-level users, who "cannot view partners" (the users guide).
    pub fn must_see_partners(&self) -> Result<(), Error> {
        match self.home {
            Home::Client(_) => Err(Error::Forbidden),
            _ => Ok(()),
        }
    }
}

struct Row {
    id: i64,
    password_hash: Option<String>,
    role: String,
    partner_id: Option<i64>,
    client_id: Option<i64>,
    is_active: bool,
    client_live: bool,
}

pub fn authenticate(app: &App, req: &Request) -> Result<Caller, Error> {
    let header = req.header("Authorization").ok_or(Error::Unauthorized)?;
    app.state::<super::ShieldConexState>()
        .callers
        .remember(&app.store, header, || look_up(app, header))
}

fn look_up(app: &App, header: &str) -> Result<Caller, Error> {
    let (user_name, password) =
        crate::auth::parse_basic(Some(header)).ok_or(Error::Unauthorized)?;
    let row = app.store.read(|conn| {
        conn.prepare_cached(
            "SELECT u.id, u.password_hash, u.user_role, u.partner_id, u.client_id, u.is_active,
                    c.id IS NOT NULL AND c.deleted_at IS NULL
             FROM sc_users u LEFT JOIN sc_clients c ON c.id = u.client_id
             WHERE u.user_name = ?1",
        )?
        .query_row([&user_name], |r| {
            Ok(Row {
                id: r.get(0)?,
                password_hash: r.get(1)?,
                role: r.get(2)?,
                partner_id: r.get(3)?,
                client_id: r.get(4)?,
                is_active: r.get(5)?,
                client_live: r.get(6)?,
            })
        })
        .optional()
    })?;
    // An unknown name, or a user with no password yet, costs what a wrong password does.
    let Some(row) = row else {
        app.credentials.verify_nobody(&password);
        return Err(Error::Unauthorized);
    };
    // The cache is keyed by the user id, not the name: names match case-insensitively.
    if !app.credentials.verify_or_nobody(
        "shieldconex",
        &row.id.to_string(),
        &password,
        row.password_hash.as_deref(),
    ) {
        return Err(Error::Unauthorized);
    }
    if !row.is_active {
        return Err(Error::Unauthorized);
    }
    let role = roles::canonical(&row.role).ok_or(Error::Unauthorized)?;
    let home = match roles::level(role) {
        Level::System => Home::System,
        Level::Partner => Home::Partner(row.partner_id.ok_or(Error::Unauthorized)?),
        Level::Client if row.client_live => Home::Client(row.client_id.ok_or(Error::Unauthorized)?),
        Level::Client => return Err(Error::Unauthorized),
    };
    Ok(Caller {
        user_id: row.id,
        role,
        home,
    })
}
