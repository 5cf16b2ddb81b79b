/**
 * The API's resources: nodes, live sessions, recordings, the audit log, and
 * the admin page's nodes (users are in ./user_routes.ts). Every route runs
 * with a web session and checks the permission it needs.
 *
 * @module
 */

import type { AuthService } from "../../../auth/service.ts";
import { BadRequest, NotFound } from "../../../errors.ts";
import type { ProxyRecordings } from "../../recordings.ts";
import type { NodeStatus } from "../../node_status.ts";
import type { SessionHub } from "../../../session/hub.ts";
import type { SessionRecord } from "../../../store/store.ts";
import { json, readJson, requireString, type Router } from "../http.ts";
import { withSession } from "./guard.ts";
import { parseDuration } from "../../../config/schema.ts";
import { VERSION } from "../../../version.ts";

function labelsOf(body: Record<string, unknown>): Record<string, string> {
  const value = body.labels ?? {};
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new BadRequest(`Field "labels" must be an object of label: value.`);
  }
  const labels: Record<string, string> = {};
  for (const [key, v] of Object.entries(value)) {
    if (typeof v !== "string" || !/^[A-Za-z0-9_.\/-]{1,63}$/.test(key)) {
      throw new BadRequest(`Label "${key}" must be a name with a string value.`);
    }
    labels[key] = v;
  }
  return labels;
}

/**
 * A time from the query: an ISO 8601 time, or a duration ("1h", "7d") back
 * from now; undefined when absent.
 */
function timeParam(query: URLSearchParams, name: string): number | undefined {
  const value = query.get(name)?.trim();
  if (!value) return undefined;
  const duration = parseDuration(value);
  const time = duration ? Date.now() - duration : Date.parse(value);
  if (Number.isNaN(time)) {
    throw new BadRequest(`"${name}" must be a time (ISO 8601) or a duration like 1h.`);
  }
  return time;
}

/** `limit` (1 to `max`, else `fallback`) and `offset` (0 or more) from the query. */
function pageParams(
  query: URLSearchParams,
  fallback: number,
  max: number,
): { limit: number; offset: number } {
  const limit = Math.trunc(Number(query.get("limit") ?? fallback));
  const offset = Math.trunc(Number(query.get("offset") ?? 0));
  return {
    limit: limit >= 1 ? Math.min(limit, max) : fallback,
    offset: offset >= 0 ? offset : 0,
  };
}

function recordingJson(record: SessionRecord) {
  return {
    id: record.id,
    user: record.user,
    login: record.login,
    node: record.node,
    kind: record.kind,
    started: new Date(record.started).toISOString(),
    ended: record.ended === null ? null : new Date(record.ended).toISOString(),
    exit_code: record.exitCode,
    cols: record.cols,
    rows: record.rows,
  };
}

