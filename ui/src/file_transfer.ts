/// <reference lib="dom" />
/**
 * Moving files between the browser and a node through the proxy
 * (`/v1/webapi/sites/<cluster>/nodes/<node>/files`), with progress:
 * uploads with XMLHttpRequest (fetch reports no upload progress),
 * downloads with a streamed fetch saved as a file when complete.
 *
 * @module
 */

import { ApiError, errorFrom, sitePath } from "./api.ts";

/** Called as bytes move: how many so far, of how many (0 when unknown). */
export type Progress = (done: number, total: number) => void;

/** Where a file goes or comes from. */
export interface FileTarget {
  cluster: string;
  node: string;
  login: string;
  /** A path on the node; relative ones (and `~/...`) are in the login's home directory. */
  path: string;
  csrfToken: string;
}

/** The API URL of `target`. */
export function filesUrl(target: FileTarget): string {
  const query = new URLSearchParams({ login: target.login, path: target.path });
  return sitePath(target.cluster, `/nodes/${encodeURIComponent(target.node)}/files?${query}`);
}

/** `dir` joined with a file name, as the upload's destination. */
export function joinPath(dir: string, name: string): string {
  const base = dir.trim() || "~";
  return base.endsWith("/") ? `${base}${name}` : `${base}/${name}`;
}

/** The server's error message in an XHR's JSON answer. */
function xhrError(xhr: XMLHttpRequest): ApiError {
  try {
    const error = JSON.parse(xhr.responseText)?.error;
    if (typeof error?.message === "string") {
      return new ApiError(xhr.status, error.kind ?? "", error.message);
    }
  } catch {
    // Not JSON: say what the status says.
  }
  return new ApiError(xhr.status, "", `The upload failed (${xhr.status}). Try again in a moment.`);
}

/**
 * Uploads `file` to `target.path` on the node (replacing a file there).
 *
 * @throws ApiError with the server's reason
 */
export function uploadFile(file: Blob, target: FileTarget, onProgress: Progress): Promise<void> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("PUT", filesUrl(target));
    xhr.setRequestHeader("X-CSRF-Token", target.csrfToken);
    xhr.setRequestHeader("Content-Type", "application/octet-stream");
    xhr.upload.onprogress = (event) => onProgress(event.loaded, event.total);
    xhr.onload = () => xhr.status >= 200 && xhr.status < 300 ? resolve() : reject(xhrError(xhr));
    xhr.onerror = () =>
      reject(
        new ApiError(0, "", "The upload stopped: the connection to the proxy broke. Try again."),
      );
    xhr.send(file);
  });
}

/**
 * Downloads `target.path` from the node and saves it under its own name.
 *
 * @throws ApiError with the server's reason
 */
export async function downloadFile(target: FileTarget, onProgress: Progress): Promise<void> {
  const response = await fetch(filesUrl(target), {
    headers: { "X-CSRF-Token": target.csrfToken },
    credentials: "same-origin",
  }).catch(() => {
    throw new ApiError(0, "", "Cannot reach the proxy. Check your connection and try again.");
  });
  if (!response.ok) throw await errorFrom(response);
  const total = Number(response.headers.get("content-length") ?? 0);
  const chunks: Uint8Array[] = [];
  let done = 0;
  const reader = response.body!.getReader();
  for (;;) {
    const { value, done: end } = await reader.read();
    if (end) break;
    chunks.push(value);
    done += value.byteLength;
    onProgress(done, total);
  }
  const name = target.path.replace(/\/+$/, "").split("/").pop() || "download";
  const url = URL.createObjectURL(new Blob(chunks as BlobPart[]));
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  link.click();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
