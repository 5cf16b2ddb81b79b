import assert from "node:assert/strict";
import { allCommands, commandsStartingWith, declaredWords } from "../../lib/cli/registry.ts";
import { lazyModuleFiles } from "../../lib/cli/lazy.ts";

Deno.test("the registry declares exactly the first words each command module defines", async () => {
  for (const { declared, defined } of await declaredWords()) {
    assert.deepEqual(declared, defined);
  }
});

Deno.test("commandsStartingWith() finds every command by its first word, and nothing else", async () => {
  const all = await allCommands();
  for (const word of new Set(all.map((c) => c.path[0]))) {
    const found = await commandsStartingWith(word);
    assert.deepEqual(
      found.map((c) => c.path.join(" ")),
      all.filter((c) => c.path[0] === word).map((c) => c.path.join(" ")),
    );
  }
  assert.deepEqual(await commandsStartingWith("frobnicate"), []);
});

Deno.test("every module the CLI imports lazily exists, for deno compile --include", async () => {
  for (const file of lazyModuleFiles) {
    assert.ok((await Deno.stat(file)).isFile, file);
  }
});
