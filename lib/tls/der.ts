/**
 * The few DER (ASN.1 Distinguished Encoding Rules) pieces an X.509
 * certificate is made of: writers for the types a certificate uses, and a
 * reader that walks tag-length-value elements to find a field in an existing
 * certificate. Nothing here knows what a certificate is; see
 * `certificate_writer.ts`.
 *
 * @module
 */

import { concatBytes } from "../net/bytes.ts";

/** An encoded element, ready to be nested in another. */
export type Der = Uint8Array;

const TAG = {
  boolean: 0x01,
  integer: 0x02,
  bitString: 0x03,
  octetString: 0x04,
  oid: 0x06,
  utf8String: 0x0c,
  utcTime: 0x17,
  generalizedTime: 0x18,
  sequence: 0x30,
  set: 0x31,
} as const;

/**
 * One element: its tag, its length in DER's definite form, its content.
 *
 * @param tag the identifier octet (class, constructed bit and number in one byte)
 * @param content the encoded content
 * @returns the element
 * @example
 * ```ts
 * element(0x82, new TextEncoder().encode("localhost")); // a dNSName GeneralName
 * ```
 */
export function element(tag: number, content: Uint8Array): Der {
  const length = content.length;
  const lengthBytes: number[] = [];
  if (length < 0x80) {
    lengthBytes.push(length);
  } else {
    for (let rest = length; rest > 0; rest = Math.floor(rest / 256)) {
      lengthBytes.unshift(rest & 0xff);
    }
    lengthBytes.unshift(0x80 | lengthBytes.length);
  }
  const out = new Uint8Array(1 + lengthBytes.length + length);
  out[0] = tag;
  out.set(lengthBytes, 1);
  out.set(content, 1 + lengthBytes.length);
  return out;
}

/** SEQUENCE of `items`, in order. */
export function sequence(...items: Der[]): Der {
  return element(TAG.sequence, concatBytes(...items));
}

/** SET of `items` (callers pass one item, or items already in DER order). */
export function set(...items: Der[]): Der {
  return element(TAG.set, concatBytes(...items));
}

/** `[number]` EXPLICIT, constructed context-specific tag around `inner`. */
export function explicit(number: number, inner: Der): Der {
  return element(0xa0 | number, inner);
}

/** BOOLEAN. */
export function boolean(value: boolean): Der {
  return element(TAG.boolean, Uint8Array.of(value ? 0xff : 0x00));
}

/**
 * INTEGER from unsigned big-endian bytes (a serial number, an ECDSA `r`):
 * leading zeros dropped, one zero added when the top bit would make it negative.
 */
export function unsignedInteger(bytes: Uint8Array): Der {
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++;
  const trimmed = bytes.subarray(start);
  return element(TAG.integer, trimmed[0] & 0x80 ? concatBytes(Uint8Array.of(0), trimmed) : trimmed);
}

/** INTEGER of a small non-negative number. */
export function smallInteger(value: number): Der {
  const bytes: number[] = [];
  for (let rest = value; rest > 0; rest = Math.floor(rest / 256)) bytes.unshift(rest & 0xff);
  return unsignedInteger(Uint8Array.from(bytes.length ? bytes : [0]));
}

/** OBJECT IDENTIFIER from its dotted form ("2.5.29.19"). */
export function oid(dotted: string): Der {
  const [first, second, ...rest] = dotted.split(".").map(Number);
  const bytes: number[] = [first * 40 + second];
  for (const arc of rest) {
    const base128: number[] = [arc & 0x7f];
    for (let value = Math.floor(arc / 128); value > 0; value = Math.floor(value / 128)) {
      base128.unshift(0x80 | (value & 0x7f));
    }
    bytes.push(...base128);
  }
  return element(TAG.oid, Uint8Array.from(bytes));
}

/** UTF8String. */
export function utf8String(value: string): Der {
  return element(TAG.utf8String, new TextEncoder().encode(value));
}

/** OCTET STRING. */
export function octetString(bytes: Uint8Array): Der {
  return element(TAG.octetString, bytes);
}

/** BIT STRING of whole bytes, with `unusedBits` unused bits at the end of the last one. */
export function bitString(bytes: Uint8Array, unusedBits = 0): Der {
  return element(TAG.bitString, concatBytes(Uint8Array.of(unusedBits), bytes));
}

/**
 * A certificate validity time as RFC 5280 4.1.2.5 wants it: UTCTime through
 * 2049, GeneralizedTime from 2050, both in UTC to the second.
 */
export function time(date: Date): Der {
  const iso = date.toISOString(); // 2026-12-03T13:04:53.540Z
  const digits = iso.slice(0, 19).replace(/[-T:]/g, ""); // 20261203130453
  return date.getUTCFullYear() < 2050
    ? element(TAG.utcTime, new TextEncoder().encode(`${digits.slice(2)}Z`))
    : element(TAG.generalizedTime, new TextEncoder().encode(`${digits}Z`));
}

/** Where one element sits in a buffer. */
export interface Tlv {
  tag: number;
  /** Offset of its tag byte. */
  start: number;
  /** Offset of its content. */
  contentStart: number;
  /** Offset just past its content. */
  end: number;
}

/**
 * Reads the element at `offset`.
 *
 * @param bytes DER
 * @param offset where the element starts
 * @returns its tag and extent
 * @throws RangeError when the element is truncated or uses a form DER forbids
 * @example
 * ```ts
 * const certificate = readTlv(der, 0);
 * const tbs = readTlv(der, certificate.contentStart);
 * ```
 */
export function readTlv(bytes: Uint8Array, offset: number): Tlv {
  if (offset + 2 > bytes.length) throw new RangeError("DER element truncated");
  const tag = bytes[offset];
  let length = bytes[offset + 1];
  let contentStart = offset + 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    if (count === 0 || count > 4) throw new RangeError("DER length form not supported");
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + bytes[contentStart + i];
    contentStart += count;
  }
  const end = contentStart + length;
  if (end > bytes.length) throw new RangeError("DER element truncated");
  return { tag, start: offset, contentStart, end };
}
