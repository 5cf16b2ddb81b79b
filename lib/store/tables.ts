/**
 * What the store classes of every backend are made from: a store holds its
 * tables as its own fields (`store.users`, `tx.users`), and the view handed
 * to a transaction function behaves the same on every backend.
 *
 * @module
 */

import type { Store, StoreTables } from "./store.ts";

/**
 * A base class whose instances carry `tables` as their own fields: a
 * backend's store classes extend it and add transactions, ping and close.
 *
 * @example
 * ```ts
 * class MyStore extends WithTables implements Store {
 *   constructor(db: Db) {
 *     super(myTables(db));
 *   }
 *   // transaction, ping, close
 * }
 * ```
 */
export const WithTables = class {
  constructor(tables: StoreTables) {
    Object.assign(this, tables);
  }
} as new (tables: StoreTables) => StoreTables;

/**
 * The view of a store handed to a transaction function: the tables of that
 * transaction. A nested transaction joins it; it cannot be closed.
 */
export class TransactionView extends WithTables implements Store {
  transaction<T>(fn: (tx: Store) => Promise<T>): Promise<T> {
    return fn(this);
  }

  ping(): Promise<void> {
    return Promise.resolve();
  }

  close(): Promise<void> {
    return Promise.reject(new Error("Cannot close the store from inside a transaction"));
  }
}
