/**
 * Tunnel tickets (lib/auth/tunnel_tickets.ts) with a clock of their own: a
 * ticket opens once, only from its address, only before it expires, only
 * under the key it was sealed with, and hides what it grants.
 */

import assert from "node:assert/strict";
import { TICKET_TTL_MS, TunnelTickets } from "../../lib/auth/tunnel_tickets.ts";
import { AccessDenied } from "../../lib/errors.ts";

const grant = { user: "alice", login: "root", node: "saturn", source: "192.0.2.7" };

async function tickets(secret = new Uint8Array(32).fill(7)) {
  let now = 1_000_000;
  const spent = new Set<string>();
  const service = await TunnelTickets.create(secret, (nonce) => {
    const fresh = !spent.has(nonce);
    spent.add(nonce);
    return Promise.resolve(fresh);
  }, () => now);
  return { service, advance: (ms: number) => (now += ms) };
}

Deno.test("a ticket opens once, from its address, before it expires", async () => {
  const { service, advance } = await tickets();
  const ticket = await service.issue(grant);
  const sealed = new TextDecoder().decode(Uint8Array.fromBase64(ticket, { alphabet: "base64url" }));
  assert.doesNotMatch(sealed, /saturn|alice|192\.0\.2/);
  await assert.rejects(service.redeem(ticket, "192.0.2.8"), AccessDenied);
  assert.deepEqual(await service.redeem(ticket, grant.source), grant);
  await assert.rejects(service.redeem(ticket, grant.source), /used already/);

  const late = await service.issue(grant);
  advance(TICKET_TTL_MS);
  await assert.rejects(service.redeem(late, grant.source), /expired/);
});

Deno.test("a ticket sealed under another key, or mangled, is not valid", async () => {
  const ours = await tickets();
  const theirs = await tickets(new Uint8Array(32).fill(9));
  const foreign = await theirs.service.issue(grant);
  await assert.rejects(ours.service.redeem(foreign, grant.source), /not valid/);
  for (const bad of ["", "!!!", "AAAA", (await ours.service.issue(grant)).slice(1)]) {
    await assert.rejects(ours.service.redeem(bad, grant.source), /not valid/);
  }
});
