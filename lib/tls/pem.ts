/**
 * PEM armour (RFC 7468): base64 DER between `-----BEGIN <label>-----` and
 * `-----END <label>-----` lines.
 *
 * @module
 */

/**
 * Armours DER as PEM, 64 base64 characters a line.
 *
 * @param der the encoded object
 * @param label what it is ("CERTIFICATE", "PRIVATE KEY", "PUBLIC KEY")
 * @returns the PEM text, ending with a newline
 * @example
 * ```ts
 * const pem = pemEncode(new Uint8Array(await crypto.subtle.exportKey("spki", key)), "PUBLIC KEY");
 * ```
 */
export function pemEncode(der: Uint8Array, label: string): string {
  const lines = der.toBase64().match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

/**
 * The DER of the first PEM block in `pem`.
 *
 * @param pem PEM text (one or more blocks)
 * @returns the first block's bytes
 * @throws TypeError when there is no PEM block
 * @example
 * ```ts
 * const spki = pemDecodeFirst(publicKeyPem);
 * ```
 */
export function pemDecodeFirst(pem: string): Uint8Array {
  const match = /-----BEGIN ([^-]+)-----([\s\S]*?)-----END \1-----/.exec(pem);
  if (!match) throw new TypeError("no PEM block found");
  return Uint8Array.fromBase64(match[2].replace(/\s+/g, ""));
}
