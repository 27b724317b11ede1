/**
 * Callback command lines are split like a shell splits plain words and quotes, and the runner appends
 * `<action> <role> <scope>` as Patroni does.
 */
import assert from "node:assert/strict";
import { ProcessCallbackRunner, splitCommand } from "../../src/pg/callbacks.ts";

Deno.test("splitCommand() splits words and honours single and double quotes", () => {
  assert.deepEqual(splitCommand("/usr/bin/cb"), ["/usr/bin/cb"]);
  assert.deepEqual(splitCommand("  /bin/sh  /etc/cb.sh  pg1 "), ["/bin/sh", "/etc/cb.sh", "pg1"]);
  assert.deepEqual(splitCommand(`cb --label "two words" 'it''s'`), ["cb", "--label", "two words", "its"]);
  assert.deepEqual(splitCommand(`cb "a \\"quoted\\" word"`), ["cb", 'a "quoted" word']);
  assert.deepEqual(splitCommand(""), []);
});

Deno.test("splitCommand() joins quoted parts inside a word, as Python's shlex.split does for Patroni", () => {
  // Patroni's acceptance harness writes a bootstrap method's command this way.
  assert.deepEqual(
    splitCommand(
      `python3 backup.py --walmethod=stream --dbname="password=x host=127.0.0.1 user=r" --sleep 0`,
    ),
    [
      "python3",
      "backup.py",
      "--walmethod=stream",
      "--dbname=password=x host=127.0.0.1 user=r",
      "--sleep",
      "0",
    ],
  );
  assert.deepEqual(splitCommand(`a'b c'"d e"f`), ["ab cd ef"]);
  assert.deepEqual(splitCommand(`cb "" ''`), ["cb", "", ""]);
  assert.deepEqual(splitCommand(String.raw`cb two\ words \"x`), ["cb", "two words", '"x']);
  assert.deepEqual(splitCommand(String.raw`cb "a\\b \$HOME"`), ["cb", String.raw`a\b \$HOME`]);
});

Deno.test("splitCommand() refuses what Python's shlex.split refuses: an unclosed quote, a trailing backslash", () => {
  for (const text of [`cb "abc`, `cb 'x`, "cb 'x\\", 'cb "a\\"']) {
    assert.throws(() => splitCommand(text), { message: "no closing quotation" }, text);
  }
  for (const text of ["cb \\", 'cb "a\\']) {
    assert.throws(() => splitCommand(text), { message: "no escaped character" }, text);
  }
  assert.deepEqual(splitCommand("cb a\\ "), ["cb", "a "]);
});

Deno.test("ProcessCallbackRunner runs `<command> <action> <role> <scope>`, reporting promoted as primary", async () => {
  const dir = await Deno.makeTempDir({ prefix: "hactl-cb-" });
  try {
    await Deno.writeTextFile(`${dir}/cb.sh`, `#!/bin/sh\necho "$1|$2|$3|$4|$5" >> "${dir}/out"\n`, {
      mode: 0o755,
    });
    const errors: string[] = [];
    const runner = new ProcessCallbackRunner(
      { on_role_change: `/bin/sh ${dir}/cb.sh "first arg"` },
      "batman",
      (m) => errors.push(m),
    );
    runner.fire("on_role_change", "promoted");
    runner.fire("on_start", "replica"); // not configured: nothing runs
    const deadline = Date.now() + 10_000;
    let out = "";
    while (Date.now() < deadline) {
      out = await Deno.readTextFile(`${dir}/out`).catch(() => "");
      if (out.includes("\n")) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(out, "first arg|on_role_change|primary|batman|\n");
    assert.deepEqual(errors, []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
