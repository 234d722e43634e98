//! `/api/v1/users`: list, get, create, update (the vendor has no user DELETE: "once a user has
//! logged into the system, their account cannot be deleted", set it inactive instead).
//!
//! A user belongs to a partner (partner-level roles), a client (client-level roles) or the
//! system. Client-level users are shown with their `client` and never a `partner` ("Client
//! Level users cannot look into their clients' partners", OpenAPI get-user). New users may
//! come from this endpoint or inline, as the `contact` of a new client or partner; both go
//! through `NewUser` here.

use crate::db::{Connection, OptionalExtension, Transaction};
use serde::Serialize;
use serde_json::{Map, Value};

use super::caller::{Caller, Home};
use super::error::{Error, Problems, DUPLICATE, INVALID, REQUIRED};
use super::input::{self, Field, Paging, Reader};
use super::roles::{self, Level};
use super::scope::{self, subtree, Named};
use super::{id_response, json_response, welcome};
use crate::app::App;
use crate::clock::iso_millis;
use crate::http::{Request, Response};

/// Longest user attribute (OpenAPI `UserCreate`: maxLength 255 each).
const MAX_LEN: usize = 255;

/// `UserListItem`, in the OpenAPI's order.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct UserItem {
    id: i64,
    user_name: String,
    first_name: String,
    last_name: String,
    email: String,
    phone: String,
    is_active: bool,
    version: i64,
    user_role: RoleName,
    #[serde(skip_serializing_if = "Option::is_none")]
    partner: Option<Named>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client: Option<Named>,
    /// `UserDetails` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    created: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    modified: Option<String>,
}

#[derive(Serialize)]
struct RoleName {
    name: &'static str,
}

#[derive(Serialize)]
struct UserList {
    total: i64,
    data: Vec<UserItem>,
}

/// The columns `item_from_row` reads, from `sc_users u`, its partner `p` and client `c`.
macro_rules! user_columns {
    () => {
        "SELECT u.id, u.user_name, u.first_name, u.last_name, u.email, u.phone, u.is_active,
                u.version, u.user_role, p.id, p.name, c.id, c.name, u.created_at, u.modified_at "
    };
}

fn item_from_row(r: &crate::db::Row, details: bool) -> crate::db::Result<UserItem> {
    let role_text: String = r.get(8)?;
    let role = roles::canonical(&role_text).unwrap_or("Client User");
    let named =
        |id: Option<i64>, name: Option<String>| id.zip(name).map(|(id, name)| Named { id, name });
    let partner = named(r.get(9)?, r.get(10)?);
    let client = named(r.get(11)?, r.get(12)?);
    let client_level = roles::level(role) == Level::Client;
    let (created, modified): (i64, i64) = (r.get(13)?, r.get(14)?);
    Ok(UserItem {
        id: r.get(0)?,
        user_name: r.get(1)?,
        first_name: r.get(2)?,
        last_name: r.get(3)?,
        email: r.get(4)?,
        phone: r.get(5)?,
        is_active: r.get(6)?,
        version: r.get(7)?,
        user_role: RoleName { name: role },
        partner: if client_level { None } else { partner },
        client: if client_level { client } else { None },
        created: details.then(|| iso_millis(created)),
        modified: details.then(|| iso_millis(modified)),
    })
}

/// The FROM and WHERE of a users list: `?1` the subtree's root (NULL: every partner, for
/// the system level), `?2` one client (NULL: any), `?3` client-level users only. Client-level
/// users of deleted clients are gone with their client; system users show only to the
/// system level without a partner filter.
macro_rules! users_in_scope {
    () => {
        "FROM sc_users u
         LEFT JOIN sc_partners p ON p.id = u.partner_id
         LEFT JOIN sc_clients c ON c.id = u.client_id AND c.deleted_at IS NULL
         WHERE (CASE
             WHEN u.user_role IN ('Partner Supervisor', 'Partner User') THEN
                 NOT ?3 AND (CAST(?1 AS BIGINT) IS NULL OR u.partner_id IN (SELECT id FROM sub))
             WHEN u.user_role IN ('Client Admin', 'Client User') THEN
                 c.id IS NOT NULL AND (CAST(?1 AS BIGINT) IS NULL OR c.direct_partner_id IN (SELECT id FROM sub))
             ELSE CAST(?1 AS BIGINT) IS NULL AND NOT ?3 END)
           AND (CAST(?2 AS BIGINT) IS NULL OR u.client_id = ?2)"
    };
}

