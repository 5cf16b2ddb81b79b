/**
 * The C library's socket calls through Deno FFI, for what Deno's own sockets
 * cannot do: set an option on a listener Deno made (lib/proxy/web/tcp_nodelay.ts)
 * or hand a descriptor to another process (lib/client/fd_socket.ts). The
 * constants are those of Linux (x86-64 and aarch64 alike).
 *
 * @module
 */

export const AF_INET = 2;
export const AF_INET6 = 10;
export const SOCK_STREAM = 1;
export const SOCK_CLOEXEC = 0o2000000;
export const SOL_SOCKET = 1;
export const SCM_RIGHTS = 1;
export const SO_RCVTIMEO = 20;
export const SO_SNDTIMEO = 21;
export const SO_ACCEPTCONN = 30;
export const IPPROTO_TCP = 6;
export const TCP_NODELAY = 1;

const SYMBOLS = {
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  connect: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  bind: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  getsockopt: { parameters: ["i32", "i32", "i32", "buffer", "buffer"], result: "i32" },
  getsockname: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  sendmsg: { parameters: ["i32", "buffer", "i32"], result: "isize" },
  close: { parameters: ["i32"], result: "i32" },
  __errno_location: { parameters: [], result: "pointer" },
  strerror: { parameters: ["i32"], result: "pointer" },
} as const;

/** The calls, as {@link libcSocketCalls} returns them. */
export type SocketCalls = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

let calls: SocketCalls | undefined;

/**
 * The C library's socket calls, opened once.
 *
 * @throws what `Deno.dlopen` throws (no glibc, no FFI permission)
 */
export function libcSocketCalls(): SocketCalls {
  return calls ??= Deno.dlopen("libc.so.6", SYMBOLS).symbols;
}

/** The text of the C library's last error. */
export function lastSocketError(c: SocketCalls): string {
  const errnoPointer = c.__errno_location();
  const errno = errnoPointer ? new Deno.UnsafePointerView(errnoPointer).getInt32() : 0;
  const text = c.strerror(errno);
  return text ? Deno.UnsafePointerView.getCString(text) : `errno ${errno}`;
}
