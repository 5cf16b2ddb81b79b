/**
 * Asking the person at the terminal: lines, secrets without echo, yes/no.
 * When stdin is not a terminal (scripts, tests), answers are read as lines
 * from stdin, in order.
 *
 * @module
 */

import { BadRequest } from "../errors.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
let buffered = "";
let stdinEnded = false;

async function readLineFromStdin(): Promise<string | null> {
  while (!buffered.includes("\n") && !stdinEnded) {
    const chunk = new Uint8Array(4096);
    const n = await Deno.stdin.read(chunk);
    if (n === null) stdinEnded = true;
    else buffered += decoder.decode(chunk.subarray(0, n));
  }
  if (!buffered && stdinEnded) return null;
  const newline = buffered.indexOf("\n");
  const line = newline < 0 ? buffered : buffered.slice(0, newline);
  buffered = newline < 0 ? "" : buffered.slice(newline + 1);
  return line.replace(/\r$/, "");
}

async function readSecretFromTerminal(): Promise<string> {
  Deno.stdin.setRaw(true);
  let value = "";
  try {
    const byte = new Uint8Array(64);
    for (;;) {
      const n = await Deno.stdin.read(byte);
      if (n === null) break;
      for (const char of decoder.decode(byte.subarray(0, n))) {
        if (char === "\r" || char === "\n") return value;
        if (char === "\u0003") throw new BadRequest("Cancelled.");
        if (char === "\u007f" || char === "\b") value = value.slice(0, -1);
        else value += char;
      }
    }
    return value;
  } finally {
    Deno.stdin.setRaw(false);
    Deno.stderr.writeSync(encoder.encode("\n"));
  }
}

/** Asks for a line of text; the prompt goes to stderr. */
export async function askLine(prompt: string): Promise<string> {
  Deno.stderr.writeSync(encoder.encode(prompt));
  const line = await readLineFromStdin();
  if (line === null) throw new BadRequest(`No answer to "${prompt.trim()}" (stdin is closed).`);
  return line.trim();
}

/** Asks for a secret without echoing it when stdin is a terminal. */
export async function askSecret(prompt: string): Promise<string> {
  if (!Deno.stdin.isTerminal()) return await askLine(prompt);
  Deno.stderr.writeSync(encoder.encode(prompt));
  return await readSecretFromTerminal();
}

/** Asks a yes/no question; only "y" or "yes" is yes. */
export async function confirm(prompt: string): Promise<boolean> {
  const answer = await askLine(`${prompt} [y/N] `);
  return /^(y|yes)$/i.test(answer);
}