/** Installs resource routes under /v1/webapi. */
export function resourceRoutes(
  router: Router,
  auth: AuthService,
  hub: SessionHub,
  recordings: ProxyRecordings,
  nodeStatus: NodeStatus,
): void {
  const site = "/v1/webapi/sites/:cluster";
  const checkCluster = (cluster: string) => {
    if (cluster !== auth.cluster) {
      throw new NotFound(`No cluster "${cluster}"; this proxy serves "${auth.cluster}".`);
    }
  };

  router.on(
    "GET",
    "/v1/webapi/sites",
    withSession(auth, () => json({ items: [{ name: auth.cluster }] })),
  );

  router.on(
    "GET",
    `${site}/nodes`,
    withSession(auth, async (_request, { session, params, url }) => {
      checkCluster(params.cluster);
      const nodes = await auth.listNodes(session.proof);
      // Only the nodes page asks for probes (?probe=1): other clients get what is known.
      const status = nodeStatus.of(nodes, { probe: url.searchParams.get("probe") === "1" });
      return json({
        items: nodes.map((node) => {
          const { state, checked, reason } = status.get(node.name)!;
          return {
            ...node,
            status: state,
            status_checked: checked === null ? null : new Date(checked).toISOString(),
            ...(reason ? { status_reason: reason } : {}),
          };
        }),
      });
    }),
  );

  router.on(
    "POST",
    `${site}/nodes`,
    withSession(auth, async (request, { session, params }) => {
      checkCluster(params.cluster);
      const body = await readJson(request);
      const node = await auth.adminAs(session.proof).addNode({
        name: requireString(body, "name", 63),
        addr: requireString(body, "addr", 255),
        labels: labelsOf(body),
      }, session.identity.user);
      return json({ name: node.name, addr: node.addr, labels: node.labels }, 201);
    }, "nodes"),
  );

  router.on(
    "DELETE",
    `${site}/nodes/:name`,
    withSession(auth, async (_request, { session, params }) => {
      checkCluster(params.cluster);
      await auth.adminAs(session.proof).removeNode(params.name, session.identity.user);
      return json({ ok: true });
    }, "nodes"),
  );

  router.on(
    "GET",
    `${site}/nodes/:name/setup-script`,
    withSession(auth, async (_request, { session, params }) => {
      checkCluster(params.cluster);
      return new Response(await auth.adminAs(session.proof).setupScript(params.name), {
        headers: { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" },
      });
    }, "nodes"),
  );

  router.on(
    "GET",
    `${site}/sessions`,
    withSession(auth, async (_request, { session, params }) => {
      checkCluster(params.cluster);
      // Every proxy's sessions, from auth's trackers; this proxy's own with
      // their parties and size as they are now.
      const [tracked, reachable] = await Promise.all([
        auth.listLiveSessions(session.proof),
        auth.listNodes(session.proof),
      ]);
      // A peer types on the node, so it needs the session's login there (as the join does).
      const mayType = (node: string, login: string) =>
        reachable.some((n) => n.name === node && n.logins.includes(login));
      const items = tracked.map((record) => {
        const here = hub.get(record.id)?.describe();
        return {
          id: record.id,
          user: record.user,
          login: record.login,
          node: record.node,
          kind: record.kind,
          proxy: record.proxyId,
          started: new Date(record.started).toISOString(),
          cols: here?.cols ?? record.cols,
          rows: here?.rows ?? record.rows,
          parties: here?.parties.map(({ user, mode }) => ({ user, mode })) ?? record.parties,
          // From any proxy: another proxy's session is joined over the peer link.
          join_modes: mayType(record.node, record.login) ? ["observer", "peer"] : ["observer"],
        };
      });
      return json({ items });
    }),
  );

  router.on(
    "DELETE",
    `${site}/sessions/:id`,
    withSession(auth, async (_request, { session, params }) => {
      checkCluster(params.cluster);
      await auth.endSession(session.proof, params.id);
      return json({ ok: true });
    }),
  );

  router.on(
    "GET",
    `${site}/status`,
    withSession(auth, async (_request, { session, params }) => {
      checkCluster(params.cluster);
      const status = await auth.adminAs(session.proof).clusterStatus();
      return json({
        cluster: status.cluster,
        auth_version: status.version,
        proxy_version: VERSION,
        store: {
          type: status.storage,
          ready: status.notReadyReason === null,
          reason: status.notReadyReason,
        },
        auth_servers: status.authServers.map((server) => ({
          id: server.id,
          addr: server.addr,
          version: server.version,
          started: new Date(server.started).toISOString(),
          last_seen: new Date(server.lastSeen).toISOString(),
        })),
        authorities: status.authorities.map((ca) => ({
          kind: ca.kind,
          fingerprint: ca.fingerprint,
          created: new Date(ca.created).toISOString(),
        })),
        proxies: status.proxies.map((proxy) => ({
          id: proxy.id,
          public_addr: proxy.publicAddr,
          ssh_public_addr: proxy.sshPublicAddr,
          last_seen: new Date(proxy.lastSeen).toISOString(),
        })),
        counts: {
          users: status.counts.users,
          nodes: status.counts.nodes,
          live_sessions: status.counts.liveSessions,
        },
      });
    }, "nodes"),
  );

  router.on(
    "GET",
    `${site}/recordings`,
    withSession(auth, async (_request, { session, params, url }) => {
      checkCluster(params.cluster);
      const q = url.searchParams;
      const { limit, offset } = pageParams(q, 200, 1000);
      // One more than asked for says whether there is a next page.
      const records = await auth.listRecordings(session.proof, {
        user: q.get("user")?.trim() || undefined,
        node: q.get("node")?.trim() || undefined,
        login: q.get("login")?.trim() || undefined,
        since: timeParam(q, "since"),
        until: timeParam(q, "until"),
        limit: limit + 1,
        offset,
      });
      return json({
        items: records.slice(0, limit).map(recordingJson),
        next_offset: records.length > limit ? offset + limit : null,
      });
    }),
  );

  router.on(
    "GET",
    `${site}/recordings/search`,
    withSession(auth, async (_request, { session, params, url }) => {
      checkCluster(params.cluster);
      const text = url.searchParams.get("q")?.trim() ?? "";
      if (text === "") throw new BadRequest(`Type some text to search for ("q").`);
      if (text.length > 500) throw new BadRequest(`Search for at most 500 characters.`);
      const { limit } = pageParams(url.searchParams, 50, 200);
      const hits = await auth.searchRecordings(session.proof, text, limit);
      return json({
        items: hits.map((hit) => ({
          recording: recordingJson(hit.recording),
          time: hit.time,
          stream: hit.stream,
          context: hit.context,
          line: hit.line,
        })),
      });
    }),
  );

  router.on(
    "GET",
    `${site}/recordings/:id`,
    withSession(auth, async (_request, { session, params }) => {
      checkCluster(params.cluster);
      return json(recordingJson(await auth.getRecording(session.proof, params.id)));
    }),
  );

  router.on(
    "GET",
    `${site}/recordings/:id/stream`,
    withSession(auth, async (_request, { session, params, url }) => {
      checkCluster(params.cluster);
      const record = await auth.getRecording(session.proof, params.id);
      const body = await recordings.open(session.proof, record.id);
      const headers: Record<string, string> = {
        "content-type": "application/x-asciicast; charset=utf-8",
        "cache-control": "no-store",
      };
      if (url.searchParams.get("download")) {
        headers["content-disposition"] = `attachment; filename="${record.id}.cast"`;
      }
      return new Response(body, { headers });
    }),
  );

  router.on(
    "GET",
    `${site}/audit`,
    withSession(auth, async (_request, { session, params, url }) => {
      checkCluster(params.cluster);
      const q = url.searchParams;
      const outcome = q.get("outcome");
      if (outcome && outcome !== "success" && outcome !== "failure") {
        throw new BadRequest(`"outcome" must be "success" or "failure".`);
      }
      const { limit, offset } = pageParams(q, 500, 5000);
      // One more than asked for says whether there is a next page.
      const found = await auth.queryAudit(session.proof, {
        since: timeParam(q, "since"),
        until: timeParam(q, "until"),
        codePrefix: q.get("code") || undefined,
        user: q.get("user") || undefined,
        success: outcome ? outcome === "success" : undefined,
        limit: limit + 1,
        offset,
        order: "desc",
      });
      const events = found.slice(0, limit);
      return json({
        items: events.map((e) => ({
          id: e.id,
          time: new Date(e.time).toISOString(),
          code: e.code,
          user: e.user,
          remote_addr: e.remoteAddr,
          success: e.success,
          fields: e.fields,
        })),
        next_offset: found.length > limit ? offset + limit : null,
      });
    }, "audit.read"),
  );
}