/// `GET /api/v1/users?partner=&client=&take=&skip=`: the users in the caller's scope.
pub fn list_users(app: &App, req: &Request, caller: &Caller, _: &str) -> Result<Response, Error> {
    let mut problems = Problems::default();
    let paging = Paging::from_query(req, &mut problems);
    let partner_ref = input::query_ref(req, "partner", &mut problems);
    let client_ref = input::query_ref(req, "client", &mut problems);
    // "This parameter is only available to System and Partner-level roles" (OpenAPI).
    if partner_ref.is_some() {
        caller.must_see_partners()?;
    }
    app.store.read(|conn| {
        let partner = match &partner_ref {
            Some(r) => scope::resolve_partner(conn, caller, r, "partner", &mut problems)?,
            None => None,
        };
        let client = match &client_ref {
            Some(r) => scope::resolve_client(conn, caller, r, "client", &mut problems)?,
            None => None,
        };
        problems.check()?;
        // The subtree the list is drawn from: the filter's, else the caller's own.
        let (root, only_client_users, client_filter) = match caller.home {
            Home::System => (partner.map(|p| p.id), false, client.map(|c| c.0.id)),
            Home::Partner(home) => (
                Some(partner.map_or(home, |p| p.id)),
                false,
                client.map(|c| c.0.id),
            ),
            Home::Client(own) => (None, true, Some(own)),
        };
        let params = crate::params![
            root,
            client_filter,
            only_client_users,
            paging.take,
            paging.skip
        ];
        let total: i64 = conn
            .prepare_cached(concat!(subtree!(), "SELECT count(*) ", users_in_scope!()))?
            .query_row(&params[..3], |r| r.get(0))?;
        let mut stmt = conn.prepare_cached(concat!(
            subtree!(),
            user_columns!(),
            users_in_scope!(),
            " ORDER BY u.id LIMIT ?4 OFFSET ?5"
        ))?;
        let data = stmt
            .query_map(params, |r| item_from_row(r, false))?
            .collect::<crate::db::Result<Vec<_>>>()?;
        Ok(json_response(200, &UserList { total, data }))
    })
}

/// `GET /api/v1/users/{id}`: `UserDetails`.
pub fn get_user(app: &App, _: &Request, caller: &Caller, id: &str) -> Result<Response, Error> {
    let id = input::path_id(id)?;
    app.store.read(|conn| {
        let place = scope::user_place(conn, id)?.ok_or(Error::NotFound)?;
        scope::user_access(conn, caller, &place)?.require()?;
        let item = conn
            .prepare_cached(concat!(
                user_columns!(),
                "FROM sc_users u
                 LEFT JOIN sc_partners p ON p.id = u.partner_id
                 LEFT JOIN sc_clients c ON c.id = u.client_id AND c.deleted_at IS NULL
                 WHERE u.id = ?1"
            ))?
            .query_row([id], |r| item_from_row(r, true))
            .optional()?
            .ok_or(Error::NotFound)?;
        Ok(json_response(200, &item))
    })
}

/// The attributes of a user being created: `UserCreate`, or `UserCreateInline` as a
/// contact.
pub struct NewUser {
    pub user_name: String,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub phone: String,
    pub role: &'static str,
    pub is_active: bool,
    pub send_welcome: bool,
}

