/**
 * Replays every scenario in `tests/sim/testdata/*.txt` through the simulator and compares the produced transcript
 * with the file. `HACTL_SIM_REWRITE=1` rewrites the files instead (commit the diff only when it is understood).
 *
 * @module
 */
import assert from "node:assert/strict";
import { replayTranscript } from "./transcript.ts";

const dir = new URL("./testdata/", import.meta.url);
const rewrite = Deno.env.get("HACTL_SIM_REWRITE") === "1";

const files = [...Deno.readDirSync(dir)]
  .filter((e) => e.isFile && e.name.endsWith(".txt"))
  .map((e) => e.name)
  .sort();

for (const name of files) {
  const url = new URL(name, dir);
  const source = Deno.readTextFileSync(url);
  const intent = source.split("\n")[0]!.replace(/^#\s*/, "");
  Deno.test(`sim transcript ${name}: ${intent}`, async () => {
    assert.ok(source.startsWith("#"), `${name}: a transcript opens with a "#" line stating its intent`);
    const produced = await replayTranscript(source, name);
    if (rewrite) {
      if (produced !== source) Deno.writeTextFileSync(url, produced);
      return;
    }
    assert.equal(
      produced,
      source,
      `${name}: the transcript changed; rerun with HACTL_SIM_REWRITE=1 and review`,
    );
  });
}
