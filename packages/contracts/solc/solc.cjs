"use strict";
// The npm `solc` (solc-js, pinned in package.json) behind the slice of solc's command line that forge uses:
// `--version`, and `--standard-json` with `--base-path` / `--include-path` for resolving imports. forge cannot
// download native compilers on this project's machines, and solc-js reads no files itself, so imports (our
// sources, OpenZeppelin under node_modules) are served by the callback below.
const { existsSync, readFileSync } = require("node:fs");
const { isAbsolute, resolve } = require("node:path");
const solc = require("solc");

const args = process.argv.slice(2);

if (args.includes("--version")) {
  process.stdout.write(`solc, the solidity compiler commandline interface\nVersion: ${solc.version()}\n`);
  process.exit(0);
}

/** Directories an import path may be relative to, in solc's own order: base path, include paths, then cwd. */
const roots = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--base-path" || args[i] === "--include-path") roots.push(args[++i]);
}
roots.push(process.cwd());

function readImport(path) {
  const candidates = isAbsolute(path) ? [path] : roots.map((root) => resolve(root, path));
  const found = candidates.find((candidate) => existsSync(candidate));
  if (found === undefined) return { error: `File not found: ${path} (looked in ${roots.join(", ")})` };
  return { contents: readFileSync(found, "utf8") };
}

process.stdout.write(solc.compile(readFileSync(0, "utf8"), { import: readImport }));
