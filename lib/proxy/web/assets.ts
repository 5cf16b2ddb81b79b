/**
 * Serves the web UI's files from `ui/dist`, found relative to this module so
 * that the same code works from source and from a `deno compile` binary built
 * with `--include ui/dist`.
 *
 * @module
 */

import { extname, join, normalize } from "node:path";

/** Where the bundled UI lives, relative to this file. */
export const UI_DIST_DIR = join(import.meta.dirname!, "..", "..", "..", "ui", "dist");

const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".woff2": "font/woff2",
  ".wasm": "application/wasm",
  ".map": "application/json; charset=utf-8",
  ".txt": "text/plain; charset=utf-8",
};

/** Content type for a file name. */
export function contentType(path: string): string {
  return CONTENT_TYPES[extname(path).toLowerCase()] ?? "application/octet-stream";
}

/**
 * Returns the file at `relativePath` under `root` as a response, or undefined
 * when it does not exist. Paths escaping `root` are treated as missing.
 */
export async function serveAsset(
  relativePath: string,
  root = UI_DIST_DIR,
): Promise<Response | undefined> {
  const clean = normalize("/" + relativePath).replace(/^\/+/, "");
  if (clean.split("/").some((part) => part === "..")) return undefined;
  const path = join(root, clean);
  let body: Uint8Array<ArrayBuffer>;
  try {
    body = await Deno.readFile(path);
  } catch {
    return undefined;
  }
  const hashed = /\.[0-9a-f]{8,}\.(js|css|woff2|wasm)$/i.test(path) || /-[A-Z0-9]{8}\./.test(path);
  return new Response(body, {
    headers: {
      "content-type": contentType(path),
      "cache-control": hashed ? "public, max-age=31536000, immutable" : "no-cache",
    },
  });
}
