/**
 * `hactl version`: print the hactl version (first line, as `patronictl version X`), then the Deno runtime the
 * binary was built with: Deno, V8 and TypeScript versions.
 *
 * @module
 */
import { HACTL_VERSION } from "../src/types.ts";
import { writeOut } from "./io.ts";

export function run(args: string[], _env: Record<string, string> = {}): Promise<number> {
  if (args.includes("-h") || args.includes("--help")) {
    writeOut(
      "Usage: hactl version\n\nPrint the hactl version and the versions of Deno, V8 and TypeScript it runs on.\n",
    );
    return Promise.resolve(0);
  }
  writeOut(`hactl version ${HACTL_VERSION}\n${runtimeVersions()}\n`);
  return Promise.resolve(0);
}

/** `deno 2.9.6, v8 13.0.245.12-rusty, typescript 5.6.2`: the runtime compiled into the binary. */
export function runtimeVersions(): string {
  return `deno ${Deno.version.deno}, v8 ${Deno.version.v8}, typescript ${Deno.version.typescript}`;
}
