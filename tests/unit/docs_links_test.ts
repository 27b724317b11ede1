/**
 * The operator documentation holds together: in README.md and every docs/**\/*.md, each relative link
 * (`[text](path)`, `[text](path#anchor)`, `[text](#anchor)`) points at a file or folder of the repository, and an
 * anchor into a markdown file matches one of its headings by GitHub's slug rule (lower-case, punctuation
 * removed, spaces to `-`, `-1`, `-2`, ... for repeated headings). README.md, the front page, stays at most
 * 12,000 bytes. Links inside code blocks and code spans are not links; `http:`, `https:`, `mailto:` and other
 * schemes are not checked.
 *
 * Reads the markdown files only; imports nothing from src/.
 *
 * @module
 */
import assert from "node:assert/strict";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

/** The largest README.md (the front page) in bytes. */
const README_MAX_BYTES = 12_000;

/** GitHub's anchor for a heading's text: lower-case, punctuation and symbols removed, each space a `-`. */
export function githubSlug(heading: string): string {
  return plainText(heading).toLowerCase().replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, "").replace(/ /g, "-");
}

/** A heading's rendered text: code-span backticks, emphasis marks and link targets dropped. */
function plainText(markdown: string): string {
  return markdown
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, "$1")
    .replace(/`/g, "")
    .replace(/(^|\s)[*_]{1,3}|[*_]{1,3}(?=\s|$)/g, "$1")
    .trim();
}

/** The lines of a markdown text outside fenced code blocks, with their 1-based line numbers. */
function proseLines(markdown: string): { line: string; at: number }[] {
  const out: { line: string; at: number }[] = [];
  let fence: string | null = null;
  markdown.split("\n").forEach((line, i) => {
    const m = /^\s*(`{3,}|~{3,})/.exec(line);
    if (m) {
      const mark = m[1]!;
      if (fence === null) fence = mark[0]!.repeat(mark.length);
      else if (mark[0] === fence[0] && mark.length >= fence.length) fence = null;
      return;
    }
    if (fence === null) out.push({ line, at: i + 1 });
  });
  return out;
}

/** Every anchor the headings of a markdown text produce, in order, repeats numbered as GitHub does. */
export function headingAnchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const anchors = new Set<string>();
  for (const { line } of proseLines(markdown)) {
    const m = /^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!m) continue;
    const base = githubSlug(m[1]!);
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    anchors.add(count === 0 ? base : `${base}-${count}`);
  }
  return anchors;
}

/** The link targets of a markdown text that are not URLs with a scheme, with their line numbers. */
export function relativeLinks(markdown: string): { target: string; at: number }[] {
  const out: { target: string; at: number }[] = [];
  for (const { line, at } of proseLines(markdown)) {
    // Code spans are not links; keep link texts that are code (`[`x`](y)`) by blanking only spans outside `[]`.
    const prose = line.replace(/(?<!\[)`[^`]*`(?!\])/g, (span) => " ".repeat(span.length));
    for (const m of prose.matchAll(/\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
      const target = m[1]!;
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue;
      out.push({ target, at });
    }
  }
  return out;
}

/** README.md and every markdown file under docs/, relative to the repository root. */
function markdownFiles(): string[] {
  const files = ["README.md"];
  const walk = (dir: string) => {
    for (const entry of Deno.readDirSync(join(ROOT, dir))) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory) walk(path);
      else if (entry.isFile && entry.name.endsWith(".md")) files.push(path);
    }
  };
  walk("docs");
  return files.sort();
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Every broken link of one markdown file (path relative to the root), as `<file>:<line>: <target>: <why>`. */
export function brokenLinks(file: string, text: string, readText: (path: string) => string): string[] {
  const problems: string[] = [];
  for (const { target, at } of relativeLinks(text)) {
    const hash = target.indexOf("#");
    const pathPart = hash < 0 ? target : target.slice(0, hash);
    const anchor = hash < 0 ? null : decodeURIComponent(target.slice(hash + 1));
    const where = `${file}:${at}: ${target}`;
    const absolute = pathPart === "" ? join(ROOT, file) : resolve(ROOT, dirname(file), decodeURI(pathPart));
    const inRepo = relative(ROOT, absolute);
    if (inRepo.startsWith("..")) {
      problems.push(`${where}: points outside the repository`);
      continue;
    }
    if (!exists(absolute)) {
      problems.push(`${where}: no such file ${inRepo}`);
      continue;
    }
    if (anchor === null) continue;
    if (!absolute.endsWith(".md")) {
      if (!/^L\d+(-L\d+)?$/.test(anchor)) {
        problems.push(`${where}: an anchor into a file that is not markdown`);
      }
      continue;
    }
    if (!headingAnchors(readText(absolute)).has(anchor)) {
      problems.push(`${where}: no heading with the anchor #${anchor} in ${inRepo}`);
    }
  }
  return problems;
}

