// Types of clientele-server (index.js). The names mirror the Python package's.

export interface StartOptions {
  /** The binary to run. Default: $CLIENTELE_BINARY, else the platform package's. */
  binary?: string;
  /** Appended to `clientele serve ...`: `["--demo"]`, `["--link-ttl", "1h"]`. The last value of a repeated option wins. */
  args?: readonly string[];
  /** The admin API's bearer token. Default: a random one. */
  adminToken?: string;
  /** Added to this process's environment for the server. */
  env?: Readonly<Record<string, string>>;
  /** `--db`. Default `:memory:`. */
  db?: string;
  /** How long to wait for the readiness line, in ms. Default 30000. */
  startupTimeout?: number;
  /** `--fast-password-hashing`. Default: on, unless `args` or `env` give `--tls-cert` or an https `--public-url`, which the binary refuses it with. */
  fastPasswordHashing?: boolean;
}

/** Where a server listens and its admin token: what another process needs to attach to it. */
export interface ServerInfo {
  url: string;
  adminToken: string;
}

/** A fresh, isolated tenant per flavour (`POST /_admin/tenants`). */
export interface TenantSet {
  /** The set, for `deleteTenants(id)`. Unique on the server: derive server-wide unique names from it. */
  id: string;
  mx: { processor_id: string; api_key: string; authorization: string };
  shieldconex: {
    partner: { id: number; name: string };
    user: { id: number; userName: string; password: string };
    authorization: string;
  };
  nueve09: { account_id: string; api_key: string; password: string; available: number };
  makeleaps: { partner_mid: string; client_id: string; client_secret: string; authorization: string };
}

export type Flavour = "mx" | "shieldconex" | "nueve09" | "makeleaps";

/** One mail of the outbox (`GET /_admin/mail`). */
export interface Mail {
  id: number;
  flavour: Flavour;
  to: string;
  subject: string;
  text: string;
  /** The links found in the mail, in order. */
  links: string[];
  status: "pending" | "sent" | "failed";
  attempts: number;
  created: string;
  sent: string | null;
  error: string | null;
}

/** One entry of the request journal (`GET /_admin/requests`). */
export interface JournalEntry {
  id: number;
  at: string;
  method: string;
  path: string;
  query: string;
  status: number;
  flavour: Flavour | null;
  tenant: string | null;
  duration_ms: number;
  body: string | null;
  /** Deviations from the vendor's contract; `detail` names the field, for a rule that covers many. */
  conformance: Array<{ code: string; rule: string; source: string; refused: boolean; detail: string | null }>;
}

/** One example request of a conformance rule. */
export interface ConformanceExample {
  id: number;
  at: string;
  method: string;
  path: string;
  status: number;
  tenant: string | null;
  /** The field, for a rule that covers many (`isActive` for `shieldconex.type`). */
  detail?: string | null;
}

/** A deviation from a vendor's contract, summed up per rule (`GET /_admin/conformance`). */
export interface ConformanceRule {
  code: string;
  flavour: Flavour;
  rule: string;
  source: string;
  count: number;
  refused: number;
  first: ConformanceExample | null;
  last: ConformanceExample | null;
}

/** A fault rule (`POST /_admin/faults`): matching requests fail, slow down or lose their connection. */
export interface FaultRule {
  flavour?: Flavour;
  method?: string;
  /** Below the flavour's mount, `*` matching any run of characters: `/clients`, `/api/v1/clients/*`. */
  path?: string;
  status?: number;
  body?: string;
  delay_ms?: number;
  drop?: boolean;
  times?: number;
}

/** A fault rule as the server keeps it: what was not given is null. */
export interface Fault {
  id: number;
  flavour: Flavour | null;
  method: string | null;
  path: string | null;
  status: number | null;
  body: string | null;
  delay_ms: number | null;
  drop: boolean;
  times: number | null;
}

export interface Clock {
  now: string;
  offset_ms: number;
}

/** The server could not be started, or is not running. */
export class ServerError extends Error {}

/** An admin call answered with a status other than 2xx. */
export class AdminError extends Error {
  readonly method: string;
  /** Below `/_admin`: `/tenants/set-...`. */
  readonly path: string;
  readonly status: number;
  /** The answer's body as text (`{"error":"..."}`). */
  readonly body: string;
}

