// The package's own promises about processes: servers side by side, a stop that lets
// requests in flight finish, no server outliving the process that started it, a startup
// failure that says why, and the `clientele` command on npx. Each test starts its own
// servers (the shared one of test/run.js is not touched).
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { test } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";

import { ServerError, startServer } from "clientele-server";

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const packageDir = dirname(require.resolve("clientele-server/package.json"));
const MX_ACCEPT = "application/vnd.mx.provisioning.v1+json";

function createMxClient(url, tenant, email) {
  return fetch(`${url}/mx/clients`, {
    method: "POST",
    headers: { Authorization: tenant.mx.authorization, Accept: MX_ACCEPT, "Content-Type": "application/json" },
    body: JSON.stringify({ client: { company_name: "MX", email, first_name: "Ada", last_name: "Lee" } }),
  });
}

/** Resolves to the error code of a connection to `url` (ECONNREFUSED once nothing listens). */
async function connectionError(url) {
  try {
    await fetch(`${url}/healthz`);
    return "connected";
  } catch (error) {
    return error.cause?.code ?? String(error);
  }
}

/** Whether process `pid` is gone: no such process, or a zombie waiting for its new parent. */
function gone(pid) {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return error.code === "ESRCH";
  }
  try {
    // /proc/PID/stat: "PID (comm) STATE ..."; a reparented child can stay a zombie (Z)
    // under an init that does not reap, which is dead all the same.
    return readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.startsWith("Z") ?? false;
  } catch {
    return true;
  }
}

async function eventually(what, predicate, { tries = 100, interval = 50 } = {}) {
  for (let i = 0; i < tries; i += 1) {
    if (await predicate()) return;
    await new Promise((resolve) => setTimeout(resolve, interval));
  }
  assert.fail(`still not ${what} after ${tries} tries`);
}

test("two servers side by side keep apart", async () => {
  const [a, b] = await Promise.all([startServer(), startServer()]);
  try {
    assert.notEqual(a.url, b.url);
    assert.notEqual(a.pid, b.pid);
    const [tenantA, tenantB] = await Promise.all([a.admin.tenants(), b.admin.tenants()]);

    assert.equal((await createMxClient(a.url, tenantA, "ada@example.com")).status, 200);
    // A's tenant is unknown to B, and B's fault does not reach A.
    assert.equal((await createMxClient(b.url, tenantA, "ada@example.com")).status, 401);
    await b.admin.fault({ flavour: "mx", path: "/clients", status: 503 });
    assert.equal((await createMxClient(b.url, tenantB, "bob@example.com")).status, 503);
    assert.equal((await createMxClient(a.url, tenantA, "cy@example.com")).status, 200);
    assert.deepEqual(await b.admin.mail(), []);
    assert.equal((await a.admin.mail()).length, 2);

    // The admin token is not on the command line, which every user of the machine can read.
    if (existsSync(`/proc/${a.pid}/cmdline`)) {
      assert.ok(!readFileSync(`/proc/${a.pid}/cmdline`, "utf8").includes(a.adminToken));
    }

    // Each logs its own requests to its own stderr file.
    assert.match(a.stderr(), /\/mx\/clients/);
    assert.notEqual(a.stderrPath, b.stderrPath);

    const bUrl = b.url;
    assert.equal(await b.stop(), 0);
    assert.equal(await connectionError(bUrl), "ECONNREFUSED");
    assert.equal((await fetch(`${a.url}/healthz`)).status, 200, "A serves on");
  } finally {
    await Promise.all([a.stop(), b.stop()]);
  }
});

test("stop() lets the requests in flight finish, then nothing listens", async () => {
  const server = await startServer();
  const tenant = await server.admin.tenants();
  const slow = await server.admin.fault({ flavour: "mx", method: "POST", path: "/clients", delay_ms: 1500, times: 3 });
  const url = server.url;
  const inFlight = [1, 2, 3].map((n) => createMxClient(url, tenant, `late${n}@example.com`));
  // The rule counts down as requests match it, before their delay: at 0, all three are in
  // the server, held there for 1.5 s.
  await server.waitUntil(async () => !(await server.admin.faults()).some((f) => f.id === slow.id && f.times > 0));

  const code = await server.stop();
  assert.equal(code, 0, "a clean exit");
  const answers = await Promise.all(inFlight);
  assert.deepEqual(answers.map((r) => r.status), [200, 200, 200], "every request in flight was answered");
  assert.equal(server.running(), false);
  assert.throws(() => server.url, ServerError);
  assert.equal(await connectionError(url), "ECONNREFUSED");
  assert.equal(existsSync(dirname(server.stderrPath)), false, "its temporary folder is removed");
});

