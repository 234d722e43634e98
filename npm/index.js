// clientele-server: run the `clientele` binary as a test fixture and drive its admin API.
//
// The names mirror the Python package (python/clientele/_server.py): a Server on a free
// loopback port, its `admin` handle (tenants, mail, links, conformance, faults, clock), and
// AdminError for a non-2xx admin answer. Only Node's standard library is used.

import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isMainThread } from "node:worker_threads";

import { PLATFORMS, binaryName, packageName } from "./lib/platforms.js";

const READY_PREFIX = "listening on ";
const require = createRequire(import.meta.url);

/** The server could not be started, or is not running. */
export class ServerError extends Error {
  constructor(message) {
    super(message);
    this.name = "ServerError";
  }
}

/** An admin call answered with a status other than 2xx. */
export class AdminError extends Error {
  constructor(method, path, status, body) {
    super(`${method} /_admin${path} answered ${status}: ${body}`);
    this.name = "AdminError";
    this.method = method;
    this.path = path;
    this.status = status;
    this.body = body;
  }
}

/**
 * The `clientele` executable to run: `explicit`; else $CLIENTELE_BINARY; else the one in
 * this platform's package (@clientele-server/<platform>-<arch>), which npm installed next to
 * this one. `clientele` on PATH is not tried: an unrelated tool of that name exists.
 */
export function findBinary(explicit) {
  if (explicit) return String(explicit);
  if (process.env.CLIENTELE_BINARY) return process.env.CLIENTELE_BINARY;
  const key = `${process.platform}-${process.arch}`;
  const platform = PLATFORMS[key];
  if (!platform) {
    throw new ServerError(
      `no clientele binary is published for ${key}: build one (cargo install clientele-server) ` +
        "and set CLIENTELE_BINARY to its path",
    );
  }
  const name = packageName(key);
  try {
    return require.resolve(`${name}/bin/${binaryName(platform.os)}`);
  } catch {
    throw new ServerError(
      `the clientele binary was not found: ${name} is not installed. npm installs it with ` +
        "clientele-server unless optional dependencies are left out (--omit=optional) or the " +
        "machine does not match its os, cpu or libc (a musl Linux, for instance). Reinstall, " +
        "or set CLIENTELE_BINARY to a clientele binary.",
    );
  }
}

// ---- the admin API ----------------------------------------------------------------------

function query(params) {
  const present = Object.entries(params ?? {}).filter(([, v]) => v !== undefined && v !== null && v !== "");
  return present.length ? `?${new URLSearchParams(present)}` : "";
}

/**
 * The admin API (`/_admin`) of a running server. Calls go over kept-alive connections: a
 * tenant set per test is two admin calls, and a new connection for each would cost more
 * than the server's work.
 */
export class Admin {
  constructor(url, token) {
    this.url = String(url).replace(/\/+$/, "");
    this.token = token;
    const parsed = new URL(this.url);
    this._module = parsed.protocol === "https:" ? https : http;
    this._prefix = parsed.pathname.replace(/\/+$/, "");
    // Node unrefs an agent's idle sockets, so they never keep a finished process alive.
    this._agent = new this._module.Agent({ keepAlive: true });
    /** How many resets this handle made: tenant sets made before one are gone. */
    this.resets = 0;
  }

  _exchange(method, path, body, retry) {
    const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const headers = { Authorization: `Bearer ${this.token}` };
    if (data) {
      headers["Content-Type"] = "application/json";
      headers["Content-Length"] = String(data.length);
    }
    return new Promise((resolve, reject) => {
      const request = this._module.request(
        `${this.url}/_admin${path}`,
        { method, headers, agent: this._agent, timeout: 30_000 },
        (reply) => {
          const chunks = [];
          reply.on("data", (chunk) => chunks.push(chunk));
          reply.on("end", () =>
            resolve({ status: reply.statusCode, text: Buffer.concat(chunks).toString("utf8") }),
          );
          reply.on("error", reject);
        },
      );
      request.on("timeout", () => request.destroy(new ServerError(`${method} /_admin${path}: no answer in 30 s`)));
      request.on("error", (error) => {
        // A kept-alive connection the server closed while it was idle (--idle-timeout): the
        // request never reached it, so send it once more on a new connection.
        const stale = request.reusedSocket && ["ECONNRESET", "EPIPE"].includes(error.code);
        if (stale && retry) resolve(this._exchange(method, path, body, false));
        else reject(error);
      });
      request.end(data);
    });
  }

