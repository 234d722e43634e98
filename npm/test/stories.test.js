// One story per flavour against the server test/run.js shares, a tenant set per test, as
// docs/fixture.md shows it. Tests run concurrently (several files at once, and the tests of
// this file too): the counts asserted below hold only if no test sees another's data.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { AdminError, attachServer } from "clientele-server";

const server = attachServer({ url: process.env.CLIENTELE_URL, adminToken: process.env.CLIENTELE_ADMIN_TOKEN });

/** A tenant set for this test only, deleted when it ends. */
async function tenantFor(t) {
  const tenant = await server.admin.tenants();
  t.after(() => server.admin.deleteTenants(tenant.id));
  return tenant;
}

/** A suffix no other test's tenant set has (some names are unique server-wide). */
const unique = (tenant) => tenant.id.replace("set-", "");

const MX_ACCEPT = "application/vnd.mx.provisioning.v1+json";

async function call(method, path, { headers = {}, json, form } = {}) {
  const init = { method, headers: { ...headers }, redirect: "manual" };
  if (json !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(json);
  } else if (form !== undefined) {
    init.body = new URLSearchParams(form);
  }
  const reply = await fetch(path.startsWith("http") ? path : `${server.url}${path}`, init);
  const text = await reply.text();
  return { status: reply.status, headers: reply.headers, text, json: () => JSON.parse(text) };
}

describe("a story per flavour", { concurrency: true }, () => {
  for (const round of [1, 2, 3]) {
    test(`mx: an invited client is mailed a link that opens the registration (${round})`, async (t) => {
      const tenant = await tenantFor(t);
      const { mx } = tenant;
      const email = `john.${unique(tenant)}@example.com`;
      const created = await call("POST", "/mx/clients", {
        headers: { Authorization: mx.authorization, Accept: MX_ACCEPT },
        json: { client: { company_name: "MX", email, first_name: "John", last_name: "Foo" } },
      });
      assert.equal(created.status, 200, created.text);

      const mails = await server.waitUntil(() => server.admin.mail({ to: email }));
      assert.equal(mails.length, 1);
      assert.match(mails[0].text, /^Hello John,/);
      const links = await server.admin.links({ to: email });
      assert.equal(links.length, 1);
      assert.ok(links[0].startsWith(`${server.url}/mx/dashboard/register/`), links[0]);
      const page = await call("GET", links[0]);
      assert.equal(page.status, 200);
      assert.match(page.headers.get("content-type"), /text\/html/);

      // The journal shows the call under this test's processor only.
      const mine = (await server.admin.requests({ flavour: "mx", path: "/mx/clients" })).filter(
        (entry) => entry.tenant === mx.processor_id,
      );
      assert.deepEqual(mine.map((e) => [e.method, e.status]), [["POST", 200]]);
      assert.deepEqual(await server.admin.conformance({ tenant: mx.processor_id }), []);
    });

    test(`shieldconex: a client is created and read back (${round})`, async (t) => {
      const tenant = await tenantFor(t);
      const sc = tenant.shieldconex;
      const tag = unique(tenant);
      const auth = { Authorization: sc.authorization };
      const created = await call("POST", "/shieldconex/api/v1/clients", {
        headers: auth,
        json: {
          name: `Client ${tag}`,
          isActive: true,
          directPartner: sc.partner,
          contact: { firstName: "Ana", lastName: "Lopez", email: `ana.${tag}@example.com`,
                     userName: `ana.${tag}@example.com`, phone: "+14155550123" },
        },
      });
      assert.equal(created.status, 200, created.text);
      const id = created.json().id;

      const detail = await call("GET", `/shieldconex/api/v1/clients/${id}`, { headers: auth });
      assert.equal(detail.status, 200, detail.text);
      assert.equal(detail.json().name, `Client ${tag}`);
      assert.equal(detail.json().directPartner.id, sc.partner.id);

      const listed = await call("GET", `/shieldconex/api/v1/clients?partner=${sc.partner.id}`, { headers: auth });
      assert.equal(listed.status, 200, listed.text);
      assert.deepEqual(listed.json().data.map((c) => c.id), [id], "only this test's client");
    });

    test(`nueve09: funding a sub-client moves the balance (${round})`, async (t) => {
      const { nueve09 } = await tenantFor(t);
      const login = async () => {
        const reply = await call("POST", "/nueve09/auth/login", {
          json: { api_client: { api_key: nueve09.api_key, password: nueve09.password } },
        });
        assert.equal(reply.status, 200, reply.text);
        return reply;
      };
      const first = await login();
      assert.equal(first.json().data.client.available, 100000);
      const token = first.headers.get("authorization");

      const created = await call("POST", "/nueve09/clients", { headers: { Authorization: token }, json: subClient() });
      assert.equal(created.status, 200, created.text);
      assert.equal(created.json().data.subclient.available, 1000);

      // Debited once, by this test only.
      assert.equal((await login()).json().data.client.available, 99000);
      const listed = await call("GET", "/nueve09/clients", { headers: { Authorization: token } });
      assert.equal(listed.status, 200, listed.text);
      assert.match(listed.text, /NOENT/);
    });

    test(`makeleaps: a token, then a client created and read back (${round})`, async (t) => {
      const { makeleaps } = await tenantFor(t);
      const token = await call("POST", "/makeleaps/user/oauth2/token/", {
        headers: { Authorization: makeleaps.authorization },
        form: { grant_type: "client_credentials" },
      });
      assert.equal(token.status, 200, token.text);
      assert.equal(token.json().token_type.toLowerCase(), "bearer");
      const bearer = { Authorization: `Bearer ${token.json().access_token}` };

      const partner = makeleaps.partner_mid;
      const created = await call("POST", `/makeleaps/api/partner/${partner}/client/`, {
        headers: bearer,
        json: {
          client_external_id: "CLIENT-1",
          contacts: [{ contact_type: "organization", name: "Example Co", addresses: [], email: null }],
        },
      });
      assert.equal(created.status, 201, created.text);
      const client = created.json().response;
      assert.equal(created.headers.get("location"), client.url);

      const read = await call("GET", client.url, { headers: bearer });
      assert.equal(read.status, 200, read.text);
      assert.equal(read.json().response.display_name, "Example Co");
      const listed = await call("GET", `/makeleaps/api/partner/${partner}/client/`, { headers: bearer });
      assert.deepEqual(listed.json().response.map((c) => c.mid), [client.mid]);
    });
  }
});

