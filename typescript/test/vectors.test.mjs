// Judges every spec/vectors envelope and body vector with the generated guard
// (src/generated/guards.ts) and checks the recorded verdicts (spec/protocol.md §15.2).
// `node test/vectors.test.mjs --print-verdicts` prints {id: verdict} for tests/test_vectors.py,
// which asserts that Python's jsonschema gives identical verdicts.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const vectorDir = join(here, "..", "..", "spec", "vectors");
const load = (name) => JSON.parse(readFileSync(join(vectorDir, `${name}.json`), "utf8")).vectors;

async function loadGuards() {
  const out = await build({
    entryPoints: [join(here, "..", "src", "generated", "guards.ts")],
    bundle: true,
    format: "esm",
    platform: "neutral",
    write: false,
    logLevel: "silent",
  });
  const code = out.outputFiles[0].text;
  return import(`data:text/javascript;base64,${Buffer.from(code).toString("base64")}`);
}

const guards = await loadGuards();
const envelopes = load("envelopes");
const bodies = load("bodies");

function verdicts() {
  const result = {};
  for (const v of envelopes) result[v.id] = guards.decodeEnvelope(v.frame).ok;
  for (const v of bodies) result[v.id] = guards.validateBody(v.schema, v.body).ok;
  return result;
}

if (process.argv.includes("--print-verdicts")) {
  process.stdout.write(JSON.stringify(verdicts()));
} else {
  const { test } = await import("node:test");
  test("envelope vectors: guards.ts gives the recorded verdict", () => {
    assert.ok(envelopes.length >= 40);
    for (const v of envelopes) {
      const r = guards.decodeEnvelope(v.frame);
      assert.equal(r.ok, v.valid, `${v.id}: ${v.description} (${r.ok ? "ok" : r.rule})`);
    }
  });
  test("body vectors: validateBody gives the recorded verdict", () => {
    for (const v of bodies) {
      const r = guards.validateBody(v.schema, v.body);
      assert.equal(r.ok, v.valid, `${v.id}: ${v.description} (${r.ok ? "ok" : r.rule})`);
    }
  });
  test("a valid envelope comes back typed and unchanged", () => {
    const frame = envelopes.find((v) => v.valid).frame;
    const r = guards.decodeEnvelope(frame);
    assert.ok(r.ok);
    assert.deepEqual(r.envelope, JSON.parse(frame));
  });
}
