// Judges every spec/vectors envelope, body and topic vector with the generated guard
// (src/generated/guards.ts), and every topic vector with the client's own `topicProblem`
// (src/topics.ts), and checks the recorded verdicts (spec/protocol.md §15.2).
// `node test/vectors.test.mjs --print-verdicts` prints {"guards": {id: verdict}, "topicProblem":
// {id: verdict}} for tests/test_vectors.py, which asserts that Python's jsonschema and the broker
// give identical verdicts.
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
    stdin: {
      contents: 'export * from "./generated/guards.ts"; export { topicProblem } from "./topics.ts";',
      resolveDir: join(here, "..", "src"),
      loader: "ts",
    },
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
const topics = load("topics");

/** The client's own check (what `publish`/`request`/`subscribe` refuse locally). */
const topicOk = (v) => guards.topicProblem(v.topic, v.schema === "TopicPattern") === null;

function verdicts() {
  const result = {};
  for (const v of envelopes) result[v.id] = guards.decodeEnvelope(v.frame).ok;
  for (const v of bodies) result[v.id] = guards.validateBody(v.schema, v.body).ok;
  for (const v of topics) result[v.id] = guards.validateDefinition(v.schema, v.topic).ok;
  const problems = {};
  for (const v of topics) problems[v.id] = topicOk(v);
  return { guards: result, topicProblem: problems };
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
  test("topic vectors: validateDefinition and topicProblem give the recorded verdict", () => {
    assert.ok(topics.length >= 40);
    for (const v of topics) {
      const r = guards.validateDefinition(v.schema, v.topic);
      assert.equal(r.ok, v.valid, `${v.id}: ${v.description} (guard: ${r.ok ? "ok" : r.rule})`);
      const problem = guards.topicProblem(v.topic, v.schema === "TopicPattern");
      assert.equal(problem === null, v.valid, `${v.id}: ${v.description} (topicProblem: ${problem})`);
    }
  });
  test("a valid envelope comes back typed and unchanged", () => {
    const frame = envelopes.find((v) => v.valid).frame;
    const r = guards.decodeEnvelope(frame);
    assert.ok(r.ok);
    assert.deepEqual(r.envelope, JSON.parse(frame));
  });
}