test("the conformance report names what the vendor would refuse", async (t) => {
  const tenant = await tenantFor(t);
  const { mx } = tenant;
  const body = { client: { company_name: "MX", email: `c.${unique(tenant)}@example.com`, first_name: "C", last_name: "D" } };
  // Without MX's versioned Accept header the vendor answers 406, and so does Clientele.
  const refused = await call("POST", "/mx/clients", { headers: { Authorization: mx.authorization }, json: body });
  assert.equal(refused.status, 406, refused.text);
  const rules = await server.admin.conformance({ tenant: mx.processor_id });
  assert.deepEqual(rules.map((r) => [r.code, r.count, r.refused]), [["mx.accept", 1, 1]]);
});

test("an admin error is thrown with its status and body", async () => {
  const other = await server.admin.tenants();
  await server.admin.deleteTenants(other.id);
  const gone = await server.admin.deleteTenants(other.id).then(
    () => assert.fail("a deleted set was deleted again"),
    (error) => error,
  );
  assert.ok(gone instanceof AdminError, String(gone));
  assert.equal(gone.status, 404);
  assert.equal(gone.method, "DELETE");
  assert.ok("error" in JSON.parse(gone.body), gone.body);

  const wrong = await server.admin.fault({ status: 99 }).catch((error) => error);
  assert.ok(wrong instanceof AdminError && wrong.status === 400, String(wrong));
});

function subClient() {
  return {
    name: "Noentiendo", alias: "NOENT", email: "noent@example.com", available: 1000,
    phone: "5555555555", mobile_phone: "6666666666", rfc: "AAMM9001010A1",
    street: "Av. Siempre", ext_street_number: "1234", int_street_number: "Apt.4",
    suburb: "Nápoles", township: "Benito Juarez", city: "CDMX", state: "CDMX",
    postal_code: "55555", contact_name: "Juan", contact_second_name: "Alberto",
    contact_surname: "Perea", contact_second_surname: "Perez",
    contact_email: "juan@example.com", contact_telephone_country_code: 52,
    contact_telephone: "5555555555", contact_mobile_phone_country_code: 52,
    contact_mobile_phone: "6666666666", legal_representative_name: "Iman",
    legal_representative_second_name: "Hora", legal_representative_surname: "Martinez",
    legal_representative_second_surname: "Martinez",
    legal_representative_email: "iman@example.com",
    legal_representative_telephone_country_code: 52,
    legal_representative_telephone: "5555555555",
    legal_representative_mobile_phone_country_code: 52,
    legal_representative_mobile_phone: "6666666666",
    api_key_name: "SUB_CLIENT_ACCESS", api_key_description: "Subclient Api Key",
    api_key_password: "12345",
  };
}
