// The node:test setup docs/fixture.md shows: one server for the whole run, started before
// the test files and stopped after them. node:test runs each file in a process of its own,
// which inherits this one's environment, so the files find the server through it.
//
//   node test/run.js [FILE...]      (default: every *.test.js next to this file)
import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { run } from "node:test";
import { spec } from "node:test/reporters";
import { fileURLToPath } from "node:url";

import { startServer } from "clientele-server";

const here = dirname(fileURLToPath(import.meta.url));
const files = process.argv.length > 2
  ? process.argv.slice(2)
  : readdirSync(here).filter((f) => f.endsWith(".test.js")).sort().map((f) => join(here, f));

const server = await startServer();
process.env.CLIENTELE_URL = server.url;
process.env.CLIENTELE_ADMIN_TOKEN = server.adminToken;

let failed = false;
const stream = run({ files, concurrency: true });
stream.on("test:fail", () => (failed = true));
await new Promise((resolve) => stream.compose(spec).on("end", resolve).pipe(process.stdout));
await server.stop();
process.exitCode = failed ? 1 : 0;
