/** @jsxImportSource preact */
/// <reference lib="dom" />
/**
 * Labels and role names shown as chips.
 *
 * @module
 */

/** Renders strings as chips; clicking one calls `onPick` when given. */
export function Chips(
  { items, onPick, empty = "—" }: {
    items: string[];
    onPick?: (item: string) => void;
    empty?: string;
  },
) {
  if (items.length === 0) return <span class="muted">{empty}</span>;
  return (
    <ul class="chips">
      {items.map((item) => (
        <li key={item}>
          {onPick
            ? (
              <button
                type="button"
                class="chip chip-button"
                title={`Filter by ${item}`}
                onClick={() => onPick(item)}
              >
                {item}
              </button>
            )
            : <span class="chip">{item}</span>}
        </li>
      ))}
    </ul>
  );
}
