#!/usr/bin/env node
// `clientele` on npx and in package.json scripts: runs the platform package's binary with
// the same arguments and stdio, so its readiness line and exit code pass through unchanged.
import { spawn } from "node:child_process";

import { findBinary } from "../index.js";

let binary;
try {
  binary = findBinary();
} catch (error) {
  console.error(`clientele: ${error.message}`);
  process.exit(1);
}

const child = spawn(binary, process.argv.slice(2), { stdio: "inherit" });
// A signal sent to this launcher alone (a process manager's SIGTERM) must reach the server,
// which then finishes its requests in flight; Ctrl-C reaches both, and a second SIGINT is
// harmless to the server.
const forward = (signal) => child.kill(signal);
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(signal, forward);
child.on("error", (error) => {
  console.error(`clientele: cannot run ${binary}: ${error.message}`);
  process.exit(1);
});
child.on("exit", (code, signal) => {
  if (signal) {
    // Die of the same signal, so that a shell sees what the server saw.
    process.removeAllListeners(signal);
    process.kill(process.pid, signal);
  } else {
    process.exit(code);
  }
});