impl NewUser {
    /// Reads the attributes of a new user; `default_role` fills a missing `userRole` (an
    /// inline contact), `None` makes it required.
    pub fn read(
        reader: &Reader,
        default_role: Option<&'static str>,
        problems: &mut Problems,
    ) -> Option<NewUser> {
        let user_name = reader.name("userName", MAX_LEN, problems);
        let first_name = reader.name("firstName", MAX_LEN, problems);
        let last_name = reader.name("lastName", MAX_LEN, problems);
        let email = reader.name("email", MAX_LEN, problems);
        let phone = reader.name("phone", MAX_LEN, problems);
        let role = match (reader.role("userRole", problems), default_role) {
            (Field::Absent, Some(default)) => Field::Set(default),
            // A null role is refused as POST /users refuses it, unless lenient; the rule of
            // its own says so (not the general `shieldconex.null` as well).
            (Field::Null, Some(default)) => {
                if crate::conformance::refuse(&super::rules::CONTACT_ROLE_NULL) {
                    let attr = reader.attr("userRole");
                    problems.add(&attr, REQUIRED, format!("{attr} is required."));
                    Field::Invalid
                } else {
                    Field::Set(default)
                }
            }
            (role, _) => role,
        };
        let is_active = reader.boolean("isActive", problems);
        let send_welcome = reader.boolean("sendWelcomeEmail", problems);
        // Every attribute is read before any is missed, so that one 409 names them all.
        let user_name = user_name.required(&reader.attr("userName"), problems);
        let first_name = first_name.required(&reader.attr("firstName"), problems);
        let last_name = last_name.required(&reader.attr("lastName"), problems);
        let email = email.required(&reader.attr("email"), problems);
        let phone = phone.required(&reader.attr("phone"), problems);
        let role = role.required(&reader.attr("userRole"), problems);
        let is_active = is_active.not_null(&reader.attr("isActive"), problems);
        let send_welcome = send_welcome.not_null(&reader.attr("sendWelcomeEmail"), problems);
        if let Some(name) = &user_name {
            check_user_name(name, &reader.attr("userName"), problems);
        }
        if let Some(email) = &email {
            check_email(email, &reader.attr("email"), problems);
        }
        if let Some(phone) = &phone {
            check_phone(phone, &reader.attr("phone"), problems);
        }
        Some(NewUser {
            user_name: user_name?,
            first_name: first_name?,
            last_name: last_name?,
            email: email?,
            phone: phone?,
            role: role?,
            is_active: is_active.unwrap_or(true),
            send_welcome: send_welcome.unwrap_or(false),
        })
    }

    /// Inserts the user (after the caller's checks) and, if asked, queues its welcome mail
    /// in the same transaction.
    pub fn insert(
        &self,
        app: &App,
        tx: &Transaction,
        partner_id: Option<i64>,
        client_id: Option<i64>,
        now_ms: i64,
    ) -> Result<i64, Error> {
        let id = tx
            .prepare_cached(
                "INSERT INTO sc_users (user_name, first_name, last_name, email, phone, user_role,
                     partner_id, client_id, is_active, created_at, modified_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10)
                 RETURNING id",
            )?
            .query_row(
                crate::params![
                    self.user_name,
                    self.first_name,
                    self.last_name,
                    self.email,
                    self.phone,
                    self.role,
                    partner_id,
                    client_id,
                    self.is_active,
                    now_ms
                ],
                |r| r.get(0),
            )?;
        if self.send_welcome {
            welcome::send(app, tx, id, now_ms)?;
        }
        Ok(id)
    }
}

/// The `contact` of a new client or partner: an existing user by `id` (the vendor's example sends
/// `{id, firstName, lastName, email}`; only the id counts, docs/shieldconex.md; our choice), or a
/// new user (OpenAPI `UserCreateInline`).
pub enum ContactInput {
    Existing(i64),
    New(NewUser),
}