  /** `METHOD /_admin{path}` with a JSON body; the decoded JSON answer. */
  async call(method, path, body) {
    const reply = await this._exchange(method, path, body, true);
    if (reply.status < 200 || reply.status > 299) {
      throw new AdminError(method, path, reply.status, reply.text);
    }
    return reply.text ? JSON.parse(reply.text) : null;
  }

  async reset() {
    this.resets += 1;
    await this.call("POST", "/reset");
  }

  seed(document) {
    return this.call("POST", "/seed", document);
  }

  tenants() {
    return this.call("POST", "/tenants");
  }

  async deleteTenants(id) {
    await this.call("DELETE", `/tenants/${encodeURIComponent(id)}`);
  }

  async mail({ to } = {}) {
    return (await this.call("GET", `/mail${query({ to })}`)).messages;
  }

  async links({ to } = {}) {
    return (await this.mail({ to })).flatMap((message) => message.links ?? []);
  }

  async failMail(count) {
    await this.call("POST", "/mail/failures", { count });
  }

  async requests({ flavour, path, since, tenant } = {}) {
    return (await this.call("GET", `/requests${query({ flavour, path, since, tenant })}`)).requests;
  }

  async clearRequests() {
    await this.call("DELETE", "/requests");
  }

  async conformance({ tenant, flavour, since } = {}) {
    return (await this.call("GET", `/conformance${query({ tenant, flavour, since })}`)).rules;
  }

  fault(rule) {
    return this.call("POST", "/faults", rule);
  }

  async faults() {
    return (await this.call("GET", "/faults")).faults;
  }

  async clearFaults(id) {
    await this.call("DELETE", id === undefined ? "/faults" : `/faults/${encodeURIComponent(id)}`);
  }

  clock() {
    return this.call("GET", "/clock");
  }

  advanceClock(by) {
    return this.call("POST", "/clock", { advance: by });
  }

  setClock(at) {
    return this.call("POST", "/clock", { set: at });
  }

  resetClock() {
    return this.call("DELETE", "/clock");
  }

  /** Closes the kept-alive connections. */
  close() {
    this._agent.destroy();
  }
}

// ---- servers this process started, stopped when it ends ---------------------------------

const live = new Set();
let hooked = false;

// A server outlives nothing: when this process ends, however it ends short of SIGKILL, its
// servers are killed too. `exit` covers the end of the event loop, process.exit() and an
// uncaught exception; SIGINT, SIGTERM and SIGHUP would end the process without `exit`.
function hookProcessExit() {
  if (hooked) return;
  hooked = true;
  process.on("exit", killAll);
  // Signal listeners are the main thread's only (a worker gets no signals).
  if (!isMainThread) return;
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
    const onSignal = () => {
      killAll();
      // Alone, our listener would swallow the signal: give it back its default effect. With
      // other listeners, the program has its own plans for the signal.
      if (process.listenerCount(signal) === 1) {
        process.removeListener(signal, onSignal);
        process.kill(process.pid, signal);
      }
    };
    process.on(signal, onSignal);
  }
}

function killAll() {
  for (const server of live) server._killNow();
}

