/**
 * What the store says when it refuses a change, written once for every
 * backend: how a violated constraint becomes a `Conflict` or `NotFound`, and
 * the messages of those its tables throw.
 *
 * @module
 */

import { Conflict, NotFound } from "../errors.ts";

/**
 * Why a row could not be created: its key is taken (`unique`, a Conflict),
 * or the row it refers to does not exist (`foreignKey`, a NotFound).
 */
export interface ConstraintMessages {
  unique: string;
  foreignKey?: string;
}

/** Which constraint a failed write violated, as a backend reads its error. */
export type ConstraintKind = "unique" | "foreign_key" | "other" | null;

/**
 * The typed error a write that violated a constraint becomes: a duplicate key
 * a Conflict, a missing referenced row a NotFound (when `messages` says how
 * to explain it); anything else `cause` itself.
 *
 * @param kind which constraint `cause` violated, if any
 * @param messages what to say
 * @param cause the database's error
 */
export function constraintError(
  kind: ConstraintKind,
  messages: ConstraintMessages,
  cause: unknown,
): unknown {
  if (kind === "unique") return new Conflict(messages.unique, { cause });
  if (kind === "foreign_key" && messages.foreignKey) {
    return new NotFound(messages.foreignKey, { cause });
  }
  return cause;
}

/** The {@link ConstraintMessages} of creating each kind of row. */
export const cannotCreate = {
  user: (name: string): ConstraintMessages => ({
    unique: `Cannot create user "${name}": a user of that name exists`,
  }),
  invite: (user: string): ConstraintMessages => ({
    unique: "Cannot create the invite: its token is already in use",
    foreignKey: `Cannot create an invite for "${user}": no such user`,
  }),
  node: (name: string): ConstraintMessages => ({
    unique: `Cannot add node "${name}": a node of that name exists`,
  }),
  webSession: (user: string): ConstraintMessages => ({
    unique: "Cannot create the web session: its id is already in use",
    foreignKey: `Cannot create a web session for "${user}": no such user`,
  }),
  session: (id: string): ConstraintMessages => ({
    unique: `Cannot record session "${id}": that id exists`,
  }),
  credential: (user: string): ConstraintMessages => ({
    unique: "Cannot register this security key: it is registered already",
    foreignKey: `Cannot register a security key for "${user}": no such user`,
  }),
  cliLogin: (): ConstraintMessages => ({
    unique: "Cannot start the login: its code is taken; try again",
  }),
};

/** The NotFound of a change to a user, node or session that does not exist. */
export const notFound = {
  updateUser: (name: string): NotFound =>
    new NotFound(`Cannot update user "${name}": no such user`),
  reserveLoginAttempt: (name: string): NotFound =>
    new NotFound(`Cannot reserve a login attempt for "${name}": no such user`),
  recordLoginFailure: (name: string): NotFound =>
    new NotFound(`Cannot record a login failure for "${name}": no such user`),
  lockUser: (name: string): NotFound => new NotFound(`Cannot lock user "${name}": no such user`),
  /** Of the changes to a user's second factors. */
  user: (name: string): NotFound => new NotFound(`No user "${name}".`),
  updateNode: (name: string): NotFound =>
    new NotFound(`Cannot update node "${name}": no such node`),
  endSession: (id: string): NotFound => new NotFound(`Cannot end session "${id}": no such session`),
};
