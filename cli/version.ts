/**
 * `hactl version`: print the hactl version (and the Deno runtime it was built with).
 *
 * @module
 */
import { HACTL_VERSION } from "../src/types.ts";
import { writeOut } from "./io.ts";

export function run(args: string[], _env: Record<string, string> = {}): Promise<number> {
  if (args.includes("-h") || args.includes("--help")) {
    writeOut("Usage: hactl version\n\nPrint the hactl version and the Deno runtime version.\n");
    return Promise.resolve(0);
  }
  writeOut(`hactl version ${HACTL_VERSION} (deno ${Deno.version.deno})\n`);
  return Promise.resolve(0);
}
