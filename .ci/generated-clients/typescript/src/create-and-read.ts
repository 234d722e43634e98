// A create and a read in every flavour through openapi-fetch, typed by openapi-typescript from
// the served documents (src/generated/<flavour>.ts, written by .ci/run), used as generated:
// `node dist/create-and-read.js BASE_URL`. .ci/run compiles it with `tsc --strict --noEmit`
// first, so a document that types a call wrongly (a required field that has a default, an id
// of another type in the read, a payload possibly undefined) fails before anything runs.
import createClient from "openapi-fetch";
import type { paths as Mx } from "./generated/mx.js";
import type { paths as ShieldConex } from "./generated/shieldconex.js";
import type { paths as Nueve09 } from "./generated/nueve09.js";
import type { paths as MakeLeaps } from "./generated/makeleaps.js";

const basic = (user: string, secret: string): string => `Basic ${btoa(`${user}:${secret}`)}`;
const tag = (): string => Math.random().toString(36).slice(2, 8).toUpperCase();

function check(condition: boolean, what: string): asserts condition {
  if (!condition) throw new Error(what);
}

/** The success body of an openapi-fetch answer, or a failure that shows the answer. */
function ok<T>(answer: { data?: T; error?: unknown; response: Response }, what: string): T {
  if (answer.data === undefined) {
    throw new Error(`${what}: ${answer.response.status} ${JSON.stringify(answer.error)}`);
  }
  return answer.data;
}

async function mx(base: string): Promise<void> {
  // The demo processor. Accept is a required header parameter: the types make the call pass it.
  const client = createClient<Mx>({
    baseUrl: `${base}/mx`,
    headers: { Authorization: basic("PROCESSOR-1234", "API-KEY-4567") },
  });
  const created = await client.POST("/clients", {
    params: { header: { Accept: "application/vnd.mx.provisioning.v1+json" } },
    body: {
      client: {
        company_name: "Generated Co",
        email: `ts-${tag().toLowerCase()}@example.com`,
        first_name: "Type",
        last_name: "Script",
      },
    },
  });
  check(created.response.status === 200, `MX create: ${created.response.status}`);
  // MX's API has no read of a client (the vendor publishes only the create); the read is the
  // document's own operation, through the same generated client.
  const document = ok(await client.GET("/openapi.json"), "MX read");
  check(document.openapi.startsWith("3.1."), "MX read: an OpenAPI 3.1 document");
}

async function shieldconex(base: string): Promise<void> {
  // The demo's Partner Supervisor of partner 792; the contact is that user (id 2666).
  // isActive is left out: it defaults to true, and the types do not require it.
  const client = createClient<ShieldConex>({
    baseUrl: `${base}/shieldconex`,
    headers: { Authorization: basic("waterford@example.com", "waterford123") },
  });
  const name = `TS Client ${tag()}`;
  const created = ok(
    await client.POST("/api/v1/clients", {
      body: { name, directPartner: { id: 792 }, contact: { id: 2666 } },
    }),
    "ShieldConex create",
  );
  // The id goes from the create's answer to the read as it is: a number both ways.
  const read = ok(
    await client.GET("/api/v1/clients/{id}", { params: { path: { id: created.id } } }),
    "ShieldConex read",
  );
  check(read.name === name, "ShieldConex read: another client");
  check(read.isActive, "ShieldConex: isActive left out is true");
}

async function nueve09(base: string): Promise<void> {
  // The demo account logs in; its token comes back in the Authorization header.
  const anonymous = createClient<Nueve09>({ baseUrl: `${base}/nueve09` });
  const login = await anonymous.POST("/auth/login", {
    body: { api_client: { api_key: "api_key", password: "password" } },
  });
  ok(login, "Nueve09 login");
  const token = login.response.headers.get("Authorization");
  check(token !== null && token.startsWith("Bearer "), "Nueve09 login: a Bearer token");
  const client = createClient<Nueve09>({
    baseUrl: `${base}/nueve09`,
    headers: { Authorization: token },
  });
  // Alias, RFC and API-key name are unique per account.
  const t = tag();
  const created = ok(
    await client.POST("/clients", {
      body: {
        name: `Generated ${t}`,
        alias: `TS${t}`,
        email: "ts@example.com",
        available: 10,
        phone: "5555555555",
        mobile_phone: "6666666666",
        rfc: `TSCR${t}A1`,
        street: "Av. Siempre",
        ext_street_number: "1234",
        suburb: "Napoles",
        township: "Benito Juarez",
        city: "CDMX",
        state: "CDMX",
        postal_code: "55555",
        contact_name: "Juan",
        contact_surname: "Perea",
        contact_email: "juan@example.com",
        contact_telephone_country_code: "52",
        contact_telephone: "5555555555",
        contact_mobile_phone_country_code: "52",
        contact_mobile_phone: "6666666666",
        api_key_name: `TS_KEY_${t}`,
        api_key_password: "12345",
      },
    }),
    "Nueve09 create",
  );
  const read = ok(
    await client.GET("/clients/{id}", { params: { path: { id: created.data.subclient.id } } }),
    "Nueve09 read",
  );
  check(read.data.subclient.alias === `TS${t}`, "Nueve09 read: another sub-client");
}

async function makeleaps(base: string): Promise<void> {
  // The demo API application gets a token; the demo partner's mid is all zeros.
  const client = createClient<MakeLeaps>({ baseUrl: `${base}/makeleaps` });
  const issued = ok(
    await client.POST("/user/oauth2/token/", {
      body: { grant_type: "client_credentials" },
      // openapi-fetch sends JSON unless told the media type; with it, a form.
      headers: {
        Authorization: basic("demo-client-id", "demo-client-secret"),
        "Content-Type": "application/x-www-form-urlencoded",
      },
    }),
    "MakeLeaps token",
  );
  const headers = { Authorization: `Bearer ${issued.access_token}` };
  const partner_mid = "0000000000000000000";
  const externalId = `ts-${tag().toLowerCase()}`;
  const created = ok(
    await client.POST("/api/partner/{partner_mid}/client/", {
      params: { path: { partner_mid } },
      body: {
        contacts: [{ contact_type: "organization", name: "Generated KK" }],
        client_external_id: externalId,
      },
      headers,
    }),
    "MakeLeaps create",
  );
  // The envelope's `response` is required: the mid is there without a check for undefined.
  const read = ok(
    await client.GET("/api/partner/{partner_mid}/client/{client_mid}/", {
      params: { path: { partner_mid, client_mid: created.response.mid } },
      headers,
    }),
    "MakeLeaps read",
  );
  check(read.response.client_external_id === externalId, "MakeLeaps read: another client");
}

async function main(): Promise<void> {
  const base = (process.argv[2] ?? "").replace(/\/$/, "");
  check(base !== "", "usage: node dist/create-and-read.js BASE_URL");
  let passed = 0;
  let failed = 0;
  const flavours: [string, (base: string) => Promise<void>][] = [
    ["mx", mx],
    ["shieldconex", shieldconex],
    ["nueve09", nueve09],
    ["makeleaps", makeleaps],
  ];
  for (const [name, run] of flavours) {
    try {
      await run(base);
      passed += 1;
      console.log(`${name}: created and read`);
    } catch (e) {
      // Every flavour is tried, then the run fails.
      failed += 1;
      console.log(`${name}: FAILED: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  console.log(`${passed} passed, ${failed} failed`);
  process.exitCode = failed === 0 ? 0 : 1;
}

await main();
