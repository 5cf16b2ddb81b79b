import assert from "node:assert/strict";
import { toUserMessage, Unavailable } from "../../lib/errors.ts";
import { channelOpenFailureReason, networkFailureReason } from "../../lib/net/failure_reason.ts";

Deno.test("toUserMessage shows postern's own messages and hides anything else", () => {
  const logged: string[] = [];
  const log = {
    error: (message: string, fields?: Record<string, unknown>) =>
      logged.push(`${message} ${JSON.stringify(fields)}`),
  };
  assert.equal(toUserMessage(new Unavailable("Node down."), log, "test"), "Node down.");
  assert.deepEqual(logged, []);
  const raw = new TypeError("Cannot read properties of undefined (reading '_protocol')");
  assert.equal(
    toUserMessage(raw, log, "SSH gateway"),
    "Internal error in the postern proxy; see its log.",
  );
  assert.match(
    logged[0],
    /internal error in SSH gateway.*_protocol/,
    "the raw text goes to the log only",
  );
});

Deno.test("network failures become short phrases, never OS text", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  const refused = await Deno.connect({ hostname: "127.0.0.1", port }).catch((e) => e);
  assert.equal(networkFailureReason(refused), "connection refused");
  assert.equal(networkFailureReason(new Deno.errors.TimedOut("os error 110")), "no answer in time");
  assert.equal(networkFailureReason(new Error("weird errno 9999")), "a network error");
  assert.match(channelOpenFailureReason({ reason: 1 }), /AllowTcpForwarding/);
  assert.equal(channelOpenFailureReason({ reason: 2 }), "the connection was refused or failed");
  assert.equal(channelOpenFailureReason(new Error("(SSH) whatever")), "it refused the connection");
});