function marksDeployment(args, env) {
  // What makes the binary refuse --fast-password-hashing: --tls-cert, or an https
  // --public-url, from the arguments (last one wins) or the environment.
  let tls = Boolean(env.CLIENTELE_TLS_CERT);
  let publicUrl = env.CLIENTELE_PUBLIC_URL ?? "";
  args.forEach((arg, i) => {
    const [name, ...rest] = arg.split("=");
    const value = rest.length ? rest.join("=") : (args[i + 1] ?? "");
    if (name === "--tls-cert") tls = true;
    if (name === "--public-url") publicUrl = value;
  });
  return tls || publicUrl.trim().toLowerCase().startsWith("https:");
}

/**
 * A `clientele serve` process on a free loopback port with an in-memory database. Made by
 * startServer(); stop it with `await server.stop()`.
 */
export class Server {
  constructor(options = {}) {
    this.options = options;
    this.adminToken = options.adminToken ?? randomBytes(24).toString("hex");
    this.stderrPath = null;
    this.exitCode = null;
    this.exitSignal = null;
    this._url = null;
    this._admin = null;
    this._child = null;
    this._workdir = null;
    this._stopping = null;
  }

  /** A handle on a server that another process runs (a vitest global setup's, say). */
  static attach({ url, adminToken }) {
    const server = new Server({ adminToken });
    server._url = String(url).replace(/\/+$/, "");
    return server;
  }

  async start() {
    if (this._url !== null || this._child !== null) throw new ServerError("the server is already started");
    const options = this.options;
    const binary = findBinary(options.binary);
    // The token goes through the environment, not the command line, which `ps` shows to
    // every user of the machine.
    const env = { ...process.env, ...options.env, CLIENTELE_ADMIN_TOKEN: this.adminToken };
    // On Linux the kernel stops the server when this process ends even by SIGKILL, which no
    // exit handler here sees.
    if (process.platform === "linux") env.CLIENTELE_STOP_WITH_PARENT = "1";
    const args = [...(options.args ?? [])];
    this._workdir = mkdtempSync(join(tmpdir(), "clientele-"));
    this.stderrPath = join(this._workdir, "stderr.log");
    const command = [
      "serve",
      // OPTION=VALUE: a value that starts with "-" must not be read as an option.
      "--listen=127.0.0.1:0",
      `--db=${options.db ?? ":memory:"}`,
      `--mail=mbox:${join(this._workdir, "clientele.mbox")}`,
    ];
    if (options.fastPasswordHashing ?? !marksDeployment(args, env)) {
      command.push("--fast-password-hashing");
    }
    command.push(...args);
    // stderr (a line per request) goes to a file, never to a pipe: a pipe nobody reads
    // fills up and stalls the server, and a file costs this process nothing.
    const stderrFd = openSync(this.stderrPath, "w");
    let child;
    try {
      child = spawn(binary, command, { stdio: ["ignore", "pipe", stderrFd], env, windowsHide: true });
    } finally {
      closeSync(stderrFd);
    }
    this._child = child;
    live.add(this);
    hookProcessExit();
    child.on("exit", (code, signal) => {
      this.exitCode = code ?? null;
      this.exitSignal = signal ?? null;
      live.delete(this);
    });
    try {
      this._url = await this._awaitReady(child, options.startupTimeout ?? 30_000);
    } catch (error) {
      await this.stop();
      throw error;
    }
    // Ready: from here on the server must not keep this process alive. A test file whose
    // tests are done ends, and the `exit` hook kills the server.
    child.stdout.resume();
    child.stdout.unref?.();
    child.unref();
    return this;
  }

  _awaitReady(child, timeoutMs) {
    return new Promise((resolve, reject) => {
      let buffered = "";
      const done = (error, url) => {
        clearTimeout(timer);
        child.stdout.off("data", onData);
        child.off("exit", onExit);
        child.off("error", onError);
        if (error) reject(error);
        else resolve(url);
      };
      const onData = (chunk) => {
        buffered += chunk.toString("utf8");
        const end = buffered.indexOf("\n");
        if (end < 0) return;
        const line = buffered.slice(0, end).trim();
        if (line.startsWith(READY_PREFIX)) done(null, line.slice(READY_PREFIX.length).replace(/\/+$/, ""));
        else done(new ServerError(`clientele did not start (stdout ${JSON.stringify(line)})${this._stderrTail()}`));
      };
      const onExit = (code, signal) =>
        done(new ServerError(`clientele did not start (exit code ${code ?? signal})${this._stderrTail()}`));
      const onError = (error) => done(new ServerError(`cannot run ${child.spawnfile}: ${error.message}`));
      const timer = setTimeout(
        () => done(new ServerError(`clientele printed no readiness line within ${timeoutMs} ms${this._stderrTail()}`)),
        timeoutMs,
      );
      child.stdout.on("data", onData);
      child.once("exit", onExit);
      child.once("error", onError);
    });
  }

