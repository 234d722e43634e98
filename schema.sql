-- Clientele's data model. Embedded in the binary and applied by src/store.rs.
--
-- Each "-- migration: N" section is one step, applied in its own transaction together with
-- `PRAGMA user_version = N`, so a newer binary upgrades an older database file in place and
-- an older binary refuses a newer file. Never edit a step that has been released; add one.
--
-- Conventions: times are Unix milliseconds (INTEGER); money is integer cents; secrets people
-- choose (passwords, client secrets) are argon2id PHC strings; secrets we generate (links,
-- tokens, random keys) are stored only as their SHA-256 (BLOB), and so is a Nueve09 api_key,
-- which is also how an account is looked up (its password is argon2id). Table names start with their
-- flavour (mx_, sc_ for ShieldConex, n09_ for Nueve09, ml_ for MakeLeaps); shared plumbing
-- (mail, links, sessions) has no prefix.

-- migration: 1

------------------------------------------------------------------------------------------
-- Shared plumbing
------------------------------------------------------------------------------------------

-- Mail waiting to be delivered, written in the same transaction as the record that causes
-- it; the sender thread (src/mail) delivers rows whose next_attempt_at has come.
CREATE TABLE mail_outbox (
    id              INTEGER PRIMARY KEY,
    flavour         TEXT    NOT NULL,
    recipient       TEXT    NOT NULL,
    subject         TEXT    NOT NULL,
    text_body       TEXT    NOT NULL,
    html_body       TEXT,
    links           TEXT    NOT NULL DEFAULT '[]',  -- JSON array of the URLs in the mail
    status          TEXT    NOT NULL DEFAULT 'pending'
                            CHECK (status IN ('pending', 'sent', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error      TEXT,
    created_at      INTEGER NOT NULL,
    sent_at         INTEGER
);
CREATE INDEX mail_outbox_due ON mail_outbox (status, next_attempt_at);

-- One-time links (MX registration, ShieldConex welcome). Only the SHA-256 of the token is
-- kept; redeeming sets used_at in one UPDATE ... WHERE used_at IS NULL, so of two concurrent
-- redemptions exactly one changes a row.
CREATE TABLE links (
    token_hash  BLOB    PRIMARY KEY,
    purpose     TEXT    NOT NULL,           -- 'mx.register', 'shieldconex.welcome', ...
    subject_id  TEXT    NOT NULL,           -- the record the link acts on
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    used_at     INTEGER,
    revoked_at  INTEGER                     -- set when a newer link replaces this one
) WITHOUT ROWID;
CREATE INDEX links_subject ON links (purpose, subject_id);

-- Signed-in browser sessions of the dashboards; the cookie holds the token, we keep its hash.
CREATE TABLE sessions (
    token_hash  BLOB    PRIMARY KEY,
    purpose     TEXT    NOT NULL,           -- 'mx.dashboard', ...
    subject_id  TEXT    NOT NULL,
    csrf_token  TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
) WITHOUT ROWID;

-- Isolated tenant sets made by POST /_admin/tenants, one tenant per flavour, so that each
-- test of a parallel suite owns its tenants; DELETE of the set removes them and their data.
CREATE TABLE tenant_sets (
    id          TEXT    PRIMARY KEY,
    created_at  INTEGER NOT NULL
);
CREATE TABLE tenant_set_members (
    set_id      TEXT    NOT NULL REFERENCES tenant_sets (id) ON DELETE CASCADE,
    flavour     TEXT    NOT NULL,
    tenant_key  TEXT    NOT NULL,           -- processor id, root partner id, account id, mid
    PRIMARY KEY (set_id, flavour, tenant_key)
) WITHOUT ROWID;

------------------------------------------------------------------------------------------
-- MX Client Enablement (docs/mx.md)
------------------------------------------------------------------------------------------

-- Processors call the API with Basic processor_id:api_key.
CREATE TABLE mx_processors (
    id            TEXT    PRIMARY KEY,      -- e.g. PROCESSOR-1234
    name          TEXT    NOT NULL,
    api_key_hash  TEXT    NOT NULL,         -- argon2id; a digest when generated (auth.rs)
    created_at    INTEGER NOT NULL
);

-- Clients a processor enabled. One row per (processor, e-mail): a repeat create is a
-- re-invitation of the same client.
CREATE TABLE mx_clients (
    id             TEXT    PRIMARY KEY,     -- CLT-<uuid>, MX's guid style
    processor_id   TEXT    NOT NULL REFERENCES mx_processors (id) ON DELETE CASCADE,
    company_name   TEXT    NOT NULL,
    email          TEXT    NOT NULL COLLATE NOCASE,
    first_name     TEXT    NOT NULL,
    last_name      TEXT    NOT NULL,
    status         TEXT    NOT NULL
                           CHECK (status IN ('invited', 'pending_review', 'registered', 'rejected')),
    invitations    INTEGER NOT NULL DEFAULT 1,
    source_ip      TEXT,
    password_hash  TEXT,                    -- argon2id, set on registration
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    registered_at  INTEGER,
    UNIQUE (processor_id, email)
);

------------------------------------------------------------------------------------------
-- ShieldConex (docs/shieldconex.md): partners own sub-partners and clients; users belong to a partner
-- or a client and authenticate with Basic userName:password. `version` counts updates and
-- starts at 0 (Bluefin's guide); ids are the vendor's int64s, assigned here.
------------------------------------------------------------------------------------------

-- Partner trees: a root partner (parent_id NULL) has sub-partners to any depth. The API only
-- creates sub-partners. Names are unique, ASCII case ignored: `?partner=` takes a name too.
-- Users and partners refer to each other (a partner's contact is a user); the foreign keys
-- are checked per statement, so rows are written in dependency order (seeds defer them).
CREATE TABLE sc_partners (
    id                   INTEGER PRIMARY KEY,
    name                 TEXT    NOT NULL UNIQUE COLLATE NOCASE,
    reference            TEXT,
    billing_id           TEXT,
    verification_phrase  TEXT,
    is_active            INTEGER NOT NULL DEFAULT 1,
    version              INTEGER NOT NULL DEFAULT 0,
    parent_id            INTEGER REFERENCES sc_partners (id),
    contact_id           INTEGER REFERENCES sc_users (id),
    created_at           INTEGER NOT NULL,
    modified_at          INTEGER NOT NULL
);
CREATE INDEX sc_partners_parent ON sc_partners (parent_id);

-- Partner-level users have a partner_id, client-level users a client_id, system-level users
-- neither (a seed may give a client user its partner too; the API never shows it).
CREATE TABLE sc_users (
    id             INTEGER PRIMARY KEY,
    user_name      TEXT    NOT NULL UNIQUE COLLATE NOCASE,
    password_hash  TEXT,                    -- argon2id, a digest when generated; NULL until set
    first_name     TEXT    NOT NULL,
    last_name      TEXT    NOT NULL,
    email          TEXT    NOT NULL,
    phone          TEXT    NOT NULL,
    user_role      TEXT    NOT NULL,        -- the OpenAPI spelling, e.g. 'Partner Supervisor'
    partner_id     INTEGER REFERENCES sc_partners (id),
    client_id      INTEGER REFERENCES sc_clients (id),
    is_active      INTEGER NOT NULL DEFAULT 1,
    version        INTEGER NOT NULL DEFAULT 0,
    created_at     INTEGER NOT NULL,
    modified_at    INTEGER NOT NULL
);
CREATE INDEX sc_users_partner ON sc_users (partner_id);
CREATE INDEX sc_users_client ON sc_users (client_id);

-- Clients hang under their direct partner; their `partner` in the API is the tree's root.
-- DELETE is soft (docs/shieldconex.md): the row stays with deleted_at set, gone from every
-- answer, and its name is free again.
CREATE TABLE sc_clients (
    id                 INTEGER PRIMARY KEY,
    name               TEXT    NOT NULL COLLATE NOCASE,
    billing_id         TEXT,
    mid                TEXT,
    location           INTEGER,
    is_active          INTEGER NOT NULL DEFAULT 1,
    version            INTEGER NOT NULL DEFAULT 0,
    direct_partner_id  INTEGER NOT NULL REFERENCES sc_partners (id),
    contact_id         INTEGER REFERENCES sc_users (id),
    created_at         INTEGER NOT NULL,
    modified_at        INTEGER NOT NULL,
    deleted_at         INTEGER
);
CREATE UNIQUE INDEX sc_clients_live_name ON sc_clients (name) WHERE deleted_at IS NULL;
CREATE INDEX sc_clients_live_by_partner ON sc_clients (direct_partner_id, id)
    WHERE deleted_at IS NULL;

-- Live clients per direct partner, kept by the triggers below, so that a list's `total` costs
-- one row per partner of the subtree instead of a count over all its clients.
CREATE TABLE sc_partner_live_clients (
    partner_id  INTEGER PRIMARY KEY,
    live        INTEGER NOT NULL DEFAULT 0
);
CREATE TRIGGER sc_clients_live_insert AFTER INSERT ON sc_clients
WHEN NEW.deleted_at IS NULL BEGIN
    INSERT OR IGNORE INTO sc_partner_live_clients (partner_id) VALUES (NEW.direct_partner_id);
    UPDATE sc_partner_live_clients SET live = live + 1 WHERE partner_id = NEW.direct_partner_id;
END;
CREATE TRIGGER sc_clients_live_delete AFTER DELETE ON sc_clients
WHEN OLD.deleted_at IS NULL BEGIN
    UPDATE sc_partner_live_clients SET live = live - 1 WHERE partner_id = OLD.direct_partner_id;
END;
CREATE TRIGGER sc_clients_live_update AFTER UPDATE OF deleted_at, direct_partner_id ON sc_clients
BEGIN
    UPDATE sc_partner_live_clients SET live = live - 1
        WHERE partner_id = OLD.direct_partner_id AND OLD.deleted_at IS NULL;
    INSERT OR IGNORE INTO sc_partner_live_clients (partner_id)
        SELECT NEW.direct_partner_id WHERE NEW.deleted_at IS NULL;
    UPDATE sc_partner_live_clients SET live = live + 1
        WHERE partner_id = NEW.direct_partner_id AND NEW.deleted_at IS NULL;
END;

------------------------------------------------------------------------------------------
-- Nueve09 (docs/nueve09.md): accounts log in with api_key + password (POST /auth/login) and fund
-- sub-clients (POST /clients), which are accounts themselves (parent_id set) and log in with
-- the API key created for them.
------------------------------------------------------------------------------------------

CREATE TABLE n09_accounts (
    id               TEXT    PRIMARY KEY,   -- uuid
    parent_id        TEXT    REFERENCES n09_accounts (id) ON DELETE CASCADE,  -- NULL: a seeded top-level account
    api_key_hash     BLOB    NOT NULL UNIQUE, -- SHA-256 of the api_key (it identifies the account);
                                              -- a sub-client's is the uuid shown once as api_client.name
    password_hash    TEXT    NOT NULL,        -- argon2id (a sub-client's api_key_password);
                                              -- a digest when generated (a tenant set's)
    name             TEXT    NOT NULL,
    alias            TEXT    NOT NULL,
    code             TEXT    NOT NULL,        -- a sub-client's code is its alias (Nueve09's example answer)
    entity_code      TEXT    NOT NULL DEFAULT '',
    email            TEXT    NOT NULL DEFAULT '',
    available_cents  INTEGER NOT NULL CHECK (available_cents >= 0),
    balance_cents    INTEGER NOT NULL DEFAULT 0,
    timezone         TEXT    NOT NULL DEFAULT 'America/Mexico_City',
    status           TEXT    NOT NULL DEFAULT 'ACTIVE',
    -- Kept by each create (same transaction) so that paging GET /clients needs no count(*).
    subclient_count  INTEGER NOT NULL DEFAULT 0,
    -- The rest of Nueve09's create form, each column named as its field; NULL for top-level
    -- accounts and for optional fields left out. api_key_password is only in password_hash.
    rfc                                             TEXT,
    phone                                           TEXT,
    mobile_phone                                    TEXT,
    street                                          TEXT,
    ext_street_number                               TEXT,
    int_street_number                               TEXT,
    suburb                                          TEXT,
    township                                        TEXT,
    city                                            TEXT,
    state                                           TEXT,  -- a code of the States Catalog, e.g. CDMX
    postal_code                                     TEXT,
    contact_name                                    TEXT,
    contact_second_name                             TEXT,
    contact_surname                                 TEXT,
    contact_second_surname                          TEXT,
    contact_email                                   TEXT,
    contact_telephone_country_code                  TEXT,
    contact_telephone                               TEXT,
    contact_mobile_phone_country_code               TEXT,
    contact_mobile_phone                            TEXT,
    legal_representative_name                       TEXT,
    legal_representative_second_name                TEXT,
    legal_representative_surname                    TEXT,
    legal_representative_second_surname             TEXT,
    legal_representative_email                      TEXT,
    legal_representative_telephone_country_code     TEXT,
    legal_representative_telephone                  TEXT,
    legal_representative_mobile_phone_country_code  TEXT,
    legal_representative_mobile_phone               TEXT,
    api_key_name                                    TEXT,
    api_key_description                             TEXT,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
);
-- GET /clients lists a parent's sub-clients in creation (rowid) order through this index.
CREATE INDEX n09_accounts_parent ON n09_accounts (parent_id);
-- Alias, RFC and API-key name are unique among one account's sub-clients (409 on a repeat);
-- NULL parents (top-level accounts) never collide.
CREATE UNIQUE INDEX n09_accounts_sub_alias ON n09_accounts (parent_id, alias COLLATE NOCASE);
CREATE UNIQUE INDEX n09_accounts_sub_rfc ON n09_accounts (parent_id, rfc COLLATE NOCASE);
CREATE UNIQUE INDEX n09_accounts_sub_api_key_name
    ON n09_accounts (parent_id, api_key_name COLLATE NOCASE);

-- The HS256 key that signs login tokens: 32 bytes from the OS generator, made once per
-- database on the first login, so tokens stay valid across restarts. It must be usable to
-- sign, so it cannot be hashed; a reset deletes it, which invalidates every token issued.
CREATE TABLE n09_signing_key (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    secret      BLOB    NOT NULL,
    created_at  INTEGER NOT NULL
);

------------------------------------------------------------------------------------------
-- MakeLeaps (docs/makeleaps.md): a partner gets OAuth2 client-credentials tokens and keeps clients,
-- each with its contacts (an organization and/or people). Ids are "mids": 19 random digits.
------------------------------------------------------------------------------------------

CREATE TABLE ml_partners (
    mid                 TEXT    PRIMARY KEY,  -- 19 digits
    name                TEXT    NOT NULL,
    client_id           TEXT    NOT NULL UNIQUE,
    client_secret_hash  TEXT    NOT NULL,     -- argon2id; a digest when generated
    -- Kept by the triggers below, so `meta.count` of a client list costs one row read, not
    -- a scan of the partner's clients (bench/README.md: list latency flat as records grow).
    client_count        INTEGER NOT NULL DEFAULT 0,
    created_at          INTEGER NOT NULL
);

-- Access tokens: 30 random characters given once, kept only as their SHA-256. Expired rows
-- are deleted whenever a new token is issued, so the table holds only live tokens.
CREATE TABLE ml_tokens (
    token_hash   BLOB    PRIMARY KEY,         -- SHA-256 of the access token
    partner_mid  TEXT    NOT NULL REFERENCES ml_partners (mid) ON DELETE CASCADE,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    revoked_at   INTEGER                      -- set by POST /user/oauth2/revoke-token/
) WITHOUT ROWID;
CREATE INDEX ml_tokens_expiry ON ml_tokens (expires_at);

-- A partner's clients. `seq` gives the list its stable creation order.
CREATE TABLE ml_clients (
    seq                  INTEGER PRIMARY KEY,
    mid                  TEXT    NOT NULL UNIQUE,
    partner_mid          TEXT    NOT NULL REFERENCES ml_partners (mid) ON DELETE CASCADE,
    client_external_id   TEXT    NOT NULL DEFAULT '',  -- the caller's own id; '' = none
    display_name         TEXT    NOT NULL,             -- derived from the contacts
    is_organization      INTEGER NOT NULL,             -- 1 when it has an organization contact
    -- Always one of the client's own contacts; deferred, because a client and its first
    -- contact are inserted in the same transaction.
    default_contact_mid  TEXT    NOT NULL
                         REFERENCES ml_contacts (mid) DEFERRABLE INITIALLY DEFERRED,
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL
);
CREATE INDEX ml_clients_partner ON ml_clients (partner_mid, seq);
-- SQLite checks a foreign key from the parent's side (inserting or deleting a contact) by
-- looking up the child column: without this index, every contact write would scan clients.
CREATE INDEX ml_clients_default_contact ON ml_clients (default_contact_mid);
-- client_external_id is unique per partner when given.
CREATE UNIQUE INDEX ml_clients_external_id ON ml_clients (partner_mid, client_external_id)
    WHERE client_external_id <> '';

CREATE TRIGGER ml_clients_counted AFTER INSERT ON ml_clients BEGIN
    UPDATE ml_partners SET client_count = client_count + 1 WHERE mid = NEW.partner_mid;
END;
CREATE TRIGGER ml_clients_uncounted AFTER DELETE ON ml_clients BEGIN
    UPDATE ml_partners SET client_count = client_count - 1 WHERE mid = OLD.partner_mid;
END;

-- A client's contacts, in the order the client lists them. Deleting a client deletes them.
CREATE TABLE ml_contacts (
    mid           TEXT    PRIMARY KEY,
    client_mid    TEXT    NOT NULL REFERENCES ml_clients (mid) ON DELETE CASCADE,
    partner_mid   TEXT    NOT NULL,           -- the client's, for /api/partner/{mid}/contact/{mid}/
    position      INTEGER NOT NULL,           -- 0-based place in the client's `contacts`
    contact_type  TEXT    NOT NULL CHECK (contact_type IN ('organization', 'person')),
    name          TEXT    NOT NULL DEFAULT '',
    family_name   TEXT    NOT NULL DEFAULT '',
    given_name    TEXT    NOT NULL DEFAULT '',
    title         TEXT    NOT NULL DEFAULT '',
    department    TEXT    NOT NULL DEFAULT '',
    phone_number  TEXT    NOT NULL DEFAULT '',
    email         TEXT,                       -- NULL: no e-mail (the seed's {"address": ""})
    addresses     TEXT    NOT NULL DEFAULT '[]', -- JSON array of address objects, as rendered
    created_at    INTEGER NOT NULL
);
CREATE INDEX ml_contacts_client ON ml_contacts (client_mid, position);

-- migration: 2

-- Mail: exactly once into an mbox, stable Message-IDs, and no usable token kept at rest.
--
-- Outbox ids are never reused (AUTOINCREMENT), not after a reset nor after the newest rows
-- were pruned: a mail's Message-ID is `<outbox-ID.TAG@domain>`, TAG being mail_identity's.
-- claimed_len is the size of the mbox entry about to be appended, set before the append and
-- cleared with the outcome: a restart looks for claimed rows at the end of the mbox.
-- secret_links lists which of `links` (by index) carry a one-time token, secret_until when
-- the last of those tokens expires; both are NULL once the stored copy was scrubbed.
CREATE TABLE mail_outbox_v2 (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    flavour         TEXT    NOT NULL,
    recipient       TEXT    NOT NULL,
    subject         TEXT    NOT NULL,
    text_body       TEXT    NOT NULL,
    html_body       TEXT,
    links           TEXT    NOT NULL DEFAULT '[]',  -- JSON array of the URLs in the mail
    status          TEXT    NOT NULL DEFAULT 'pending'
                            CHECK (status IN ('pending', 'sent', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error      TEXT,
    created_at      INTEGER NOT NULL,
    sent_at         INTEGER,
    claimed_len     INTEGER,
    secret_links    TEXT,                           -- JSON array of indices into links
    secret_until    INTEGER
);
INSERT INTO mail_outbox_v2 (id, flavour, recipient, subject, text_body, html_body, links,
                            status, attempts, next_attempt_at, last_error, created_at, sent_at)
    SELECT id, flavour, recipient, subject, text_body, html_body, links,
           status, attempts, next_attempt_at, last_error, created_at, sent_at
    FROM mail_outbox;
-- Mails queued before this step: the one-time links of that version were the first link of
-- an MX registration or ShieldConex welcome mail; their expiry is taken as the default 7 days.
UPDATE mail_outbox_v2 SET secret_links = '[0]', secret_until = created_at + 604800000
    WHERE links LIKE '["%/mx/dashboard/register/%' OR links LIKE '["%/shieldconex/welcome/%';
DROP TABLE mail_outbox;
ALTER TABLE mail_outbox_v2 RENAME TO mail_outbox;
CREATE INDEX mail_outbox_due ON mail_outbox (status, next_attempt_at);
CREATE INDEX mail_outbox_secret ON mail_outbox (secret_until) WHERE secret_links IS NOT NULL;

-- What makes this database's Message-IDs its own: random, made once (again after a reset).
CREATE TABLE mail_identity (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    tag  TEXT    NOT NULL
);
INSERT INTO mail_identity (id, tag) VALUES (1, lower(hex(randomblob(8))));

-- migration: 3

-- Each delivery attempt of a mail, for the console's mail page. A trigger writes it when
-- the sender counts an attempt, in the sender's own transaction, so no sender code path can
-- forget it. `at` is when a delivered mail left, or, for a failed attempt that will be
-- retried, when the next attempt is due; `error` is why an attempt failed.
CREATE TABLE mail_attempts (
    mail_id  INTEGER NOT NULL REFERENCES mail_outbox (id) ON DELETE CASCADE,
    attempt  INTEGER NOT NULL,          -- 1 for the first
    outcome  TEXT    NOT NULL CHECK (outcome IN ('sent', 'retry', 'failed')),
    at       INTEGER,
    error    TEXT,
    PRIMARY KEY (mail_id, attempt)
) WITHOUT ROWID;
CREATE TRIGGER mail_attempt_logged AFTER UPDATE OF attempts ON mail_outbox
WHEN NEW.attempts > OLD.attempts BEGIN
    INSERT OR REPLACE INTO mail_attempts (mail_id, attempt, outcome, at, error)
    VALUES (NEW.id, NEW.attempts,
            CASE NEW.status WHEN 'sent' THEN 'sent' WHEN 'failed' THEN 'failed' ELSE 'retry' END,
            CASE NEW.status WHEN 'sent' THEN NEW.sent_at
                            WHEN 'pending' THEN NEW.next_attempt_at END,
            CASE WHEN NEW.status = 'sent' THEN NULL ELSE NEW.last_error END);
END;

-- migration: 4

-- Deep list pages at the cost of a shallow one. Both vendors page by position (ShieldConex
-- `skip`, MakeLeaps `page`), which OFFSET answers by stepping over every earlier row: a page
-- in the middle of 100k clients cost 10 to 28 times the same page of 1k (bench/README.md).
-- These tables count a list's rows per bucket of 1,024 consecutive keys (`key >> 10`), kept
-- by triggers in the writing transaction like the totals above. A page at position P reads
-- the buckets in key order until their counts pass P, then starts at that bucket's first
-- key and steps over fewer than 1,024 rows. Rows whose count fell to 0 stay (harmless).

-- Live ShieldConex clients per direct partner and bucket of client ids (list order is id).
CREATE TABLE sc_client_buckets (
    partner_id  INTEGER NOT NULL,
    bucket      INTEGER NOT NULL,           -- id >> 10
    live        INTEGER NOT NULL,
    PRIMARY KEY (partner_id, bucket)
) WITHOUT ROWID;
INSERT INTO sc_client_buckets (partner_id, bucket, live)
    SELECT direct_partner_id, id >> 10, count(*) FROM sc_clients WHERE deleted_at IS NULL
    GROUP BY direct_partner_id, id >> 10;
CREATE TRIGGER sc_client_buckets_insert AFTER INSERT ON sc_clients
WHEN NEW.deleted_at IS NULL BEGIN
    INSERT INTO sc_client_buckets (partner_id, bucket, live)
        VALUES (NEW.direct_partner_id, NEW.id >> 10, 1)
        ON CONFLICT (partner_id, bucket) DO UPDATE SET live = live + 1;
END;
CREATE TRIGGER sc_client_buckets_delete AFTER DELETE ON sc_clients
WHEN OLD.deleted_at IS NULL BEGIN
    UPDATE sc_client_buckets SET live = live - 1
        WHERE partner_id = OLD.direct_partner_id AND bucket = OLD.id >> 10;
END;
CREATE TRIGGER sc_client_buckets_update AFTER UPDATE OF id, deleted_at, direct_partner_id
ON sc_clients BEGIN
    UPDATE sc_client_buckets SET live = live - 1
        WHERE partner_id = OLD.direct_partner_id AND bucket = OLD.id >> 10
          AND OLD.deleted_at IS NULL;
    INSERT INTO sc_client_buckets (partner_id, bucket, live)
        SELECT NEW.direct_partner_id, NEW.id >> 10, 1 WHERE NEW.deleted_at IS NULL
        ON CONFLICT (partner_id, bucket) DO UPDATE SET live = live + 1;
END;

-- MakeLeaps clients per partner and bucket of `seq` (list order is seq).
CREATE TABLE ml_client_buckets (
    partner_mid  TEXT    NOT NULL,
    bucket       INTEGER NOT NULL,          -- seq >> 10
    clients      INTEGER NOT NULL,
    PRIMARY KEY (partner_mid, bucket)
) WITHOUT ROWID;
INSERT INTO ml_client_buckets (partner_mid, bucket, clients)
    SELECT partner_mid, seq >> 10, count(*) FROM ml_clients GROUP BY partner_mid, seq >> 10;
CREATE TRIGGER ml_client_buckets_insert AFTER INSERT ON ml_clients BEGIN
    INSERT INTO ml_client_buckets (partner_mid, bucket, clients)
        VALUES (NEW.partner_mid, NEW.seq >> 10, 1)
        ON CONFLICT (partner_mid, bucket) DO UPDATE SET clients = clients + 1;
END;
CREATE TRIGGER ml_client_buckets_delete AFTER DELETE ON ml_clients BEGIN
    UPDATE ml_client_buckets SET clients = clients - 1
        WHERE partner_mid = OLD.partner_mid AND bucket = OLD.seq >> 10;
END;
CREATE TRIGGER ml_client_buckets_update AFTER UPDATE OF seq, partner_mid ON ml_clients BEGIN
    UPDATE ml_client_buckets SET clients = clients - 1
        WHERE partner_mid = OLD.partner_mid AND bucket = OLD.seq >> 10;
    INSERT INTO ml_client_buckets (partner_mid, bucket, clients)
        VALUES (NEW.partner_mid, NEW.seq >> 10, 1)
        ON CONFLICT (partner_mid, bucket) DO UPDATE SET clients = clients + 1;
END;

-- migration: 5

-- Deleting a tenant set finds its dashboard sessions by subject, as its links already are,
-- and the rows that refer to a deleted one by an index: without these, each deletion (and
-- each foreign-key check it makes) walked every token, client or partner of the database,
-- so a suite's tenant sets cost more the longer it ran. (None on sc_clients.direct_partner_id
-- alone: the planner would take it for client lists over sc_clients_live_by_partner; a
-- tenant set's clients go with it, so that table stays small in an isolated suite.)
CREATE INDEX sessions_subject ON sessions (purpose, subject_id);
CREATE INDEX ml_tokens_partner ON ml_tokens (partner_mid);
CREATE INDEX sc_clients_contact ON sc_clients (contact_id);
CREATE INDEX sc_partners_contact ON sc_partners (contact_id);

-- Conformance counts that outlive the request journal's ring (GET /_admin/conformance): per
-- tenant ('' when the request named none), flavour and rule, how many requests broke the
-- rule and how many of those were refused for it; and per tenant and flavour, how many
-- requests broke any rule. A reset empties them; deleting a tenant set deletes its tenants'.
CREATE TABLE conformance_counts (
    tenant   TEXT    NOT NULL,
    flavour  TEXT    NOT NULL,
    code     TEXT    NOT NULL,              -- the rule's stable code (mx.accept)
    count    INTEGER NOT NULL,
    refused  INTEGER NOT NULL,
    PRIMARY KEY (tenant, flavour, code)
) WITHOUT ROWID;
CREATE TABLE conformance_requests (
    tenant     TEXT    NOT NULL,
    flavour    TEXT    NOT NULL,
    deviating  INTEGER NOT NULL,
    PRIMARY KEY (tenant, flavour)
) WITHOUT ROWID;

-- migration: 6

-- (PostgreSQL only: the id triggers lock their table's id while they choose max + 1, now that
-- requests' writes run side by side there, SQLite's writes taking turns; and ShieldConex's
-- shared rate-limit windows, which SQLite keeps in memory, are counted in a few rows each.)