impl ContactInput {
    /// True for a new user who asked for the welcome mail.
    pub fn sends_welcome(&self) -> bool {
        matches!(self, ContactInput::New(user) if user.send_welcome)
    }

    pub fn read(
        reader: &Reader,
        key: &str,
        default_role: &'static str,
        problems: &mut Problems,
    ) -> Field<ContactInput> {
        let attr = reader.attr(key);
        let map = match reader.nested(key, problems) {
            Field::Set(map) => map,
            Field::Null => return Field::Null,
            Field::Absent => return Field::Absent,
            Field::Invalid | Field::Blank => return Field::Invalid,
        };
        let inner = Reader::new(map, &attr);
        let id = match map.get("id") {
            Some(v) if !v.is_null() => inner.integer("id", problems),
            _ => Field::Absent,
        };
        match id {
            Field::Set(id) => Field::Set(ContactInput::Existing(id)),
            // No id (or, with `--lenient`, one of another type): a new user.
            Field::Absent => match NewUser::read(&inner, Some(default_role), problems) {
                Some(user) => Field::Set(ContactInput::New(user)),
                None => Field::Invalid,
            },
            _ => Field::Invalid,
        }
    }

    /// Checks the contact (before anything is written): an existing one must be visible to
    /// the caller; a new one needs a free user name and a role the caller may grant.
    pub fn check(
        &self,
        conn: &Connection,
        caller: &Caller,
        attr: &str,
        problems: &mut Problems,
    ) -> Result<(), Error> {
        match self {
            ContactInput::Existing(id) => {
                scope::resolve_user(conn, caller, *id, &format!("{attr}.id"), problems)?;
            }
            ContactInput::New(user) => {
                check_role_grant(caller, user.role)?;
                check_unique_user_name(
                    conn,
                    &user.user_name,
                    None,
                    &format!("{attr}.userName"),
                    problems,
                )?;
            }
        }
        Ok(())
    }
}

/// Basic auth cannot carry a ':' in the user name, so such a user could never sign in.
fn check_user_name(name: &str, attr: &str, problems: &mut Problems) {
    if name.contains(':') {
        problems.add(attr, INVALID, format!("{attr} must not contain ':'."));
    }
}

/// The welcome mail goes to this address, so it must be one (and no stricter than that).
fn check_email(email: &str, attr: &str, problems: &mut Problems) {
    if email.parse::<lettre::Address>().is_err() {
        problems.add(
            attr,
            INVALID,
            format!("{attr} is not a valid e-mail address."),
        );
    }
}

/// "The User's phone number without dashes, spaces, or brackets (e.g. +14155552671)":
/// an optional '+' and 4 to 15 digits (E.164's longest).
fn check_phone(phone: &str, attr: &str, problems: &mut Problems) {
    let digits = phone.strip_prefix('+').unwrap_or(phone);
    if !(4..=15).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        problems.add(
            attr,
            INVALID,
            format!("{attr} must be a phone number without dashes, spaces, or brackets, e.g. +14155552671."),
        );
    }
}

/// Records a duplicate when another user (not `except`) has this user name.
pub fn check_unique_user_name(
    conn: &Connection,
    name: &str,
    except: Option<i64>,
    attr: &str,
    problems: &mut Problems,
) -> crate::db::Result<()> {
    let taken: bool = conn
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM sc_users WHERE user_name = ?1 AND id IS DISTINCT FROM ?2)",
        )?
        .query_row(crate::params![name, except], |r| r.get(0))?;
    if taken {
        problems.add(attr, DUPLICATE, format!("{attr} is already taken."));
    }
    Ok(())
}

/// A role the caller may hand out: its own rank or lower (OpenAPI `userRole`: "Cannot be a
/// higher permission level than the role creating it").
pub fn check_role_grant(caller: &Caller, role: &str) -> Result<(), Error> {
    if roles::outranks_or_equals(caller.role, role) {
        Ok(())
    } else {
        Err(Error::Forbidden)
    }
}

