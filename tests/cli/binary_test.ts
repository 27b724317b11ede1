/**
 * The binary: `deno compile` embeds exactly the module graph it can see statically: static imports and `import()`
 * of a string literal (Deno's manual: "statically analyzable dynamic imports ... will be included in the output").
 * So the graph of main.ts must be analyzable (main.ts alone may `import()` a command module by a literal name, so
 * each command loads only its own modules; nothing else uses `import()`, workers or source-relative file reads),
 * local or npm only (this workplace reaches neither JSR nor remote URLs), with every npm package pinned in
 * deno.lock. Also `hactl version`: the hactl version of deno.json and the Deno/V8/TypeScript versions it runs on.
 */
import assert from "node:assert/strict";
import { PATRONI_COMPATIBLE_VERSION } from "../../src/core/version.ts";

const REPO = new URL("../../", import.meta.url).pathname;
const dec = new TextDecoder();

interface InfoDependency {
  specifier: string;
  isDynamic?: boolean;
  code?: { specifier: string };
  type?: { specifier: string };
}
interface InfoModule {
  kind: string;
  specifier: string;
  npmPackage?: string;
  dependencies?: InfoDependency[];
}

async function denoInfo(entry: string): Promise<{ modules: InfoModule[] }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", entry],
    cwd: REPO,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  assert.equal(out.code, 0, dec.decode(out.stderr));
  return JSON.parse(dec.decode(out.stdout));
}

/** Problems in a `deno info` graph that a compiled binary would trip over. */
function graphProblems(modules: InfoModule[]): string[] {
  const problems: string[] = [];
  for (const m of modules) {
    if (m.kind === "esm" && !m.specifier.startsWith("file://")) problems.push(`remote module ${m.specifier}`);
    if (!["esm", "npm", "node"].includes(m.kind)) problems.push(`${m.kind} module ${m.specifier}`);
    for (const d of m.dependencies ?? []) {
      // main.ts loads each command's module when it runs (an `import()` of a literal, resolved here like a static one).
      if (d.isDynamic && !m.specifier.endsWith("/main.ts")) {
        problems.push(`${m.specifier}: dynamic import of ${d.specifier}`);
      }
      if (!d.code && !d.type) problems.push(`${m.specifier}: unresolved import ${d.specifier}`);
    }
  }
  return problems;
}

