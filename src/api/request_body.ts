/**
 * The JSON object body of a control request, read with limits (64 KiB, 64 levels of nesting) and refused with
 * the 400/411 answers Patroni gives for an unusable one.
 *
 * May import: nothing.
 *
 * @module
 */

const MAX_BODY_BYTES = 64 * 1024;
const MAX_BODY_DEPTH = 64;

/** How deeply objects and arrays nest in a parsed JSON value (iterative: any depth is safe to measure). */
function jsonDepth(root: unknown): number {
  let max = 0;
  const stack: [unknown, number][] = [[root, 1]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (v === null || typeof v !== "object") continue;
    if (depth > max) max = depth;
    for (const child of Object.values(v as Record<string, unknown>)) stack.push([child, depth + 1]);
  }
  return max;
}

/** The request body as a JSON object, or the 400/411 Patroni answers for an unusable one. */
export async function readJsonObject(
  req: Request,
): Promise<{ value: Record<string, unknown> } | { status: number; error: string }> {
  let text: string;
  const tooLarge = { status: 400, error: `request body over ${MAX_BODY_BYTES} bytes` };
  if (Number(req.headers.get("content-length") ?? "0") > MAX_BODY_BYTES) return tooLarge;
  try {
    // Read at most MAX_BODY_BYTES, whatever the client claims: a body never fills the agent's memory.
    const chunks: Uint8Array[] = [];
    let size = 0;
    for await (const chunk of req.body ?? []) {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) return tooLarge;
      chunks.push(chunk);
    }
    const buf = new Uint8Array(size);
    let at = 0;
    for (const c of chunks) {
      buf.set(c, at);
      at += c.length;
    }
    text = new TextDecoder("utf-8", { fatal: true }).decode(buf);
  } catch {
    return { status: 400, error: "request body is not UTF-8 text" };
  }
  if (text.trim() === "") {
    // Patroni: no Content-Length is 411 (Length Required); an announced but empty body fails to parse, 400.
    return req.headers.has("content-length")
      ? { status: 400, error: "request body is empty" }
      : { status: 411, error: "request body is empty" };
  }
  try {
    const v: unknown = JSON.parse(text);
    if (v === null || typeof v !== "object" || Array.isArray(v)) {
      return { status: 400, error: "request body must be a JSON object" };
    }
    // Merging walks the body recursively: a body nested thousands deep would overflow the stack (found by the fuzz).
    if (jsonDepth(v) > MAX_BODY_DEPTH) {
      return { status: 400, error: `request body is nested deeper than ${MAX_BODY_DEPTH} levels` };
    }
    return { value: v as Record<string, unknown> };
  } catch {
    return { status: 400, error: "request body is not valid JSON" };
  }
}
