/**
 * `postern ssh login@key=value[,key=value...] command`: runs one command, as
 * a recorded session each, on every node the user may reach whose labels
 * match, at once. Each line of output is prefixed with its node's name; the
 * exit code is the worst one (the highest; 255 when a node could not be
 * reached), as Teleport's `tsh ssh` does with a label selector.
 *
 * @module
 */

import type { Client, ClientChannel } from "ssh2";
import { BadRequest, NotFound, PosternError } from "../errors.ts";
import { listNodes } from "./commands.ts";
import { writeAllSync } from "./io.ts";
import { concatBytes } from "../net/bytes.ts";

/** Logs in to the proxy's gateway as `username` (`login:node`). */
export type ConnectGateway = (username: string) => Promise<Client>;

/** Nodes run at once, at most. */
const PARALLEL = 16;

/** Whether a `postern ssh` target's node part is a label selector (`env=prod`). */
export function isLabelSelector(node: string): boolean {
  return node.includes("=");
}

/**
 * Splits `env=prod,team=db` into the `key=value` filters `postern ls` takes.
 *
 * @throws BadRequest naming the part that is not key=value
 */
export function selectorFilters(selector: string): string[] {
  const filters = selector.split(",");
  const bad = filters.find((f) => f.indexOf("=") <= 0);
  if (bad !== undefined) {
    throw new BadRequest(`Label selector "${selector}": "${bad}" is not key=value.`);
  }
  return filters;
}

/**
 * Writes complete lines with a prefix; a partial line waits for its end (or
 * for {@link LinePrefixer.flush}), so that output of nodes running at once
 * never mixes within a line.
 */
export class LinePrefixer {
  #partial = new Uint8Array(0);
  readonly #prefix: Uint8Array;

  constructor(prefix: string, private readonly write: (bytes: Uint8Array) => void) {
    this.#prefix = new TextEncoder().encode(prefix);
  }

  /** Adds output; writes every line it completes. */
  push(data: Uint8Array): void {
    let bytes = this.#partial.length ? concatBytes(this.#partial, data) : data;
    for (let newline = bytes.indexOf(10); newline >= 0; newline = bytes.indexOf(10)) {
      this.write(concatBytes(this.#prefix, bytes.subarray(0, newline + 1)));
      bytes = bytes.subarray(newline + 1);
    }
    this.#partial = bytes.slice();
  }

  /** Writes a last line without its newline, ending it. */
  flush(): void {
    if (this.#partial.length === 0) return;
    this.push(new Uint8Array([10]));
  }
}

/**
 * Runs `command` on every node matching `selector`.
 *
 * @param connect logs in to the proxy's gateway
 * @param login the login on the nodes
 * @param selector `key=value[,key=value...]`
 * @param command the command (required: there is no shell on many nodes)
 * @returns the worst exit code
 * @throws NotFound when no node the user may reach matches
 */
export async function sshMany(
  connect: ConnectGateway,
  login: string,
  selector: string,
  command: string,
): Promise<number> {
  const nodes = (await listNodes(selectorFilters(selector))).map((n) => n.name).sort();
  if (nodes.length === 0) {
    throw new NotFound(
      `No node you may reach has the labels ${selector}; see \`postern ls\` for the nodes and their labels.`,
    );
  }
  let worst = 0;
  const queue = [...nodes];
  const width = Math.max(...nodes.map((n) => n.length));
  const worker = async () => {
    for (let node = queue.shift(); node !== undefined; node = queue.shift()) {
      const code = await runOn(connect, `${login}:${node}`, command, `[${node.padEnd(width)}] `);
      worst = Math.max(worst, code);
    }
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL, nodes.length) }, worker));
  return worst;
}

/** Runs the command on one node, its output prefixed; resolves with its exit code. */
async function runOn(
  connect: ConnectGateway,
  username: string,
  command: string,
  prefix: string,
): Promise<number> {
  const stdout = new LinePrefixer(prefix, (bytes) => writeAllSync(Deno.stdout, bytes));
  const stderr = new LinePrefixer(prefix, (bytes) => writeAllSync(Deno.stderr, bytes));
  let client: Client | undefined;
  try {
    client = await connect(username);
    const channel = await new Promise<ClientChannel>((resolve, reject) =>
      client!.exec(command, (error, opened) => error ? reject(error) : resolve(opened))
    );
    return await new Promise<number>((resolve) => {
      let exitCode = 255;
      channel.on("exit", (code: number | null) => (exitCode = code ?? 255));
      channel.on("data", (data: Uint8Array) => stdout.push(data));
      channel.stderr.on("data", (data: Uint8Array) => stderr.push(data));
      channel.on("close", () => resolve(exitCode));
      channel.end();
    });
  } catch (error) {
    const message = error instanceof PosternError
      ? error.message
      : `Cannot run the command: ${(error as Error).message}`;
    stderr.push(new TextEncoder().encode(`postern: ${message}\n`));
    return 255;
  } finally {
    stdout.flush();
    stderr.flush();
    client?.end();
  }
}