Deno.test("githubSlug() turns headings into GitHub's anchors", () => {
  assert.equal(githubSlug("Quick start on real hosts"), "quick-start-on-real-hosts");
  assert.equal(githubSlug("Maintenance mode (pause)"), "maintenance-mode-pause");
  assert.equal(githubSlug("`POST /switchover`, `POST /failover`"), "post-switchover-post-failover");
  assert.equal(
    githubSlug("Tested with patronictl, HAProxy and vip-manager"),
    "tested-with-patronictl-haproxy-and-vip-manager",
  );
  assert.equal(githubSlug("`log.max_queue_size`"), "logmax_queue_size");
  assert.equal(githubSlug("1 primary + 2 replicas"), "1-primary--2-replicas");
  assert.equal(githubSlug("[Fencing](fencing.md) and *more*"), "fencing-and-more");
});

Deno.test("headingAnchors() numbers repeated headings and skips code blocks", () => {
  const md = "# Title\n\n## 2026-11-26\n\n```\n# not a heading\n```\n\n## 2026-11-26\n";
  assert.deepEqual([...headingAnchors(md)], ["title", "2026-11-26", "2026-11-26-1"]);
});

Deno.test("relativeLinks() finds relative links, not URLs, code spans or code blocks", () => {
  const md = [
    "See [install](docs/install.md#watchdog-device), [up](#top) and [`etcd3`](#etcd3).",
    "Not [web](https://example.com), not `[code](nowhere.md)`.",
    "```",
    "[in a block](nowhere.md)",
    "```",
  ].join("\n");
  assert.deepEqual(relativeLinks(md).map((l) => l.target), [
    "docs/install.md#watchdog-device",
    "#top",
    "#etcd3",
  ]);
});

Deno.test("brokenLinks() reports a missing file and a missing heading", () => {
  const md =
    "[a](docs/no_such_page.md) [b](docs/install.md#no-such-heading) [c](docs/install.md#watchdog-device)";
  const problems = brokenLinks("README.md", md, (path) => Deno.readTextFileSync(path));
  assert.equal(problems.length, 2, problems.join("\n"));
  assert.match(problems[0]!, /no such file docs\/no_such_page\.md/);
  assert.match(problems[1]!, /no heading with the anchor #no-such-heading in docs\/install\.md/);
});

Deno.test("every relative link in README.md and docs/ points at an existing file and heading", () => {
  const files = markdownFiles();
  assert.ok(files.includes("docs/README.md"), `docs/README.md (the index) is missing: ${files.join(", ")}`);
  const problems = files.flatMap((file) =>
    brokenLinks(file, Deno.readTextFileSync(join(ROOT, file)), (path) => Deno.readTextFileSync(path))
  );
  assert.deepEqual(problems, []);
});

Deno.test(`README.md, the front page, is at most ${README_MAX_BYTES} bytes`, () => {
  const size = Deno.statSync(join(ROOT, "README.md")).size;
  assert.ok(size <= README_MAX_BYTES, `README.md is ${size} bytes; move detail into docs/`);
});
