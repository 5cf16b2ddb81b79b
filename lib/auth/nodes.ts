/**
 * The node registry of the auth role: nodes added by admins or declared in
 * the config, their pinned host keys (or the host-CA certificate they must
 * present), host certificates and setup scripts, and the RBAC decision of who
 * may reach which node as which login.
 *
 * @module
 */

import type { Config } from "../config/config.ts";
import { parseHostPort } from "../config/schema.ts";
import { AccessDenied, BadRequest, Conflict, NotFound } from "../errors.ts";
import {
  encodePublicKey,
  fingerprint,
  formatPublicKeyLine,
  parseCertificateLine,
  parsePublicKeyLine,
  verifyCertificate,
} from "../sshcert/mod.ts";
import type { NodeRecord, Store } from "../store/store.ts";
import type { AuditInput } from "./audit.ts";
import type { CertAuthority } from "./authority.ts";
import { canAccessNode, resolveRoles, type Role } from "./roles.ts";
import type { AuthorizedNode, Identity, NewNode, NodeView, TunnelTarget } from "./service.ts";
import { setupScript } from "./setup_script.ts";

/** Reads what a node presents as its SSH host identity, by connecting to it. */
export interface NodeProbe {
  /** The plain host key, as an authorized_keys line. */
  hostKey(addr: string): Promise<string>;
  /** The host certificate lines it presents (possibly none). */
  hostCertificates(addr: string): Promise<string[]>;
}

const NODE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

function notRegistered(target: string): NotFound {
  return new NotFound(
    `Node "${target}" is not registered with this proxy; run \`postern ls\` to see the nodes you can reach.`,
  );
}

/** Nodes and who may reach them. */
export class NodeRegistry {
  constructor(
    private readonly store: Store,
    private readonly ca: CertAuthority,
    private readonly roles: Map<string, Role>,
    private readonly probe: NodeProbe,
    private readonly audit: (event: AuditInput) => Promise<void>,
    private readonly cluster: string,
    private readonly now: () => number,
  ) {}

  /** Stores the nodes declared in the config file (source "config"). */
  async syncConfigNodes(nodes: Config["nodes"]): Promise<void> {
    // A node that left the config leaves the cluster; nodes added with
    // `postern nodes add` are not the config's to remove.
    const configured = new Set(nodes.map((node) => node.name));
    for (const node of await this.store.nodes.list()) {
      if (node.source === "config" && !configured.has(node.name)) {
        await this.store.nodes.delete(node.name);
      }
    }
    for (const node of nodes) {
      const existing = await this.store.nodes.get(node.name);
      await this.store.nodes.upsert({
        name: node.name,
        addr: node.addr,
        labels: node.labels,
        hostKey: node.host_key ?? existing?.hostKey ?? null,
        requireHostCert: node.require_host_cert,
        source: "config",
        created: existing?.created ?? this.now(),
      });
    }
  }

  async listNodes(identity: Identity): Promise<NodeView[]> {
    const nodes = await this.store.nodes.list();
    const user = {
      name: identity.user,
      logins: (await this.store.users.get(identity.user))?.logins ?? [],
    };
    const roles = resolveRoles(identity.roles.filter((r) => this.roles.has(r)), this.roles);
    return nodes
      .map((node) => ({
        name: node.name,
        addr: node.addr,
        labels: node.labels,
        logins: identity.logins.filter((login) => canAccessNode(user, roles, node.labels, login)),
        hostKey: node.hostKey,
      }))
      .filter((node) => node.logins.length > 0);
  }

  /** Finds a node by name (`saturn` or `saturn.<cluster>`) or registered address and checks `login` there. */
  async authorizeNode(identity: Identity, target: string, login: string): Promise<AuthorizedNode> {
    const nodes = await this.store.nodes.list();
    const node = this.#byName(nodes, target) ??
      nodes.find((n) => n.addr === target || n.addr.replace(/:22$/, "") === target);
    if (!node) throw notRegistered(target);
    return this.#authorize(identity, node, login);
  }

  /**
   * Resolves a tunnel target and checks `login` there. A node name may come
   * with any port (OpenSSH passes its default 22); an address must match a
   * registered node's address and port exactly. The exact address is looked
   * up first, so a node on a host's port 22 does not hide another node on
   * the same host.
   */
  async authorizeTarget(
    identity: Identity,
    target: TunnelTarget,
    login: string,
  ): Promise<AuthorizedNode> {
    const { host, port } = target;
    const address = `${host.includes(":") ? `[${host}]` : host}:${port ?? 22}`;
    const nodes = await this.store.nodes.list();
    const node = nodes.find((n) => n.addr === address) ?? this.#byName(nodes, host);
    if (!node) {
      // For a name (or OpenSSH's default port) the name's message fits; for
      // any other port, say which address is unknown.
      throw port === null || port === 22 ? notRegistered(host) : new NotFound(
        `No node is registered at ${address}; the proxy only connects to registered nodes. ` +
          "Run `postern ls` to see the nodes you can reach.",
      );
    }
    return this.#authorize(identity, node, login);
  }

