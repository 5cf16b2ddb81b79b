/// <reference lib="dom" />
/**
 * The audit page's export: every event matching the filters, fetched a page
 * at a time from the API, as a JSON or CSV file the browser downloads.
 *
 * @module
 */

import type { AuditEvent } from "./types.ts";

/** The columns of the CSV export, in order; `fields` holds the details as JSON. */
export const CSV_COLUMNS = ["id", "time", "code", "user", "remote_addr", "success", "fields"];

/**
 * One CSV cell (RFC 4180): quoted when it holds a comma, quote or line
 * break. A cell a spreadsheet would run as a formula (starting with = + - @,
 * a tab or a carriage return) gets a leading apostrophe: audit details carry
 * text users typed, such as commands.
 */
export function csvCell(value: unknown): string {
  let text = value === null || value === undefined
    ? ""
    : typeof value === "string"
    ? value
    : typeof value === "object"
    ? JSON.stringify(value)
    : String(value);
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** Audit events as CSV: a header line, then one line per event (CRLF line ends). */
export function auditCsv(events: AuditEvent[]): string {
  const lines = [CSV_COLUMNS.join(",")];
  for (const event of events) {
    lines.push(CSV_COLUMNS.map((column) => csvCell(event[column as keyof AuditEvent])).join(","));
  }
  return lines.join("\r\n") + "\r\n";
}

/** Audit events as pretty-printed JSON (an array). */
export function auditJson(events: AuditEvent[]): string {
  return JSON.stringify(events, null, 2) + "\n";
}

/** Makes the browser save `text` as a file called `name`. */
export function downloadText(name: string, type: string, text: string): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  // The download has started from the click; the URL is no longer needed.
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
