// The platforms a release ships a binary for: one npm package each, listed in the main
// package's optionalDependencies. npm installs only the one whose os, cpu and libc match
// the machine (the layout esbuild and Biome use), so nothing is downloaded by a script.
// scripts/pack-platform.js builds a package from this table, and the tests check that
// package.json's optionalDependencies name exactly these.

export const SCOPE = "@clientele-server";

/** key: `${process.platform}-${process.arch}`; rust: the target a release job builds. */
export const PLATFORMS = {
  "linux-x64": { os: "linux", cpu: "x64", libc: "glibc", rust: "x86_64-unknown-linux-gnu" },
  "linux-arm64": { os: "linux", cpu: "arm64", libc: "glibc", rust: "aarch64-unknown-linux-gnu" },
  "darwin-x64": { os: "darwin", cpu: "x64", rust: "x86_64-apple-darwin" },
  "darwin-arm64": { os: "darwin", cpu: "arm64", rust: "aarch64-apple-darwin" },
};

export function packageName(key) {
  return `${SCOPE}/${key}`;
}

export function binaryName(os) {
  return os === "win32" ? "clientele.exe" : "clientele";
}
