/**
 * Where postern keeps its files, following the XDG base directory spec.
 *
 * @module
 */

import { join } from "node:path";

function home(): string {
  return Deno.env.get("HOME") ?? "/root";
}

/**
 * The server's data directory: `--data-dir`, else `POSTERN_DATA_DIR`, else
 * the config's `data_dir`, else `$XDG_DATA_HOME/postern` (`~/.local/share/postern`).
 */
export function resolveDataDir(flag?: string, configured?: string): string {
  const fromEnv = Deno.env.get("POSTERN_DATA_DIR");
  const xdg = Deno.env.get("XDG_DATA_HOME") || join(home(), ".local", "share");
  return flag || fromEnv || configured || join(xdg, "postern");
}

/** The CLI's home (`~/.tsh`, overridden by `POSTERN_HOME`) for keys and profiles. */
export function clientHome(): string {
  return Deno.env.get("POSTERN_HOME") || join(home(), ".tsh");
}

/** Creates `dir` (and parents) and forces mode 0700 on it. */
export async function ensurePrivateDir(dir: string): Promise<void> {
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  await Deno.chmod(dir, 0o700);
}

/** Writes a file atomically (temp + rename) with the given mode (default 0600). */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  mode = 0o600,
): Promise<void> {
  const temp = `${path}.tmp-${crypto.randomUUID()}`;
  try {
    if (typeof data === "string") await Deno.writeTextFile(temp, data, { mode });
    else await Deno.writeFile(temp, data, { mode });
    await Deno.chmod(temp, mode);
    await Deno.rename(temp, path);
  } catch (error) {
    await Deno.remove(temp).catch(() => {});
    throw error;
  }
}
