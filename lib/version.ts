/** postern's version, printed by `postern version` and sent in the SSH banner. */
export const VERSION = "0.1.0";