/// `POST /api/v1/users` → `{"id": N}`.
pub fn create_user(app: &App, req: &Request, caller: &Caller, _: &str) -> Result<Response, Error> {
    caller.must_manage()?;
    let body = input::object(req)?;
    let reader = Reader::new(&body, "");
    let mut problems = Problems::default();
    let user = NewUser::read(&reader, None, &mut problems);
    let partner_ref = reader.reference("partner", &mut problems);
    let client_ref = reader.reference("client", &mut problems);
    let Some(user) = user else {
        return Err(Error::Invalid(problems));
    };
    check_role_grant(caller, user.role)?;
    let sends_mail = user.send_welcome;
    let now = app.clock.now_ms();
    // Row by row: the user names' unique index settles a race for a name (the loser runs
    // again and finds it taken), and the trigger that numbers users takes them in turn.
    let noted = crate::conformance::noted();
    let id = app.store.write_rows(|tx| {
        crate::conformance::forget_since(noted);
        let mut problems = problems.clone();
        check_unique_user_name(tx, &user.user_name, None, "userName", &mut problems)?;
        let (partner_id, client_id) = place_new_user(
            tx,
            caller,
            user.role,
            &partner_ref,
            &client_ref,
            &mut problems,
        )?;
        problems.check()?;
        user.insert(app, tx, partner_id, client_id, now)
    })?;
    welcome::after_commit(app, sends_mail);
    Ok(id_response(id))
}

/// Where a user of `role` goes, from the `partner` and `client` references: a partner for
/// partner-level roles, a client for client-level ones (a `partner` given with a client must
/// be the client's partner or one above it), nothing for the system level.
fn place_new_user(
    conn: &Connection,
    caller: &Caller,
    role: &str,
    partner_ref: &Field<input::Ref>,
    client_ref: &Field<input::Ref>,
    problems: &mut Problems,
) -> Result<(Option<i64>, Option<i64>), Error> {
    match roles::level(role) {
        Level::System => Ok((None, None)),
        Level::Partner => {
            let Field::Set(r) = partner_ref else {
                problems.add(
                    "partner",
                    REQUIRED,
                    "partner is required for a partner-level role.",
                );
                return Ok((None, None));
            };
            let partner = scope::resolve_partner(conn, caller, r, "partner", problems)?;
            Ok((partner.map(|p| p.id), None))
        }
        Level::Client => {
            let Field::Set(r) = client_ref else {
                problems.add(
                    "client",
                    REQUIRED,
                    "client is required for a client-level role.",
                );
                return Ok((None, None));
            };
            let client = scope::resolve_client(conn, caller, r, "client", problems)?;
            if let (Some((_, direct)), Field::Set(partner)) = (&client, partner_ref) {
                check_partner_above_client(conn, *direct, partner, problems)?;
            }
            Ok((None, client.map(|c| c.0.id)))
        }
    }
}

/// The users guide sends both references for a client user; the partner must then be the
/// client's, or one above it.
fn check_partner_above_client(
    conn: &Connection,
    direct_partner: i64,
    partner: &input::Ref,
    problems: &mut Problems,
) -> crate::db::Result<()> {
    let lineage = scope::lineage(conn, direct_partner)?;
    let matches = lineage.iter().any(|p| match (partner.id, &partner.name) {
        (Some(id), _) => id == p.id,
        (None, Some(name)) if name.eq_ignore_ascii_case(&p.name) => {
            if *name != p.name {
                crate::conformance::warn_at(&super::rules::NAME_CASE, "partner");
            }
            true
        }
        (None, Some(_)) => false,
        (None, None) => false,
    });
    if !matches {
        problems.add(
            "partner",
            INVALID,
            "The client does not belong to this partner.",
        );
    }
    Ok(())
}

