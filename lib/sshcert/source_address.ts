/**
 * The `source-address` critical option: a comma-separated CIDR list checked the
 * way OpenSSH's `addr_match_cidr_list` does (no wildcards, no negation, host
 * bits must be zero, IPv4-mapped IPv6 client addresses compared as IPv4).
 *
 * @module
 */

import { CertError } from "./errors.ts";

interface Network {
  readonly bytes: Uint8Array;
  readonly prefix: number;
}

const MAX_ENTRY_LENGTH = 46 + 3; // INET6_ADDRSTRLEN + "/128", as OpenSSH
const ENTRY_CHARS = /^[0-9a-fA-F.:/]+$/;

/**
 * Whether `address` lies in one of the networks of a source-address list.
 *
 * @param list e.g. `"10.0.0.0/8,192.168.1.7,2001:db8::/32"`
 * @param address the client's IP address; an address that does not parse matches nothing
 * @throws {CertError} `malformed` when the list is invalid (OpenSSH refuses such certificates)
 * @example
 * ```ts
 * sourceAddressAllows("10.0.0.0/8", "10.1.2.3"); // true
 * ```
 */
export function sourceAddressAllows(list: string, address: string): boolean {
  const networks = parseSourceAddressList(list);
  const client = parseAddress(address);
  if (client === null) return false;
  const bytes = unmapIpv4(client);
  return networks.some((net) => inNetwork(bytes, net));
}

/**
 * Parses and validates a source-address list.
 *
 * @throws {CertError} `malformed` naming the first bad entry
 */
export function parseSourceAddressList(list: string): Network[] {
  return list.split(",").map((entry) => {
    const network = entry.length <= MAX_ENTRY_LENGTH && ENTRY_CHARS.test(entry)
      ? parseNetwork(entry)
      : null;
    if (network === null) {
      throw new CertError(
        "malformed",
        `Cannot use certificate source-address: ${JSON.stringify(entry)} is not an address or ` +
          `network (e.g. 10.0.0.0/8)`,
      );
    }
    return network;
  });
}

function parseNetwork(entry: string): Network | null {
  const slash = entry.indexOf("/");
  const bytes = parseAddress(slash < 0 ? entry : entry.slice(0, slash));
  if (bytes === null) return null;
  let prefix = bytes.length * 8;
  if (slash >= 0) {
    const digits = entry.slice(slash + 1);
    if (!/^[0-9]{1,3}$/.test(digits)) return null;
    prefix = Number(digits);
    if (prefix > bytes.length * 8) return null;
  }
  // OpenSSH rejects "10.0.0.1/8": bits outside the prefix must be zero.
  if (!masked(bytes, prefix).every((b, i) => b === bytes[i])) return null;
  return { bytes, prefix };
}

function inNetwork(address: Uint8Array, net: Network): boolean {
  if (address.length !== net.bytes.length) return false;
  return masked(address, net.prefix).every((b, i) => b === net.bytes[i]);
}

function masked(bytes: Uint8Array, prefix: number): Uint8Array {
  return bytes.map((b, i) => {
    const bits = Math.max(0, Math.min(8, prefix - i * 8));
    return b & (0xff << (8 - bits));
  });
}

/** IPv4-mapped IPv6 (`::ffff:a.b.c.d`) becomes the IPv4 address, as sshd normalises it. */
function unmapIpv4(bytes: Uint8Array): Uint8Array {
  const mapped = bytes.length === 16 && bytes.subarray(0, 10).every((b) => b === 0) &&
    bytes[10] === 0xff && bytes[11] === 0xff;
  return mapped ? bytes.subarray(12) : bytes;
}

/** Parses a numeric IPv4 (dotted decimal) or IPv6 address; null when it is neither. */
export function parseAddress(text: string): Uint8Array | null {
  return text.includes(":") ? parseIpv6(text) : parseIpv4(text);
}

function parseIpv4(text: string): Uint8Array | null {
  const parts = text.split(".");
  if (parts.length !== 4) return null;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(parts[i]) || Number(parts[i]) > 255) return null;
    out[i] = Number(parts[i]);
  }
  return out;
}

function parseIpv6(text: string): Uint8Array | null {
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const groups = (half: string) => (half === "" ? [] : half.split(":"));
  const head = groups(halves[0]);
  const tail = halves.length === 2 ? groups(halves[1]) : [];
  const words: number[] = [];
  for (const [index, group] of [...head, ...tail].entries()) {
    // An embedded IPv4 address may only end the address (and not precede "::").
    const last = index === head.length + tail.length - 1 &&
      (halves.length === 1 || tail.length > 0);
    if (last && group.includes(".")) {
      const v4 = parseIpv4(group);
      if (v4 === null) return null;
      words.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
    } else if (/^[0-9a-fA-F]{1,4}$/.test(group)) {
      words.push(parseInt(group, 16));
    } else {
      return null;
    }
  }
  const missing = 8 - words.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return null;
  const headWords = halves.length === 2 ? words.length - wordCount(tail) : words.length;
  const all = [...words.slice(0, headWords), ...Array(missing).fill(0), ...words.slice(headWords)];
  const out = new Uint8Array(16);
  all.forEach((word, i) => {
    out[2 * i] = word >> 8;
    out[2 * i + 1] = word & 0xff;
  });
  return out;
}

function wordCount(groups: string[]): number {
  return groups.reduce((n, g) => n + (g.includes(".") ? 2 : 1), 0);
}