  /** The node named `name`; `saturn.<cluster>` is saturn, the name `postern config` and the host CA line cover. */
  #byName(nodes: NodeRecord[], name: string): NodeRecord | undefined {
    const suffix = `.${this.cluster}`;
    const bare = name.endsWith(suffix) ? name.slice(0, -suffix.length) : name;
    return nodes.find((n) => n.name === bare);
  }

  async #authorize(identity: Identity, node: NodeRecord, login: string): Promise<AuthorizedNode> {
    const user = {
      name: identity.user,
      logins: (await this.store.users.get(identity.user))?.logins ?? [],
    };
    const roles = resolveRoles(identity.roles.filter((r) => this.roles.has(r)), this.roles);
    if (!canAccessNode(user, roles, node.labels, login)) {
      throw new AccessDenied(
        `User "${identity.user}" may not log in to node "${node.name}" as "${login}"; ` +
          `allowed logins there: ${
            identity.logins.filter((l) => canAccessNode(user, roles, node.labels, l)).join(", ") ||
            "none"
          }.`,
      );
    }
    return { node, login, identity };
  }

  async pinHostKey(node: string, hostKeyLine: string): Promise<void> {
    const record = await this.store.nodes.get(node);
    if (record && !record.hostKey) await this.store.nodes.update(node, { hostKey: hostKeyLine });
  }

  async addNode(node: NewNode, actor?: string): Promise<NodeRecord> {
    if (!NODE_NAME.test(node.name)) {
      throw new BadRequest(`Node name "${node.name}" must be letters, digits, ".", "_" or "-".`);
    }
    if (!parseHostPort(node.addr)) {
      throw new BadRequest(`Node address "${node.addr}" is not host:port.`);
    }
    if (await this.store.nodes.get(node.name)) {
      throw new Conflict(
        `Node "${node.name}" already exists; remove it first with postern nodes rm.`,
      );
    }
    if (node.hostKey) {
      // A pinned key that does not parse would refuse every later connection to the node.
      try {
        parsePublicKeyLine(node.hostKey);
      } catch (error) {
        throw new BadRequest(
          `Host key for node "${node.name}" is not an SSH public key line: ${
            (error as Error).message
          }`,
        );
      }
    }
    const hostKey = node.requireHostCert
      ? await this.#certifiedHostKey(node.name, node.addr)
      : node.hostKey || await this.probe.hostKey(node.addr);
    const record = await this.store.nodes.create({
      name: node.name,
      addr: node.addr,
      labels: node.labels,
      hostKey,
      requireHostCert: node.requireHostCert ?? false,
      source: "cli",
      created: this.now(),
    });
    await this.audit({
      code: "node.add",
      user: actor,
      fields: { node: node.name, addr: node.addr, host_key: fingerprintOfLine(hostKey) },
    });
    return record;
  }

  /** The host key certified for `name` by the host CA, as presented by the node. */
  async #certifiedHostKey(name: string, addr: string): Promise<string> {
    const host = parseHostPort(addr)!.hostname;
    for (const line of await this.probe.hostCertificates(addr)) {
      try {
        const { certificate } = parseCertificateLine(line);
        const verdict = verifyCertificate(certificate, {
          trustedCAs: [encodePublicKey(this.ca.hostCaKey)],
          type: "host",
          now: new Date(this.now()),
          clockSkewSeconds: 60,
        });
        const named = certificate.principals.includes(name) ||
          certificate.principals.includes(host);
        if (verdict.ok && named) return formatPublicKeyLine(certificate.publicKey);
      } catch {
        // Not a certificate we can read: try the next one.
      }
    }
    throw new AccessDenied(
      `Node "${name}" (${addr}) presents no host certificate signed by the postern host CA for its name; ` +
        `install one with \`postern nodes setup-script ${name}\` (or add it without --require-host-cert).`,
    );
  }

  listAllNodes(): Promise<NodeRecord[]> {
    return this.store.nodes.list();
  }

  async removeNode(name: string, actor?: string): Promise<void> {
    if (!(await this.store.nodes.delete(name))) throw new NotFound(`No node "${name}".`);
    await this.audit({ code: "node.remove", user: actor, fields: { node: name } });
  }

  async signHostCertificate(
    node: string,
    publicKeyLine: string,
    ttlMs = 365 * 86_400_000,
  ): Promise<string> {
    const record = await this.store.nodes.get(node);
    if (!record) throw new NotFound(`No node "${node}".`);
    let publicKey;
    try {
      publicKey = parsePublicKeyLine(publicKeyLine).key;
    } catch (error) {
      throw new BadRequest(`Not an SSH public key: ${(error as Error).message}`);
    }
    const host = parseHostPort(record.addr)!.hostname;
    const principals = [...new Set([node, `${node}.${this.cluster}`, host])];
    const signed = this.ca.signHost({
      publicKey,
      hostId: node,
      principals,
      ttlMs,
      now: this.now(),
    });
    await this.audit({ code: "node.host_cert", fields: { node, principals } });
    return signed.line;
  }

  async setupScript(node: string): Promise<string> {
    const record = await this.store.nodes.get(node);
    if (!record) throw new NotFound(`No node "${node}".`);
    const hostCert = record.hostKey
      ? await this.signHostCertificate(node, record.hostKey)
      : undefined;
    return setupScript({
      node,
      userCaLine: this.ca.userCaLine,
      hostKeyLine: record.hostKey,
      hostCert,
    });
  }
}

function fingerprintOfLine(line: string | null): string | null {
  if (!line) return null;
  try {
    return fingerprint(parsePublicKeyLine(line).key);
  } catch {
    return null;
  }
}
