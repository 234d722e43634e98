#!/usr/bin/env node
// Builds and packs one platform package, @clientele-server/<platform>, around a release
// binary. `npm pack` in npm/ runs it first (prepack) for this machine's platform, so one
// command gives both tarballs; a release job runs it once per platform with that platform's
// binary (docs/install.md, "npm"):
//
//   node scripts/pack-platform.js [--platform linux-x64] [--binary PATH] [--out DIR]
//
// --platform  a key of lib/platforms.js; default: this machine's
// --binary    default: $CLIENTELE_BINARY, else $CARGO_TARGET_DIR (or target/)/release/clientele
// --out       where the tarball goes; default: npm pack's --pack-destination when run as
//             its prepack script, else npm/
//
// The package is staged in npm/build/<platform>/ (git ignores it) and packed with npm pack.

import { spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

import { PLATFORMS, binaryName, packageName } from "../lib/platforms.js";

const here = dirname(dirname(fileURLToPath(import.meta.url))); // npm/
const repo = dirname(here);

function fail(message) {
  console.error(`pack-platform: ${message}`);
  process.exit(1);
}

const { values } = parseArgs({
  options: {
    platform: { type: "string", default: `${process.platform}-${process.arch}` },
    binary: { type: "string" },
    // npm hands its own options to a lifecycle script as npm_config_* variables.
    out: { type: "string", default: process.env.npm_config_pack_destination || here },
  },
});
const key = values.platform;
const platform = PLATFORMS[key];
if (!platform) fail(`no platform ${key}; lib/platforms.js lists ${Object.keys(PLATFORMS).join(", ")}`);

const main = JSON.parse(readFileSync(join(here, "package.json"), "utf8"));

// The main package must depend on exactly the platforms of lib/platforms.js at its own
// version, or npm would install a binary of another release, or none.
const wanted = Object.fromEntries(Object.keys(PLATFORMS).map((k) => [packageName(k), main.version]));
const listed = main.optionalDependencies ?? {};
if (JSON.stringify(Object.entries(listed).sort()) !== JSON.stringify(Object.entries(wanted).sort())) {
  fail(`package.json's optionalDependencies must be ${JSON.stringify(wanted)}`);
}

const targetDir = process.env.CARGO_TARGET_DIR
  ? resolve(repo, process.env.CARGO_TARGET_DIR)
  : join(repo, "target");
const binary = values.binary ?? process.env.CLIENTELE_BINARY ?? join(targetDir, "release", binaryName(platform.os));
if (!existsSync(binary)) {
  fail(`no binary at ${binary}: build it first (cargo build --release) or pass --binary PATH`);
}

// A binary of this machine can say its version: it must be the package's, so that the
// npm version names what it runs.
if (key === `${process.platform}-${process.arch}`) {
  const run = spawnSync(binary, ["--version"], { encoding: "utf8" });
  const version = (run.stdout ?? "").trim().split(/\s+/).pop();
  if (run.status !== 0 || version !== main.version) {
    fail(`${binary} --version says ${JSON.stringify((run.stdout ?? "").trim())}, the package is ${main.version}`);
  }
}

// Both packages carry the licence texts, which live at the root of the repository: copied
// into the stage, and into npm/ (git ignores the copies) for the main package that npm
// packs right after this script.
const licences = ["LICENSE-MIT", "LICENSE-APACHE"];
function copyLicences(dir) {
  for (const licence of licences) copyFileSync(join(repo, licence), join(dir, licence));
}
copyLicences(here);

const name = packageName(key);
const stage = join(here, "build", key);
rmSync(stage, { recursive: true, force: true });
mkdirSync(join(stage, "bin"), { recursive: true });
const file = binaryName(platform.os);
copyFileSync(binary, join(stage, "bin", file));
chmodSync(join(stage, "bin", file), 0o755);
copyLicences(stage);

const manifest = {
  name,
  version: main.version,
  description: `The clientele binary for ${key}, installed by clientele-server`,
  license: main.license,
  // npm installs this package only on a matching machine, and skips it elsewhere.
  os: [platform.os],
  cpu: [platform.cpu],
  ...(platform.libc ? { libc: [platform.libc] } : {}),
  files: ["bin/", ...licences],
  // Yarn Plug'n'Play must put an executable on disk, not keep it in a zip.
  preferUnplugged: true,
};
writeFileSync(join(stage, "package.json"), `${JSON.stringify(manifest, null, 2)}\n`);
writeFileSync(
  join(stage, "README.md"),
  `# ${name}\n\nThe \`clientele\` binary (Rust target \`${platform.rust}\`) for the npm package ` +
    "[clientele-server](https://www.npmjs.com/package/clientele-server), which installs it as " +
    "an optional dependency on matching machines. Install `clientele-server`, not this package.\n",
);

const outDir = isAbsolute(values.out) ? values.out : resolve(values.out);
mkdirSync(outDir, { recursive: true });
const npm = spawnSync("npm", ["pack", "--pack-destination", outDir], {
  cwd: stage,
  stdio: ["ignore", "pipe", "inherit"],
  encoding: "utf8",
  shell: process.platform === "win32",
});
if (npm.status !== 0) fail(`npm pack of ${name} failed`);
const tarball = npm.stdout.trim().split("\n").pop();
console.error(`pack-platform: ${join(outDir, tarball)} (${name}, ${binary})`);
