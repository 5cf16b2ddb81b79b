/** @jsxImportSource preact */
/// <reference lib="dom" />
/**
 * The table a list page shows: the error of its load (or of the page's last
 * action) above it, column headings, one row per item, and a row saying it is
 * still loading or has nothing to show. Pages keep what is particular to them:
 * the columns, how an item becomes a row, and the messages.
 *
 * @module
 */

import type { ComponentChildren, VNode } from "preact";
import type { Loaded } from "../hooks.ts";
import { ErrorAlert } from "./Alert.tsx";

/** Props of {@link DataTable}. */
export interface DataTableProps<T> {
  /** The table's `data-testid`, which browser tests find it by. */
  testId: string;
  /** The load behind the rows: its error shows above the table, its first load as the loading row. */
  load: Pick<Loaded<unknown>, "data" | "loading" | "error">;
  /** An error of the page's own (a failed action); shown instead of the load's while set. */
  error?: string | null;
  /** Column headings, in order. */
  columns: string[];
  /** Heading of a last column of buttons; only screen readers read it. */
  actions?: string;
  /** The items shown, in order. */
  rows: readonly T[];
  /** One `<tr>` (with a `key`) per item. */
  row: (item: T) => VNode;
  /** What to say when the load has finished and `rows` is empty. */
  empty: ComponentChildren;
  /** What to say while the first load runs. */
  loading: ComponentChildren;
  /**
   * Tighter cells, for tables with many rows.
   * @default {false}
   */
  compact?: boolean;
  /** Makes some columns' headings buttons that sort the table by them. */
  sort?: TableSort;
}

/** Sorting by column: which columns can sort, which does, and which way. */
export interface TableSort {
  /** Column headings that sort the table, with the key each stands for. */
  keys: Record<string, string>;
  /** The key the rows are sorted by now. */
  by: string;
  descending: boolean;
  /** Asked to sort by `key` (the page flips the order when it is already sorted by it). */
  onSort: (key: string) => void;
}

/** A column heading: a button that sorts by it, when it can. */
function Heading({ title, sort }: { title: string; sort?: TableSort }) {
  const key = sort?.keys[title];
  if (!sort || !key) return <th scope="col">{title}</th>;
  const active = sort.by === key;
  return (
    <th
      scope="col"
      aria-sort={active ? (sort.descending ? "descending" : "ascending") : "none"}
    >
      <button type="button" class="th-sort" onClick={() => sort.onSort(key)}>
        {title}
        <span class="th-sort-mark" aria-hidden="true">
          {active ? (sort.descending ? "▼" : "▲") : "⇅"}
        </span>
      </button>
    </th>
  );
}

/**
 * A stacked, horizontally scrollable table with error, loading and empty states.
 *
 * @example
 * ```tsx
 * <DataTable
 *   testId="users-table"
 *   load={users}
 *   columns={["Name"]}
 *   actions="Actions"
 *   rows={items}
 *   row={(user) => <tr key={user.name}><td>{user.name}</td><td>…</td></tr>}
 *   empty="No users yet."
 *   loading="Loading users…"
 * />
 * ```
 */
export function DataTable<T>(props: DataTableProps<T>) {
  const { testId, load, error, columns, actions, rows, row, empty, loading, compact, sort } = props;
  const cols = columns.length + (actions === undefined ? 0 : 1);
  return (
    <>
      <ErrorAlert message={error ?? load.error} />
      <div class="table-wrap">
        <table
          class={compact ? "table table-compact table-stack" : "table table-stack"}
          data-testid={testId}
        >
          <thead>
            <tr>
              {columns.map((title) => <Heading key={title} title={title} sort={sort} />)}
              {actions !== undefined && (
                <th scope="col">
                  <span class="visually-hidden">{actions}</span>
                </th>
              )}
            </tr>
          </thead>
          <tbody>
            {rows.map((item) => row(item))}
            {!!load.data && rows.length === 0 && <EmptyRow cols={cols}>{empty}</EmptyRow>}
            {!load.data && load.loading && <EmptyRow cols={cols}>{loading}</EmptyRow>}
          </tbody>
        </table>
      </div>
    </>
  );
}

/** A row spanning all columns, for the loading and empty messages. */
function EmptyRow({ cols, children }: { cols: number; children: ComponentChildren }) {
  return (
    <tr class="empty-row">
      <td colSpan={cols}>{children}</td>
    </tr>
  );
}

/** A button that loads the page's data again; disabled while a load runs. */
export function RefreshButton({ load }: { load: Pick<Loaded<unknown>, "loading" | "reload"> }) {
  return (
    <button type="button" class="btn" onClick={load.reload} disabled={load.loading}>
      Refresh
    </button>
  );
}
