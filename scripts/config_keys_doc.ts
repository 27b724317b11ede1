/**
 * Writes the table of every configuration key (src/config/key_doc.ts) into docs/configuration.md, between its
 * `keys:begin` and `keys:end` markers. Run `bash scripts/deno.sh run -A scripts/config_keys_doc.ts`, then
 * `bash scripts/deno.sh fmt docs/configuration.md`; a unit test fails while the page and the table differ.
 *
 * @module
 */
import { KEY_TABLE_BEGIN, KEY_TABLE_END, keyTableMarkdown } from "../src/config/key_doc.ts";

const page = new URL("../docs/configuration.md", import.meta.url);
const text = await Deno.readTextFile(page);
const begin = text.indexOf(KEY_TABLE_BEGIN);
const end = text.indexOf(KEY_TABLE_END);
if (begin < 0 || end < begin) {
  throw new Error("docs/configuration.md: the keys:begin / keys:end markers are missing");
}
await Deno.writeTextFile(
  page,
  `${text.slice(0, begin + KEY_TABLE_BEGIN.length)}\n\n${keyTableMarkdown()}\n\n${text.slice(end)}`,
);
