/** @jsxImportSource preact */
/// <reference lib="dom" />
/**
 * Page scaffolding: a heading with optional actions, the document title, and
 * titled sections. Tables are in DataTable.tsx.
 *
 * @module
 */

import type { ComponentChildren } from "preact";
import { useEffect } from "preact/hooks";

/** Sets `document.title` to "<title> · postern" while mounted. */
export function useTitle(title: string): void {
  useEffect(() => {
    document.title = `${title} · postern`;
  }, [title]);
}

/** A page heading, an optional description and actions on the right. */
export function PageHeader(
  { title, description, children }: {
    title: string;
    description?: ComponentChildren;
    children?: ComponentChildren;
  },
) {
  useTitle(title);
  return (
    <div class="page-header">
      <div>
        <h1>{title}</h1>
        {description && <p class="muted">{description}</p>}
      </div>
      {children && <div class="page-actions">{children}</div>}
    </div>
  );
}

/** A titled card; its heading names the region for assistive tech and tests. */
export function Section(
  { id, title, children, description }: {
    id: string;
    title: string;
    children: ComponentChildren;
    description?: ComponentChildren;
  },
) {
  return (
    <section class="card" aria-labelledby={`${id}-title`}>
      <h2 id={`${id}-title`}>{title}</h2>
      {description && <p class="muted">{description}</p>}
      {children}
    </section>
  );
}