/// `PATCH /api/v1/users/{id}` → `{"id": N}`; `version` + 1. `sendWelcomeEmail: true` sends a
/// fresh set-password link, as the portal's "Resetting a User's Password" does.
pub fn update_user(app: &App, req: &Request, caller: &Caller, id: &str) -> Result<Response, Error> {
    caller.must_manage()?;
    let id = input::path_id(id)?;
    let body = input::object(req)?;
    let changes = UserChanges::read(&body)?;
    let sends_mail = changes.send_welcome;
    let now = app.clock.now_ms();
    app.store
        .write(|tx| changes.apply(app, tx, caller, id, now))?;
    welcome::after_commit(app, sends_mail);
    Ok(id_response(id))
}

struct UserChanges {
    problems: Problems,
    user_name: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    role: Option<&'static str>,
    partner: Field<input::Ref>,
    client: Field<input::Ref>,
    is_active: Option<bool>,
    send_welcome: bool,
}

impl UserChanges {
    fn read(body: &Map<String, Value>) -> Result<UserChanges, Error> {
        let reader = Reader::new(body, "");
        let mut problems = Problems::default();
        let mut text = |key: &str| {
            let field = reader.name(key, MAX_LEN, &mut problems);
            field.not_null(key, &mut problems)
        };
        let user_name = text("userName");
        let first_name = text("firstName");
        let last_name = text("lastName");
        let email = text("email");
        let phone = text("phone");
        if let Some(name) = &user_name {
            check_user_name(name, "userName", &mut problems);
        }
        if let Some(email) = &email {
            check_email(email, "email", &mut problems);
        }
        if let Some(phone) = &phone {
            check_phone(phone, "phone", &mut problems);
        }
        let role = reader
            .role("userRole", &mut problems)
            .not_null("userRole", &mut problems);
        let partner = reader.reference("partner", &mut problems);
        let client = reader.reference("client", &mut problems);
        let is_active = reader
            .boolean("isActive", &mut problems)
            .not_null("isActive", &mut problems);
        let send_welcome = reader
            .boolean("sendWelcomeEmail", &mut problems)
            .not_null("sendWelcomeEmail", &mut problems)
            .unwrap_or(false);
        Ok(UserChanges {
            problems,
            user_name,
            first_name,
            last_name,
            email,
            phone,
            role,
            partner,
            client,
            is_active,
            send_welcome,
        })
    }

    fn apply(
        mut self,
        app: &App,
        tx: &Transaction,
        caller: &Caller,
        id: i64,
        now: i64,
    ) -> Result<(), Error> {
        let mut problems = std::mem::take(&mut self.problems);
        let place = scope::user_place(tx, id)?.ok_or(Error::NotFound)?;
        scope::user_access(tx, caller, &place)?.require()?;
        let current_role = roles::canonical(&place.role).unwrap_or("Client User");
        // Neither the user as it is nor as it would be may outrank the caller.
        check_role_grant(caller, current_role)?;
        let role = self.role.unwrap_or(current_role);
        check_role_grant(caller, role)?;
        if let Some(name) = &self.user_name {
            check_unique_user_name(tx, name, Some(id), "userName", &mut problems)?;
        }
        let level_changed = roles::level(role) != roles::level(current_role);
        let (partner_id, client_id) = match roles::level(role) {
            Level::System => (None, None),
            Level::Partner => {
                let partner =
                    self.partner_place(tx, caller, &place, level_changed, &mut problems)?;
                (partner, None)
            }
            Level::Client => self.client_place(tx, caller, &place, level_changed, &mut problems)?,
        };
        problems.check()?;
        tx.prepare_cached(
            "UPDATE sc_users SET
                 user_name = coalesce(?2, user_name),
                 first_name = coalesce(?3, first_name),
                 last_name = coalesce(?4, last_name),
                 email = coalesce(?5, email),
                 phone = coalesce(?6, phone),
                 user_role = ?7,
                 partner_id = ?8,
                 client_id = ?9,
                 is_active = coalesce(?10, is_active),
                 version = version + 1,
                 modified_at = ?11
             WHERE id = ?1",
        )?
        .execute(crate::params![
            id,
            self.user_name,
            self.first_name,
            self.last_name,
            self.email,
            self.phone,
            role,
            partner_id,
            client_id,
            self.is_active,
            now
        ])?;
        if self.send_welcome {
            welcome::send(app, tx, id, now)?;
        }
        Ok(())
    }

