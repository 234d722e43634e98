// A TypeScript suite's use of the package, which CI checks with `tsc --strict --noEmit`
// against the installed package's index.d.ts, then compiles and runs with node --test: a
// server for the file, a tenant set per test, and admin calls with the types they answer.
import assert from "node:assert/strict";
import { after, before, test, type TestContext } from "node:test";

import {
  AdminError,
  attachServer,
  startServer,
  type ConformanceRule,
  type Mail,
  type Server,
  type ServerInfo,
  type TenantSet,
} from "clientele-server";

let server: Server;

before(async () => {
  server = await startServer({ args: ["--link-ttl", "1h"], startupTimeout: 10_000 });
});
after(async () => {
  const code: number | null = await server.stop();
  assert.equal(code, 0);
});

async function tenantFor(t: TestContext): Promise<TenantSet> {
  const tenant = await server.admin.tenants();
  t.after(() => server.admin.deleteTenants(tenant.id));
  return tenant;
}

test("mx: an invitation is mailed with its link", async (t) => {
  const { mx, id } = await tenantFor(t);
  const email = `ada.${id}@example.com`;
  const reply = await fetch(`${server.url}/mx/clients`, {
    method: "POST",
    headers: {
      Authorization: mx.authorization,
      Accept: "application/vnd.mx.provisioning.v1+json",
      "Content-Type": "application/json",
    },
    body: JSON.stringify({ client: { company_name: "MX", email, first_name: "Ada", last_name: "Lee" } }),
  });
  assert.equal(reply.status, 200);

  const mails: Mail[] = await server.waitUntil(() => server.admin.mail({ to: email }));
  const subject: string = mails[0].subject;
  const [link]: string[] = await server.admin.links({ to: email });
  assert.ok(subject && link.startsWith(server.url));
  const rules: ConformanceRule[] = await server.admin.conformance({ tenant: mx.processor_id });
  assert.deepEqual(rules, []);
});

test("every admin call, typed", async (t) => {
  const tenant = await tenantFor(t);
  const partnerId: number = tenant.shieldconex.partner.id;
  const available: number = tenant.nueve09.available;
  const clientId: string = tenant.makeleaps.client_id;
  assert.ok(partnerId > 0 && available > 0 && clientId);

  const fault = await server.admin.fault({ flavour: "mx", path: "/clients", status: 503, times: 1 });
  const faultId: number = fault.id;
  await server.admin.clearFaults(faultId);
  assert.equal((await server.admin.faults()).length, 0);

  const moved = await server.admin.advanceClock("8d");
  const offset: number = moved.offset_ms;
  assert.ok(offset > 0);
  await server.admin.resetClock();

  const journal = await server.admin.requests({ flavour: "mx" });
  const statuses: number[] = journal.map((entry) => entry.status);
  assert.ok(Array.isArray(statuses));

  try {
    await server.admin.deleteTenants("set-none");
  } catch (error) {
    if (!(error instanceof AdminError)) throw error;
    const status: number = error.status;
    const body: string = error.body;
    assert.equal(status, 404, body);
  }

  // What a worker process gets from a global setup: the URL and the token.
  const info: ServerInfo = { url: server.url, adminToken: server.adminToken };
  const attached: Server = attachServer(info);
  const now: string = (await attached.admin.clock()).now;
  assert.ok(Date.parse(now) > 0);
});
