/** @jsxImportSource preact */
/// <reference lib="dom" />
/**
 * The terminal's file transfer panel: upload files from this computer to a
 * directory on the node (the shell's current one when it reports it, else
 * the home directory), and download a file from the node, each with a
 * progress bar. Files travel through the proxy as the terminal's login.
 *
 * @module
 */

import { useEffect, useRef, useState } from "preact/hooks";
import { getCsrfToken, messageOf } from "../api.ts";
import { Field } from "../components/Field.tsx";
import { downloadFile, type FileTarget, joinPath, uploadFile } from "../file_transfer.ts";

/** One upload or download, as the panel lists it. */
interface Transfer {
  id: number;
  label: string;
  done: number;
  total: number;
  state: "running" | "done" | "failed";
  message: string;
}

function megabytes(bytes: number): string {
  return `${(bytes / 1e6).toFixed(bytes < 1e7 ? 1 : 0)} MB`;
}

function TransferRow({ transfer }: { transfer: Transfer }) {
  const { label, done, total, state, message } = transfer;
  return (
    <li class={`transfer transfer-${state}`} data-state={state}>
      <span class="transfer-label">{label}</span>
      <progress
        value={state === "done" ? 1 : total > 0 ? done / total : state === "failed" ? 0 : undefined}
        max={1}
        aria-label={`Progress of ${label}`}
      />
      <span class="transfer-message" role={state === "failed" ? "alert" : "status"}>
        {state === "running"
          ? `${megabytes(done)}${total ? ` of ${megabytes(total)}` : ""}`
          : message}
      </span>
    </li>
  );
}

/** Props of {@link TerminalFiles}. */
export interface TerminalFilesProps {
  cluster: string;
  node: string;
  login: string;
  /** The shell's current directory, when it has said (OSC 7). */
  directory: string | null;
  onClose: () => void;
}

/** The file transfer panel over the terminal. */
export function TerminalFiles({ cluster, node, login, directory, onClose }: TerminalFilesProps) {
  const [dir, setDir] = useState(directory ?? "~");
  const [download, setDownload] = useState("");
  const [transfers, setTransfers] = useState<Transfer[]>([]);
  const files = useRef<HTMLInputElement>(null);
  const nextId = useRef(1);
  useEffect(() => {
    if (directory) setDir(directory);
  }, [directory]);

  const target = (path: string): FileTarget => ({
    cluster,
    node,
    login,
    path,
    csrfToken: getCsrfToken(),
  });
  /** Runs one transfer, keeping its row up to date. */
  const run = async (
    label: string,
    move: (progress: (done: number, total: number) => void) => Promise<void>,
    success: string,
  ) => {
    const id = nextId.current++;
    const update = (change: Partial<Transfer>) =>
      setTransfers((all) => all.map((t) => t.id === id ? { ...t, ...change } : t));
    setTransfers((all) => [
      { id, label, done: 0, total: 0, state: "running", message: "" },
      ...all,
    ]);
    try {
      await move((done, total) => update({ done, total }));
      update({ state: "done", message: success });
    } catch (error) {
      update({ state: "failed", message: messageOf(error) });
    }
  };

  const onUpload = async (event: Event) => {
    event.preventDefault();
    const chosen = [...(files.current?.files ?? [])];
    if (files.current) files.current.value = "";
    await Promise.all(chosen.map((file) => {
      const path = joinPath(dir, file.name);
      return run(
        file.name,
        (progress) => uploadFile(file, target(path), progress),
        `Uploaded to ${path}`,
      );
    }));
  };
  const onDownload = async (event: Event) => {
    event.preventDefault();
    const path = download.trim();
    await run(path, (progress) => downloadFile(target(path), progress), `Downloaded ${path}`);
  };

  return (
    <section class="term-files" aria-label="File transfer">
      <div class="term-files-forms">
        <form class="filters" aria-label="Upload files" onSubmit={onUpload}>
          <Field
            id="upload-dir"
            label="Upload to directory"
            value={dir}
            onValue={setDir}
            autocapitalize="none"
            spellcheck={false}
            required
          />
          <div class="field">
            <label for="upload-files">Files</label>
            <input id="upload-files" name="files" type="file" multiple required ref={files} />
          </div>
          <button type="submit" class="btn btn-primary">Upload</button>
        </form>
        <form class="filters" aria-label="Download a file" onSubmit={onDownload}>
          <Field
            id="download-path"
            label="File on the node"
            placeholder="e.g. /var/log/syslog or ~/notes.txt"
            value={download}
            onValue={setDownload}
            autocapitalize="none"
            spellcheck={false}
            required
          />
          <button type="submit" class="btn btn-primary">Download</button>
        </form>
        <button type="button" class="btn btn-small term-files-close" onClick={onClose}>
          Close
        </button>
      </div>
      <p class="hint">
        Files move as {login} on{" "}
        {node}; paths without a leading / are in its home directory. Every transfer is audited.
      </p>
      {transfers.length > 0 && (
        <ul class="transfers" aria-label="Transfers">
          {transfers.map((t) => <TransferRow key={t.id} transfer={t} />)}
        </ul>
      )}
    </section>
  );
}