for (const [mode, expected] of [
  ["end", { code: 0 }],
  ["exit", { code: 3 }],
  ["throw", { code: 1 }],
  ["SIGTERM", { signal: "SIGTERM" }],
  ["SIGINT", { signal: "SIGINT" }],
  ["SIGHUP", { signal: "SIGHUP" }],
  // No handler of the program runs: the kernel's parent-death signal stops the server.
  ["SIGKILL", { signal: "SIGKILL" }],
]) {
  test(`a process that ends without stop() (${mode}) leaves no server behind`, async () => {
    const child = spawn(
      process.execPath,
      [join(here, "fixtures", "leave-running.js"), mode.startsWith("SIG") ? "wait" : mode],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let stderr = "";
    child.stderr.on("data", (chunk) => (stderr += chunk));
    const exited = once(child, "exit");
    const lines = createInterface({ input: child.stdout });
    const [line] = await Promise.race([
      once(lines, "line"),
      exited.then(() => assert.fail(`the program ended before its server started: ${stderr}`)),
    ]);
    const started = JSON.parse(line);
    if (mode.startsWith("SIG")) {
      assert.equal(gone(started.pid), false, "the server runs while its program waits");
      child.kill(mode);
    }

    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    const [code, signal] = await exited;
    clearTimeout(timer);
    assert.deepEqual(expected.signal ? { signal } : { code }, expected, stderr);

    await eventually("gone", () => gone(started.pid));
    assert.equal(await connectionError(started.url), "ECONNREFUSED");
    if (mode !== "SIGKILL") {
      // A killed program removes nothing; its folder is left in the system's temporary one.
      assert.equal(existsSync(dirname(started.stderrPath)), false, "its temporary folder is removed");
    }
  });
}

test("a server that cannot start is a ServerError that quotes its stderr", async () => {
  const error = await startServer({ args: ["--link-ttl", "forever"] }).catch((e) => e);
  assert.ok(error instanceof ServerError, String(error));
  assert.match(error.message, /did not start/);
  assert.match(error.message, /--- clientele stderr ---\n.*link-ttl/s);
});

test("`clientele` runs on npx and through the package's launcher", async (t) => {
  const { version } = JSON.parse(readFileSync(join(packageDir, "package.json"), "utf8"));
  // The scratch project that installed the package: where node_modules is.
  const project = dirname(dirname(packageDir));
  const npx = await promisify(execFile)("npx", ["--no-install", "clientele", "--version"], { cwd: project });
  assert.match(npx.stdout, new RegExp(`^clientele ${version.replaceAll(".", "\\.")}\\b`));

  // The launcher passes the readiness line through and hands a SIGTERM on to the server.
  const dir = mkdtempSync(join(tmpdir(), "clientele-launcher-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const launcher = spawn(
    process.execPath,
    [join(packageDir, "bin", "clientele.js"), "serve", "--listen", "127.0.0.1:0", "--db", ":memory:", "--mail", `mbox:${dir}/mail.mbox`],
    { stdio: ["ignore", "pipe", "ignore"] },
  );
  const exited = once(launcher, "exit");
  const [line] = await once(createInterface({ input: launcher.stdout }), "line");
  const url = line.replace(/^listening on /, "");
  assert.equal((await fetch(`${url}/healthz`)).status, 200);
  launcher.kill("SIGTERM");
  assert.deepEqual(await exited, [0, null]);
  assert.equal(await connectionError(url), "ECONNREFUSED");
});

test("the installed packages run no install script, carry one binary and the licences", async () => {
  const main = JSON.parse(readFileSync(join(packageDir, "package.json"), "utf8"));
  const { PLATFORMS, packageName } = await import(pathToFileURL(join(packageDir, "lib", "platforms.js")));
  assert.deepEqual(
    Object.keys(main.optionalDependencies).sort(),
    Object.keys(PLATFORMS).map(packageName).sort(),
  );
  const installed = Object.keys(PLATFORMS).map(packageName).filter((name) => {
    try {
      require.resolve(`${name}/package.json`);
      return true;
    } catch {
      return false;
    }
  });
  assert.deepEqual(installed, [packageName(`${process.platform}-${process.arch}`)], "this machine's only");
  const platform = JSON.parse(readFileSync(require.resolve(`${installed[0]}/package.json`), "utf8"));
  for (const manifest of [main, platform]) {
    for (const script of ["preinstall", "install", "postinstall"]) {
      assert.equal(manifest.scripts?.[script], undefined, `${manifest.name} has no ${script} script`);
    }
  }
  assert.equal(platform.version, main.version);
  for (const dir of [packageDir, dirname(require.resolve(`${installed[0]}/package.json`))]) {
    for (const licence of ["LICENSE-MIT", "LICENSE-APACHE"]) {
      assert.ok(existsSync(join(dir, licence)), `${dir} carries ${licence}`);
    }
  }
});
