/**
 * A temporary directory for one test, removed afterwards whatever the test does.
 *
 * @module
 */

/** Run `fn` with a fresh directory named `<prefix>XXXX` and remove it afterwards. */
export async function withTempDir(prefix: string, fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
