/**
 * Short, stable phrases for network failures, shown to users in place of
 * OS or library text ("Cannot reach saturn: connection refused.").
 *
 * @module
 */

/** Why a TCP connection attempt or connection failed, in a few words. */
export function networkFailureReason(error: unknown): string {
  if (error instanceof Deno.errors.ConnectionRefused) return "connection refused";
  if (error instanceof Deno.errors.TimedOut) return "no answer in time";
  if (error instanceof Deno.errors.ConnectionReset) return "the connection was reset";
  if (error instanceof Deno.errors.ConnectionAborted) return "the connection was aborted";
  if (error instanceof Deno.errors.AddrNotAvailable) return "the address is not available";
  if (error instanceof Deno.errors.NotConnected) return "the connection is closed";
  if (error instanceof Deno.errors.NotFound) return "the host name does not resolve";
  const text = String((error as { message?: unknown })?.message ?? error);
  if (/unreachable/i.test(text)) return "no route to the host";
  if (/lookup|resolve|getaddrinfo|dns/i.test(text)) return "the host name does not resolve";
  return "a network error";
}

/** Why a node refused to open a forwarded connection (RFC 4254 §5.1 reason codes). */
export function channelOpenFailureReason(error: unknown): string {
  switch ((error as { reason?: unknown })?.reason) {
    case 1:
      return "its sshd does not allow forwarding there (AllowTcpForwarding, PermitOpen)";
    case 2:
      return "the connection was refused or failed";
    case 4:
      return "it is out of resources";
    default:
      return "it refused the connection";
  }
}