/** The admin API (`/_admin`) of a running server. A non-2xx answer rejects with AdminError. */
export class Admin {
  constructor(url: string, token: string);
  readonly url: string;
  readonly token: string;
  /** How many resets this handle made. */
  readonly resets: number;
  /** Deletes everything, then seeds again what startup seeded. */
  reset(): Promise<void>;
  seed(document: Record<string, unknown>): Promise<{ seeded: Record<string, Record<string, number>> }>;
  tenants(): Promise<TenantSet>;
  deleteTenants(id: string): Promise<void>;
  /** The outbox, oldest first; only the mails to `to` when given. */
  mail(filter?: { to?: string }): Promise<Mail[]>;
  /** Every link in those mails, in order. */
  links(filter?: { to?: string }): Promise<string[]>;
  /** The next `count` mail deliveries fail (and are retried). */
  failMail(count: number): Promise<void>;
  requests(filter?: { flavour?: Flavour; path?: string; since?: string; tenant?: string }): Promise<JournalEntry[]>;
  clearRequests(): Promise<void>;
  /** Deviations from the vendors' contracts, one per rule: end a test with `assert.deepEqual(await admin.conformance({ tenant }), [])`. */
  conformance(filter?: { tenant?: string; flavour?: Flavour; since?: string }): Promise<ConformanceRule[]>;
  /** Adds a fault rule; resolves to it with its `id`. */
  fault(rule: FaultRule): Promise<Fault>;
  faults(): Promise<Fault[]>;
  /** Removes one fault rule, or all. */
  clearFaults(id?: number): Promise<void>;
  clock(): Promise<Clock>;
  /** Moves the server's clock forward: `advanceClock("8d")` (s, m, h or d). */
  advanceClock(by: string): Promise<Clock>;
  /** `setClock("2030-01-01T00:00:00Z")`. */
  setClock(at: string): Promise<Clock>;
  /** Back to real time. */
  resetClock(): Promise<Clock>;
  /** Any other admin call: `METHOD /_admin{path}` with a JSON body; the decoded answer. */
  call(method: string, path: string, body?: unknown): Promise<unknown>;
  /** Closes its kept-alive connections. */
  close(): void;
}

/** A `clientele serve` process (or, attached, another process's server). */
export class Server implements ServerInfo {
  /** A handle on a server that another process runs. */
  static attach(info: ServerInfo): Server;
  /** `http://127.0.0.1:PORT`, without a trailing slash. Throws ServerError once stopped. */
  readonly url: string;
  readonly adminToken: string;
  readonly admin: Admin;
  readonly pid: number | undefined;
  /** The file the server's stderr goes to (removed by stop()). */
  readonly stderrPath: string | null;
  /** Set once the process has exited: its exit code, or the signal that ended it. */
  readonly exitCode: number | null;
  readonly exitSignal: string | null;
  running(): boolean;
  /** What the server wrote to stderr, from byte offset `since`. */
  stderr(since?: number): string;
  /**
   * Polls `predicate` (every `interval` ms, 50 by default) until it returns something
   * truthy other than an empty array, and resolves to that; rejects after `timeout` ms
   * (10000 by default).
   */
  waitUntil<T>(
    predicate: () => T | Promise<T>,
    options?: { timeout?: number; interval?: number },
  ): Promise<Exclude<T, null | undefined | false | 0 | "">>;
  /** SIGTERM (requests in flight finish), SIGKILL after `timeout` ms; the exit code. */
  stop(options?: { timeout?: number }): Promise<number | null>;
}

/**
 * Starts `clientele serve` on a free loopback port with an in-memory database, an admin
 * token and fast password hashing; resolves once it is ready. The server is killed when
 * this process exits, if `stop()` has not stopped it before.
 */
export function startServer(options?: StartOptions): Promise<Server>;

/** A handle on a running server from its URL and admin token (a vitest worker's, say). */
export function attachServer(info: ServerInfo): Server;

/** The clientele binary startServer() runs. */
export function findBinary(explicit?: string): string;
