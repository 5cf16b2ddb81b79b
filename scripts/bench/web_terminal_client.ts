/**
 * The browser's side of the web terminal benchmark, run as its own process by
 * web_terminal.ts with `DENO_CERT` set to the proxy's self-signed certificate
 * (Deno's WebSocket client takes no CA option). It opens terminal sessions
 * over `wss://.../connect` with the session cookie and a same-origin `Origin`
 * header, as a browser on the proxy's page would, and measures:
 *
 * 1. keystroke echo latency: in a shell switched to `stty raw -echo; cat`, one
 *    byte is sent per binary frame and the clock stops when it comes back;
 * 2. output throughput: `cat` of a file, from sending the command until a
 *    marker printed after it arrives.
 *
 * Usage: `deno run -A web_terminal_client.ts '<json of ClientConfig>'`; prints
 * one JSON line ({@link ClientResult}).
 *
 * @module
 */

/** What the parent passes (argv[0], JSON). */
export interface ClientConfig {
  /** `wss://127.0.0.1:<port>/v1/webapi/sites/<cluster>/connect?node=..&login=..&csrf=..` */
  url: string;
  cookie: string;
  origin: string;
  keystrokes: number;
  /** Keystrokes sent first and not counted. */
  warmup: number;
  /** File on the node to `cat`. */
  file: string;
}

/** What the child prints. */
export interface ClientResult {
  latencies_ms: number[];
  cat: { ms: number; bytes_received: number };
}

const encoder = new TextEncoder();
const latin1 = new TextDecoder("latin1");

/** One terminal session over the WebSocket. */
class Terminal {
  #ws: WebSocket;
  #onData: ((text: string, bytes: number) => void) | undefined;
  #closed: Promise<void>;

  private constructor(ws: WebSocket) {
    this.#ws = ws;
    this.#closed = new Promise((resolve) => ws.addEventListener("close", () => resolve()));
  }

  static open(config: ClientConfig): Promise<Terminal> {
    const ws = new WebSocket(config.url, {
      headers: { cookie: config.cookie, origin: config.origin },
    } as unknown as string[]);
    ws.binaryType = "arraybuffer";
    const terminal = new Terminal(ws);
    return new Promise((resolve, reject) => {
      ws.onerror = (event) =>
        reject(new Error(`WebSocket failed: ${(event as ErrorEvent).message}`));
      ws.onclose = (event) => reject(new Error(`WebSocket closed: ${event.code} ${event.reason}`));
      ws.onmessage = (event) => {
        if (typeof event.data === "string") {
          const message = JSON.parse(event.data);
          if (message.type === "session") resolve(terminal);
          if (message.type === "error") reject(new Error(`Terminal error: ${message.message}`));
          return;
        }
        const bytes = new Uint8Array(event.data as ArrayBuffer);
        terminal.#onData?.(latin1.decode(bytes), bytes.length);
      };
    });
  }

  /** Sends bytes as one binary frame, as xterm.js does for typed input. */
  send(data: string | Uint8Array): void {
    this.#ws.send(typeof data === "string" ? encoder.encode(data) : data);
  }

  /** Resolves when `marker` has arrived since the call; counts the bytes meanwhile. */
  waitFor(marker: string, timeoutMs = 120_000): Promise<number> {
    let tail = "";
    let bytes = 0;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`No ${JSON.stringify(marker)} within ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.#onData = (text, n) => {
        bytes += n;
        const window = tail + text;
        if (window.includes(marker)) {
          clearTimeout(timer);
          this.#onData = undefined;
          resolve(bytes);
        }
        tail = window.slice(-(marker.length - 1));
      };
    });
  }

  async close(): Promise<void> {
    this.#ws.close();
    await this.#closed;
  }
}

async function measureLatency(config: ClientConfig): Promise<number[]> {
  const terminal = await Terminal.open(config);
  // The quotes keep the command's own echo from matching the marker.
  const ready = terminal.waitFor("READY");
  terminal.send("stty raw -echo; printf 'RE''ADY'; exec cat\r");
  await ready;
  await new Promise((resolve) => setTimeout(resolve, 200));
  const latencies: number[] = [];
  for (let i = 0; i < config.warmup + config.keystrokes; i++) {
    const key = String.fromCharCode(97 + (i % 26));
    const echoed = terminal.waitFor(key, 10_000);
    const started = performance.now();
    terminal.send(key);
    await echoed;
    if (i >= config.warmup) latencies.push(performance.now() - started);
  }
  await terminal.close();
  return latencies;
}

async function measureCat(config: ClientConfig): Promise<ClientResult["cat"]> {
  const terminal = await Terminal.open(config);
  const prompt = terminal.waitFor("PROMPT");
  terminal.send("printf 'PRO''MPT'\r");
  await prompt;
  const done = terminal.waitFor("DONE");
  const started = performance.now();
  terminal.send(`cat '${config.file}'; printf 'DO''NE'\r`);
  const bytes = await done;
  const ms = performance.now() - started;
  await terminal.close();
  return { ms, bytes_received: bytes };
}

if (import.meta.main) {
  const config = JSON.parse(Deno.args[0]) as ClientConfig;
  const latencies = await measureLatency(config);
  const cat = await measureCat(config);
  const result: ClientResult = { latencies_ms: latencies, cat };
  console.log(JSON.stringify(result));
}
