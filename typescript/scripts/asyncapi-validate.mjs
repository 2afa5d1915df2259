// `node scripts/asyncapi-validate.mjs FILE…`: validates AsyncAPI documents with the official
// @asyncapi/parser (offline: every $ref in a `wsmq asyncapi` document is local) and prints, per
// file, one JSON line summarising what the parser understood, so tests/test_asyncapi.py checks the
// parsed model, not only the absence of errors (spec/catalogue.md §8).
// Exit code 1 when any document has a diagnostic of severity error or warning.
import { readFileSync } from 'node:fs';
import { Parser } from '@asyncapi/parser';

const SEVERITY = ['error', 'warning', 'information', 'hint'];
const parser = new Parser();
let failed = false;
for (const file of process.argv.slice(2)) {
  const { document, diagnostics } = await parser.parse(readFileSync(file, 'utf8'), { source: file });
  const problems = diagnostics.map((d) => ({
    severity: SEVERITY[d.severity] ?? String(d.severity),
    code: String(d.code),
    path: d.path.join('/'),
    message: d.message,
  }));
  if (!document || problems.some((p) => p.severity === 'error' || p.severity === 'warning')) failed = true;
  const summary = { file, valid: Boolean(document), problems };
  if (document) {
    summary.version = document.version();
    summary.title = document.info().title();
    summary.servers = document.servers().all().map((s) => ({ id: s.id(), url: s.url(), protocol: s.protocol() }));
    summary.channels = document.channels().all().map((c) => ({
      id: c.id(),
      address: c.address() ?? null,
      parameters: c.parameters().all().map((p) => p.id()),
      messages: c.messages().all().map((m) => m.id()),
    }));
    summary.operations = document.operations().all().map((o) => ({
      id: o.id(),
      action: o.action(),
      channel: o.channels().all().map((c) => c.address())[0] ?? null,
      messages: o.messages().all().map((m) => ({
        name: m.name(),
        payload: m.payload()?.json() ?? null,
        headersRequired: m.headers()?.required() ?? [],
        correlation: m.correlationId()?.location() ?? null,
      })),
      reply: o.reply()
        ? {
            address: o.reply().address()?.location() ?? null,
            messages: o.reply().messages().all().map((m) => m.name()),
          }
        : null,
    }));
  }
  process.stdout.write(JSON.stringify(summary) + '\n');
}
process.exit(failed ? 1 : 0);
