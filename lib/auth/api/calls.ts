/**
 * The AuthService calls a proxy makes over the Auth API by name: the server
 * lets a proxy make these (and nothing else of AuthService), and the client
 * forwards them as they are. Administration travels separately (ADMIN_CALLS
 * in lib/auth/admin_scope.ts), always scoped to a user or an admin identity.
 *
 * @module
 */

import type { AuthService } from "../service.ts";

/** Every AuthService method a proxy calls remotely, except those with a transport of their own. */
export const PROXY_CALLS = [
  "authenticate",
  "issueUserCertificate",
  "startCliLogin",
  "getCliLogin",
  "approveCliLogin",
  "pollCliLogin",
  "needsSessionMfa",
  "approveSessionMfa",
  "createWebSession",
  "getWebSession",
  "deleteWebSession",
  "listWebSessions",
  "endWebSession",
  "webSessionAgent",
  "beginWebAuthnLogin",
  "createPasskeyWebSession",
  "beginSsoLogin",
  "finishSsoLogin",
  "getInvite",
  "beginInviteEnrollment",
  "beginInviteWebAuthn",
  "completeInvite",
  "changePassword",
  "listSecondFactors",
  "beginWebAuthnRegistration",
  "finishWebAuthnRegistration",
  "removeSecurityKey",
  "beginTotpReenrollment",
  "confirmTotpReenrollment",
  "identityOf",
  "listNodes",
  "authorizeNode",
  "authorizeTarget",
  "issueTunnelTicket",
  "redeemTunnelTicket",
  "signNodeLogin",
  "hostCaKnownHosts",
  "signProxyHostCertificate",
  "pinHostKey",
  "registerProxy",
  "audit",
  "queryAudit",
  "recordSessionStart",
  "recordSessionEnd",
  "appendRecording",
  "heartbeatSessions",
  "listLiveSessions",
  "endSession",
  "locateSession",
  "listRecordings",
  "searchRecordings",
  "getRecording",
  "revocationsSince",
  "lastRevocationId",
  "useRequestNonce",
  "notReadyReason",
] as const satisfies readonly (keyof AuthService)[];
