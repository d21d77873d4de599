// Builds the console into OUT (argument; default ./dist): esbuild bundles
// src/main.tsx with code splitting into OUT/assets/<name>-<hash>.js/.css,
// index.html names the entry files, and every file gets a .gz and a .br
// beside it for the server to send as they are.
import * as esbuild from "esbuild";
import { readFileSync, writeFileSync, mkdirSync, rmSync, readdirSync, statSync, existsSync } from "node:fs";
import { gzipSync, brotliCompressSync, constants as zc } from "node:zlib";
import { join, dirname, basename, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { spawnSync } from "node:child_process";

const here = dirname(fileURLToPath(import.meta.url));
const out = resolve(process.argv[2] || join(here, "dist"));

// Up to date: nothing under src/ and no package file newer than the stamp.
function newest(p) {
  const st = statSync(p);
  if (!st.isDirectory()) return st.mtimeMs;
  return Math.max(st.mtimeMs, ...readdirSync(p).map((n) => newest(join(p, n))));
}
const stamp = join(out, ".stamp");
const inputs = Math.max(newest(join(here, "src")), newest(join(here, "build.mjs")),
  newest(join(here, "package-lock.json")));
if (existsSync(stamp) && statSync(stamp).mtimeMs >= inputs && !process.env.XENON_WEB_REBUILD) process.exit(0);

// type errors fail the build
const tsc = spawnSync(join(here, "node_modules/.bin/tsc"), ["--noEmit", "-p", here], { stdio: "inherit" });
if (tsc.status !== 0) process.exit(1);

rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, "assets"), { recursive: true });
const result = await esbuild.build({
  absWorkingDir: here,
  entryPoints: { app: "src/main.tsx" },
  bundle: true,
  splitting: true,
  format: "esm",
  target: "es2022",
  outdir: join(out, "assets"),
  entryNames: "[name]-[hash]",
  chunkNames: "[name]-[hash]",
  assetNames: "[name]-[hash]",
  minify: true,
  legalComments: "none",
  sourcemap: false,
  metafile: true,
  jsx: "automatic",
  jsxImportSource: "preact",
  define: { "process.env.NODE_ENV": '"production"' },
  logLevel: "warning",
});

// The entry's JS and CSS, and the chunks it imports statically (preloaded).
let js = "", css = "";
const preload = [];
for (const [file, o] of Object.entries(result.metafile.outputs)) {
  if (o.entryPoint === "src/main.tsx") {
    js = basename(file);
    if (o.cssBundle) css = basename(o.cssBundle);
    for (const imp of o.imports) if (imp.kind === "import-statement") preload.push(basename(imp.path));
  }
}
if (!js) throw new Error("no entry output");
const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>Xenon</title>
${css ? `<link rel="stylesheet" href="/assets/${css}">\n` : ""}${preload.map((p) => `<link rel="modulepreload" href="/assets/${p}">\n`).join("")}<script type="module" src="/assets/${js}"></script>
</head>
<body>
<noscript>The Xenon console needs JavaScript.</noscript>
<div id="app"></div>
</body>
</html>
`;
writeFileSync(join(out, "index.html"), html);

function compress(dir) {
  for (const n of readdirSync(dir)) {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) { compress(p); continue; }
    if (/\.(gz|br)$/.test(n) || n.startsWith(".")) continue;
    const data = readFileSync(p);
    writeFileSync(p + ".gz", gzipSync(data, { level: 9 }));
    writeFileSync(p + ".br", brotliCompressSync(data, {
      params: { [zc.BROTLI_PARAM_QUALITY]: 11, [zc.BROTLI_PARAM_SIZE_HINT]: data.length },
    }));
  }
}
compress(out);
writeFileSync(stamp, "");