/** Source constructs `deno info` cannot see: computed `import()`, `require()`, workers, reads next to the source. */
function sourceProblems(path: string, text: string): string[] {
  const problems: string[] = [];
  text.split("\n").forEach((line, i) => {
    const at = `${path}:${i + 1}`;
    if (/^\s*(\/\/|\*)/.test(line)) return;
    // `import("./types.ts").T` is a type query (a value import() yields a promise, never read as `.T`): fine.
    for (const m of line.matchAll(/\bimport\s*\(\s*([^)]*)\)(\.[A-Za-z_]\w*)?/g)) {
      const literal = /^["']\.\/cli\/[a-z_]+\.ts["']$/.test(m[1]!.trim());
      const typeQuery = /^["'][^"']+["']$/.test(m[1]!.trim()) && m[2] !== undefined;
      if (!typeQuery && !(path === "main.ts" && literal)) problems.push(`${at}: dynamic import(${m[1]})`);
    }
    if (/\brequire\s*\(/.test(line)) problems.push(`${at}: require()`);
    if (/\bnew\s+Worker\s*\(/.test(line)) problems.push(`${at}: new Worker()`);
    // A path next to the source only exists in a checkout; allowed only where `deno run` is told apart.
    if (/import\.meta\.(url|dirname|filename)/.test(line) && !/underDeno/.test(line)) {
      problems.push(`${at}: import.meta path used at run time`);
    }
  });
  return problems;
}

async function sourceFiles(): Promise<string[]> {
  const files = ["main.ts"];
  for (const dir of ["cli", "src"]) {
    for await (const e of Deno.readDir(REPO + dir)) {
      if (e.isFile && e.name.endsWith(".ts")) files.push(`${dir}/${e.name}`);
    }
  }
  return files.sort();
}

Deno.test("the import graph of main.ts is analyzable, local or npm, and every module resolves", async () => {
  const info = await denoInfo("main.ts");
  assert.ok(info.modules.length > 30, `suspiciously small graph: ${info.modules.length} modules`);
  assert.deepEqual(graphProblems(info.modules), []);
  // Every file of cli/ and src/ that main.ts needs is in the graph (static imports and literal `import()` alike).
  const local = new Set(info.modules.filter((m) => m.kind === "esm").map((m) => m.specifier));
  for (
    const f of [
      "cli/agent.ts",
      "src/log/log.ts",
      "src/host/sd_notify.ts",
      "src/core/decide.ts",
      "src/dcs/etcd.ts",
    ]
  ) {
    assert.ok(local.has(new URL(f, "file://" + REPO).href), `${f} is not reached statically from main.ts`);
  }
});

Deno.test("every npm package in the graph is pinned in deno.lock", async () => {
  const info = await denoInfo("main.ts");
  const lock = JSON.parse(await Deno.readTextFile(REPO + "deno.lock")) as { npm: Record<string, unknown> };
  const used = info.modules.filter((m) => m.kind === "npm").map((m) => m.npmPackage!);
  assert.ok(used.length >= 4, `npm packages: ${used}`);
  assert.deepEqual(used.filter((p) => !(p in lock.npm)), []);
});

/** The modules `entry` loads before any `import()` runs: its closure over static imports only. */
function staticClosure(modules: InfoModule[], entry: string): InfoModule[] {
  const bySpecifier = new Map(modules.map((m) => [m.specifier, m]));
  const seen = new Set<string>();
  const todo = [new URL(entry, "file://" + REPO).href];
  while (todo.length > 0) {
    const s = todo.pop()!;
    if (seen.has(s)) continue;
    seen.add(s);
    for (const d of bySpecifier.get(s)?.dependencies ?? []) {
      if (!d.isDynamic && d.code) todo.push(d.code.specifier);
    }
  }
  return modules.filter((m) => seen.has(m.specifier));
}

Deno.test("main.ts loads a command's modules only when that command runs; the fencing supervisor loads no npm package", async () => {
  const info = await denoInfo("main.ts");
  const atStart = staticClosure(info.modules, "main.ts").map((m) =>
    m.specifier.replace("file://" + REPO, "")
  );
  assert.deepEqual(atStart.sort(), ["cli/lib/io.ts", "main.ts"]);
  const supervisor = staticClosure(info.modules, "cli/fence_supervisor.ts");
  assert.deepEqual(supervisor.filter((m) => m.kind !== "esm").map((m) => m.specifier), []);
  assert.ok(supervisor.length <= 4, `the supervisor loads ${supervisor.map((m) => m.specifier).join(", ")}`);
});

Deno.test("no source file of the binary uses dynamic import, require, workers or source-relative paths", async () => {
  const problems: string[] = [];
  for (const f of await sourceFiles()) problems.push(...sourceProblems(f, await Deno.readTextFile(REPO + f)));
  assert.deepEqual(problems, []);
});

Deno.test("the checks catch what they look for", async () => {
  assert.deepEqual(
    sourceProblems("x.ts", 'const m = await import(name);\nconst n = await import("./y.ts");'),
    [
      "x.ts:1: dynamic import(name)",
      'x.ts:2: dynamic import("./y.ts")',
    ],
  );
  assert.deepEqual(sourceProblems("x.ts", 'let p: Promise<import("./types.ts").PeerStatus[]>;'), []);
  // main.ts may import a command module by a literal name, and only that.
  assert.deepEqual(sourceProblems("main.ts", 'run: async () => (await import("./cli/agent.ts")).run(),'), []);
  assert.equal(sourceProblems("main.ts", "const m = await import(`./cli/${name}.ts`);").length, 1);
  assert.equal(sourceProblems("cli/agent.ts", 'const m = await import("./cli/list.ts");').length, 1);
  assert.equal(sourceProblems("x.ts", 'Deno.readTextFile(new URL("a.txt", import.meta.url));').length, 1);
  const dir = await Deno.makeTempDir({ prefix: "hactl-graph-" });
  try {
    await Deno.writeTextFile(
      `${dir}/a.ts`,
      'export const x = 1;\nexport const b = await import("./b.ts");\n',
    );
    await Deno.writeTextFile(`${dir}/b.ts`, "export const y = 2;\n");
    const problems = graphProblems((await denoInfo(`${dir}/a.ts`)).modules);
    assert.equal(problems.length, 1);
    assert.match(problems[0]!, /dynamic import of \.\/b\.ts/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("hactl version prints the version of deno.json, the advertised Patroni version, and the Deno, V8 and TypeScript versions", async () => {
  const config = JSON.parse(await Deno.readTextFile(REPO + "deno.json")) as { version: string };
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", REPO + "main.ts", "version"],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  assert.equal(out.code, 0, dec.decode(out.stderr));
  assert.equal(
    dec.decode(out.stdout),
    // Run from the source tree, the commit is unknown (scripts/build.sh writes it into a binary).
    `hactl version ${config.version} (commit unknown, Patroni-compatible ${PATRONI_COMPATIBLE_VERSION})\n` +
      `deno ${Deno.version.deno}, v8 ${Deno.version.v8}, typescript ${Deno.version.typescript}\n`,
  );
});