  /**
   * Stops the server: SIGTERM (it finishes the requests in flight), then SIGKILL after
   * `timeout` ms. Resolves to its exit code (null when a signal ended it).
   */
  stop({ timeout = 10_000 } = {}) {
    this._stopping ??= this._stop(timeout);
    return this._stopping;
  }

  async _stop(timeout) {
    const child = this._child;
    if (child && child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      // Waiting for the exit must keep this process alive, or it could end first.
      child.ref();
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      let timer;
      const late = new Promise((resolve) => (timer = setTimeout(resolve, timeout, "late")));
      if ((await Promise.race([exited, late])) === "late") {
        child.kill("SIGKILL");
        await exited;
      }
      clearTimeout(timer);
    }
    live.delete(this);
    this._admin?.close();
    this._url = null;
    this._removeWorkdir();
    return this.exitCode;
  }

  _killNow() {
    // In an `exit` hook nothing can be awaited: the server is killed outright.
    if (this._child && this._child.exitCode === null && this._child.signalCode === null) {
      this._child.kill("SIGKILL");
    }
    this._removeWorkdir();
  }

  _removeWorkdir() {
    if (this._workdir) {
      rmSync(this._workdir, { recursive: true, force: true });
      this._workdir = null;
    }
  }

  /** `http://127.0.0.1:PORT`, without a trailing slash. */
  get url() {
    if (this._url === null) throw new ServerError("the server is not running");
    return this._url;
  }

  /** The admin API: one handle per server, its kept-alive connections shared. */
  get admin() {
    if (this._admin === null || this._admin.url !== this.url) {
      this._admin = new Admin(this.url, this.adminToken);
    }
    return this._admin;
  }

  get pid() {
    return this._child?.pid;
  }

  /** True while the process this object started is alive (attached: until stopped). */
  running() {
    if (this._child) return this._child.exitCode === null && this._child.signalCode === null;
    return this._url !== null;
  }

  /** What the server wrote to stderr (one line per request), from byte offset `since`. */
  stderr(since = 0) {
    if (!this.stderrPath || !this._workdir) return "";
    try {
      return readFileSync(this.stderrPath).subarray(since).toString("utf8");
    } catch {
      return "";
    }
  }

  _stderrTail(limit = 4000) {
    const text = this.stderr();
    return text ? `\n--- clientele stderr ---\n${text.slice(-limit)}` : "";
  }

  /**
   * Polls `predicate()` (which may return a promise) until it gives something truthy, and
   * resolves to that. An empty array counts as nothing yet, as in Python, so that
   * `waitUntil(() => server.admin.mail({ to }))` waits for a mail.
   */
  async waitUntil(predicate, { timeout = 10_000, interval = 50 } = {}) {
    const deadline = Date.now() + timeout;
    for (;;) {
      const value = await predicate();
      if (value && !(Array.isArray(value) && value.length === 0)) return value;
      if (Date.now() > deadline) throw new Error(`still false after ${timeout} ms`);
      await new Promise((resolve) => setTimeout(resolve, interval));
    }
  }
}

/** Starts a server on a free loopback port and resolves once it is ready. */
export async function startServer(options) {
  return new Server(options).start();
}

/** A handle on a running server from its URL and admin token (no process of its own). */
export function attachServer(info) {
  return Server.attach(info);
}
