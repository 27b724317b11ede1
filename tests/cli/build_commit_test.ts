/**
 * How a binary learns its commit: scripts/build.sh runs scripts/lib/write_build_commit.sh on
 * src/core/build_commit.ts before `deno compile` (and puts the file back after). Here the script runs on a copy,
 * and the copy, imported, says the commit; a commit with characters that could break the module is refused.
 */
import assert from "node:assert/strict";

const REPO = new URL("../../", import.meta.url).pathname;

async function writeCommit(file: string, commit: string): Promise<{ code: number; stderr: string }> {
  const out = await new Deno.Command("bash", {
    args: [`${REPO}scripts/lib/write_build_commit.sh`, file, commit],
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
}

Deno.test("write_build_commit.sh puts the commit into a copy of build_commit.ts that still imports", async () => {
  const dir = await Deno.makeTempDir({ prefix: "hactl-commit-" });
  try {
    const file = `${dir}/build_commit.ts`;
    await Deno.copyFile(`${REPO}src/core/build_commit.ts`, file);
    const r = await writeCommit(file, "0123456789ab-dirty");
    assert.equal(r.code, 0, r.stderr);
    const mod = await import(`file://${file}`) as { BUILD_COMMIT: string };
    assert.equal(mod.BUILD_COMMIT, "0123456789ab-dirty");

    await Deno.copyFile(`${REPO}src/core/build_commit.ts`, `${dir}/second.ts`);
    const bad = await writeCommit(`${dir}/second.ts`, 'x";import("evil');
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /the commit must be/);
    // Nothing to replace (already written): refused rather than silently left as it was.
    const twice = await writeCommit(file, "fedcba987654");
    assert.notEqual(twice.code, 0);
    assert.match(twice.stderr, /could not write the commit/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
