/**
 * Rewrites the configuration reference table in README.md from the schema
 * (between the `<!-- config-reference -->` markers). A unit test fails when
 * the README is stale.
 *
 * @module
 */

import { join } from "node:path";
import { configReference } from "../lib/config/config.ts";

const path = join(import.meta.dirname!, "..", "README.md");
const readme = await Deno.readTextFile(path);
const updated = readme.replace(
  /<!-- config-reference -->[\s\S]*<!-- \/config-reference -->/,
  `<!-- config-reference -->\n${configReference()}\n<!-- /config-reference -->`,
);
await Deno.writeTextFile(path, updated);
