/**
 * postern: identity-aware SSH access proxy. One executable runs the proxy
 * (`postern start`), its admin commands and the user CLI.
 *
 * @module
 */

import { main } from "./lib/cli/main.ts";

Deno.exit(await main(Deno.args));
