/** @jsxImportSource preact */
/// <reference lib="dom" />
/**
 * Pages of a long list: Previous and Next, the page number and how many
 * rows a page shows. The list's page keeps both in its URL.
 *
 * @module
 */

/** Page sizes offered. */
export const PAGE_SIZES = [10, 25, 50, 100];

/** Props of {@link Pager}. */
export interface PagerProps {
  /** What the list is, for the navigation's name ("Recordings pages"). */
  label: string;
  /** The page shown, from 1. */
  page: number;
  /** Whether a page comes after this one. */
  hasNext: boolean;
  perPage: number;
  /** Disables the buttons while a page loads. */
  busy?: boolean;
  onPage: (page: number) => void;
  onPerPage: (perPage: number) => void;
}

/**
 * Previous / Page n / Next, and a page size.
 *
 * @example
 * ```tsx
 * <Pager label="Recordings" page={2} hasNext perPage={25} onPage={go} onPerPage={resize} />
 * ```
 */
export function Pager(
  { label, page, hasNext, perPage, busy, onPage, onPerPage }: PagerProps,
) {
  const id = `${label.toLowerCase().replace(/\W+/g, "-")}-per-page`;
  return (
    <nav class="pager" aria-label={`${label} pages`}>
      <button
        type="button"
        class="btn btn-small"
        disabled={busy || page <= 1}
        onClick={() => onPage(page - 1)}
      >
        Previous
      </button>
      <span class="pager-page" data-testid="page-number">Page {page}</span>
      <button
        type="button"
        class="btn btn-small"
        disabled={busy || !hasNext}
        onClick={() => onPage(page + 1)}
      >
        Next
      </button>
      <span class="field field-inline pager-size">
        <label for={id}>Per page</label>
        <select
          id={id}
          value={String(perPage)}
          onChange={(e) => onPerPage(Number(e.currentTarget.value))}
        >
          {PAGE_SIZES.map((size) => <option key={size} value={String(size)}>{size}</option>)}
        </select>
      </span>
    </nav>
  );
}

/** A page number from the URL: a whole number from 1, else 1. */
export function pageFromQuery(value: string | null): number {
  const page = Math.trunc(Number(value));
  return page >= 1 ? page : 1;
}

/** A page size from the URL: one of {@link PAGE_SIZES}, else `fallback`. */
export function perPageFromQuery(value: string | null, fallback = 25): number {
  const size = Number(value);
  return PAGE_SIZES.includes(size) ? size : fallback;
}
