/**
 * The man page, the shell completions and docs/cli.md's help blocks are made from hactl's own help text by
 * scripts/cli_reference.ts, and must be what the CLI prints now: `--check` fails when a file drifted. The bash
 * completion is run in a real bash, and the man page through groff with every warning on.
 */
import assert from "node:assert/strict";
import { collectHelp, optionsOf, renderBash, updateCliDoc } from "../../scripts/cli_reference.ts";

const REPO = new URL("../../", import.meta.url).pathname;
const dec = new TextDecoder();

async function sh(cmd: string, args: string[]): Promise<{ code: number; out: string; err: string }> {
  const o = await new Deno.Command(cmd, { args, cwd: REPO, stdout: "piped", stderr: "piped" }).output();
  return { code: o.code, out: dec.decode(o.stdout), err: dec.decode(o.stderr) };
}

Deno.test("the man page, the completions and docs/cli.md are current (scripts/cli_reference.ts --check)", async () => {
  const r = await sh(Deno.execPath(), ["run", "--allow-all", "scripts/cli_reference.ts", "--check"]);
  assert.equal(r.code, 0, r.err);
});

Deno.test("the check is not vacuous: a changed help text changes the completion and the docs", async () => {
  const commands = await collectHelp();
  const changed = commands.map((c) =>
    c.name === "list"
      ? { ...c, help: c.help.replace("  -h, --help", "  --frobnicate   new\n  -h, --help") }
      : c
  );
  assert.notEqual(renderBash(changed), renderBash(commands));
  const doc = await Deno.readTextFile(`${REPO}docs/cli.md`);
  assert.notEqual(updateCliDoc(doc, changed), updateCliDoc(doc, commands));
  assert.ok(optionsOf(changed.find((c) => c.name === "list")!.help).includes("--frobnicate"));
  assert.deepEqual(
    optionsOf("  -c, --config-file FILE  x\n  --leader, --primary NAME y\n  -W  every 2 s\n"),
    ["--config-file", "--leader", "--primary", "--help"],
  );
});

Deno.test("bash completes commands, and each command's options after global options", async () => {
  const complete = async (words: string[]) => {
    const script =
      `source scripts/completion/hactl.bash; COMP_WORDS=(${words.map((w) => `'${w}'`).join(" ")}); ` +
      `COMP_CWORD=${words.length - 1}; _hactl; printf '%s\\n' "\${COMPREPLY[@]}"`;
    const r = await sh("bash", ["-c", script]);
    assert.equal(r.code, 0, r.err);
    return r.out.trim().split("\n").filter((l) => l !== "");
  };
  assert.deepEqual(await complete(["hactl", "swi"]), ["switchover"]);
  assert.deepEqual(await complete(["hactl", "re"]), ["reinit", "restart", "reload", "resume", "remove"]);
  assert.deepEqual(await complete(["hactl", "-c", "f.yml", "switchover", "--wa"]), [
    "--wait",
    "--wait-timeout",
  ]);
  assert.deepEqual(await complete(["hactl", "list", "--ext"]), ["--extended"]);
  assert.deepEqual(await complete(["hactl", "--ver"]), ["--version"]);
});

Deno.test("the man page renders without a groff warning and has a section per command", async () => {
  const warnings = await sh("groff", ["-man", "-Tutf8", "-ww", "-z", "docs/man/hactl.1"]);
  assert.equal(warnings.code, 0, warnings.err);
  assert.equal(warnings.err, "");
  const page = await sh("groff", ["-man", "-Tascii", "-P-cbou", "docs/man/hactl.1"]);
  for (const c of await collectHelp()) {
    assert.match(page.out, new RegExp(`^   ${c.name}$`, "m"), `no section for ${c.name}`);
  }
  assert.match(page.out, /^EXIT STATUS$/m);
  assert.match(page.out, /^ {7}78 +Invalid +configuration/m);
});