    /// The partner of a user who is (or becomes) partner-level: the one named, or the one
    /// it has when it stays at that level.
    fn partner_place(
        &self,
        tx: &Transaction,
        caller: &Caller,
        place: &scope::UserPlace,
        level_changed: bool,
        problems: &mut Problems,
    ) -> Result<Option<i64>, Error> {
        Ok(match &self.partner {
            Field::Set(r) => {
                scope::resolve_partner(tx, caller, r, "partner", problems)?.map(|p| p.id)
            }
            Field::Null => {
                // Required here, so refused even with `--lenient` (as `required` does).
                let _ = crate::conformance::refuse_at(&super::rules::NULL, "partner");
                problems.add(
                    "partner",
                    INVALID,
                    "partner cannot be null for a partner-level role.",
                );
                None
            }
            Field::Absent if level_changed || place.partner_id.is_none() => {
                problems.add(
                    "partner",
                    REQUIRED,
                    "partner is required for a partner-level role.",
                );
                None
            }
            Field::Absent => place.partner_id,
            Field::Invalid | Field::Blank => None,
        })
    }

    /// The (partner, client) of a user who is (or becomes) client-level.
    fn client_place(
        &self,
        tx: &Transaction,
        caller: &Caller,
        place: &scope::UserPlace,
        level_changed: bool,
        problems: &mut Problems,
    ) -> Result<(Option<i64>, Option<i64>), Error> {
        let client = match &self.client {
            Field::Set(r) => scope::resolve_client(tx, caller, r, "client", problems)?
                .map(|(c, direct)| (c.id, direct)),
            Field::Null => {
                let _ = crate::conformance::refuse_at(&super::rules::NULL, "client");
                problems.add(
                    "client",
                    INVALID,
                    "client cannot be null for a client-level role.",
                );
                None
            }
            Field::Absent if level_changed => {
                problems.add(
                    "client",
                    REQUIRED,
                    "client is required for a client-level role.",
                );
                None
            }
            Field::Absent => place.client_id.zip(place.client_partner_id),
            Field::Invalid | Field::Blank => None,
        };
        if let (Some((_, direct)), Field::Set(partner)) = (client, &self.partner) {
            check_partner_above_client(tx, direct, partner, problems)?;
        }
        // A seeded client user keeps the partner it was given while its client stays.
        let partner = if self.client.is_present() || level_changed {
            None
        } else {
            place.partner_id
        };
        Ok((partner, client.map(|(c, _)| c)))
    }
}

#[cfg(test)]
mod tests {
    use super::super::roles::{CLIENT_ROLES, PARTNER_ROLES};
    use super::*;

    #[test]
    fn the_sql_role_lists_match_the_roles_module() {
        let sql = users_in_scope!();
        for role in PARTNER_ROLES.iter().chain(CLIENT_ROLES.iter()) {
            assert!(sql.contains(&format!("'{role}'")), "{role}");
        }
    }

    #[test]
    fn phone_and_email_rules() {
        let mut p = Problems::default();
        check_phone("+14155552671", "phone", &mut p);
        check_email("waterford@example.com", "email", &mut p);
        assert!(p.is_empty());
        check_phone("+1 415-555", "phone", &mut p);
        check_email("[email protected]", "email", &mut p);
        check_user_name("a:b", "userName", &mut p);
        assert!(p.has("phone") && p.has("email") && p.has("userName"));
    }
}
