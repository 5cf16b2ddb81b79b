/**
 * Bundles the web UI (`ui/`) with esbuild into `ui/dist`, which the proxy
 * serves and `deno compile --include ui/dist` embeds.
 *
 * Usage: deno run -A scripts/build_ui.ts [--if-stale]
 *   --if-stale  build only when ui/dist is missing or older than a UI source file
 *
 * `postern start` run from source calls {@linkcode buildUiIfStale} itself, so
 * `deno run -A main.ts start` on a fresh clone serves the UI too.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { join } from "node:path";

const root = join(import.meta.dirname!, "..");
const uiDir = join(root, "ui");
const distDir = join(uiDir, "dist");
const stampFile = join(distDir, ".build-stamp");

// Synchronous file calls: ~50 stats take ~1 ms so, ~15 ms one await at a time,
// and `postern start` from source waits for this check.
function newestSourceTime(dir: string): number {
  let newest = 0;
  for (const entry of Deno.readDirSync(dir)) {
    if (entry.name === "dist") continue;
    const path = join(dir, entry.name);
    const time = entry.isDirectory
      ? newestSourceTime(path)
      : Deno.statSync(path).mtime?.getTime() ?? 0;
    newest = Math.max(newest, time);
  }
  return newest;
}

function isStale(): boolean {
  try {
    const built = Deno.statSync(stampFile).mtime?.getTime() ?? 0;
    const lock = Deno.statSync(join(root, "deno.lock")).mtime?.getTime() ?? 0;
    return Math.max(newestSourceTime(uiDir), lock) > built;
  } catch {
    return true;
  }
}

async function build(): Promise<void> {
  // Loaded only to build: `postern start` from source checks staleness at every start.
  const esbuild = await import("esbuild");
  await Deno.remove(distDir, { recursive: true }).catch(() => {});
  await Deno.mkdir(join(distDir, "assets"), { recursive: true });
  const result = await esbuild.build({
    entryPoints: { app: join(uiDir, "src", "main.tsx") },
    bundle: true,
    minify: true,
    sourcemap: false,
    format: "esm",
    target: ["chrome120", "firefox120", "safari17"],
    jsx: "automatic",
    jsxImportSource: "preact",
    outdir: join(distDir, "assets"),
    entryNames: "[name]-[hash]",
    metafile: true,
    logLevel: "warning",
    loader: { ".woff2": "file", ".svg": "file" },
  });
  await esbuild.stop();
  const outputs = Object.keys(result.metafile.outputs).map((p) => p.split("/").pop()!);
  const script = outputs.find((name) => name.endsWith(".js"));
  const style = outputs.find((name) => name.endsWith(".css"));
  if (!script) throw new Error("esbuild produced no JavaScript bundle");
  const template = await Deno.readTextFile(join(uiDir, "index.html"));
  const html = template
    .replace("<!-- styles -->", style ? `<link rel="stylesheet" href="/assets/${style}">` : "")
    .replace("<!-- scripts -->", `<script type="module" src="/assets/${script}"></script>`);
  await Deno.writeTextFile(join(distDir, "index.html"), html);
  for await (const entry of Deno.readDir(join(uiDir, "public"))) {
    if (entry.isFile) {
      await Deno.copyFile(join(uiDir, "public", entry.name), join(distDir, entry.name));
    }
  }
  const digest = createHash("sha256").update(html).digest("hex").slice(0, 12);
  await Deno.writeTextFile(stampFile, digest + "\n");
  console.error(`built ui/dist (${outputs.length} files)`);
}

/** Builds ui/dist when it is missing or older than a UI source file; true when it built. */
export async function buildUiIfStale(): Promise<boolean> {
  if (!isStale()) return false;
  await build();
  return true;
}

if (import.meta.main) {
  if (Deno.args.includes("--if-stale")) await buildUiIfStale();
  else await build();
}
