/**
 * The signed request header of the CLI (`Authorization: PosternCert
 * <cert>.<timestamp>.<nonce>.<signature>`): what the client signs with its
 * certified key and the proxy verifies, in one place for both sides.
 *
 * @module
 */

/** The authorization scheme, with its trailing space. */
export const CERT_AUTH_PREFIX = "PosternCert ";

/**
 * The bytes signed for one request: `postern-api`, the method, the path with
 * query, the timestamp (Unix seconds) and a random nonce that makes the
 * header single-use.
 *
 * @example
 * ```ts
 * const data = certRequestData("GET", "/v1/webapi/sites/postern/nodes", "1700000000", "q1w2e3");
 * ```
 */
export function certRequestData(
  method: string,
  pathWithQuery: string,
  timestamp: string,
  nonce: string,
): Uint8Array {
  return new TextEncoder().encode(
    `postern-api\n${method}\n${pathWithQuery}\n${timestamp}\n${nonce}`,
  );
}
