// The npm package as a user gets it (issue 19): `npm pack` from a clean copy of typescript/ (no
// dist/: prepack must build it), the tarball installed into a fresh Node project (npm takes `ws`
// from its cache, the registry only if it is missing there), then the installed package used as
// ES module and as CommonJS against a real broker, type-checked from both, and bundled by esbuild
// with the side-effect-only browser entry kept.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import vm from 'node:vm';
import { after, before, describe, it } from 'node:test';
import { REPO_ROOT, TS_ROOT, ms, startBroker } from './helpers.mjs';

const run = promisify(execFile);
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const lock = JSON.parse(readFileSync(join(TS_ROOT, 'package-lock.json'), 'utf8'));
const WS_VERSION = lock.packages['node_modules/ws'].version;

async function sh(command, args, cwd, timeoutMs = ms(120000)) {
  try {
    return await run(command, args, { cwd, timeout: timeoutMs, maxBuffer: 16 << 20, env: { ...process.env, npm_config_update_notifier: 'false' } });
  } catch (error) {
    throw new Error(`${command} ${args.join(' ')} failed in ${cwd}:\n${error.stdout ?? ''}\n${error.stderr ?? ''}`, { cause: error });
  }
}

describe('the npm package, packed and installed', () => {
  let work;
  let app;
  let broker;
  let packed;
  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'wsmq-npm-'));
    // A clean copy: sources and config only; the dev tools come from the checkout's install.
    const copy = join(work, 'src');
    cpSync(TS_ROOT, copy, {
      recursive: true,
      filter: (path) => !/[/\\](node_modules|dist|dist-check)([/\\]|$)/.test(path.slice(TS_ROOT.length)),
    });
    symlinkSync(join(TS_ROOT, 'node_modules'), join(copy, 'node_modules'), 'dir');
    const { stdout } = await sh(NPM, ['pack', '--json', '--pack-destination', work], copy);
    packed = JSON.parse(stdout.slice(stdout.indexOf('[')))[0];
    app = join(work, 'app');
    cpSync(join(TS_ROOT, 'test', 'package-app'), app, { recursive: true });
    await sh(NPM, ['install', '--prefer-offline', '--no-audit', '--no-fund', join(work, packed.filename), `ws@${WS_VERSION}`], app);
    broker = await startBroker();
  });
  after(async () => {
    await broker?.stop();
    if (work !== undefined) rmSync(work, { recursive: true, force: true });
  });

  it('ships dist/ (ESM, CommonJS, types, browser bundle), README, LICENSE and repository metadata', () => {
    const files = new Set(packed.files.map((f) => f.path));
    for (const path of ['dist/index.js', 'dist/index.d.ts', 'dist/cjs/index.js', 'dist/cjs/index.d.ts', 'dist/cjs/package.json', 'dist/websocketmq.js', 'README.md', 'LICENSE', 'package.json']) {
      assert.ok(files.has(path), `${path} missing from the tarball: ${[...files].join(', ')}`);
    }
    assert.ok(![...files].some((f) => f.startsWith('src/') || f.startsWith('test/')), 'sources and tests stay out');
    const installed = join(app, 'node_modules', 'websocketmq');
    assert.equal(readFileSync(join(installed, 'LICENSE'), 'utf8'), readFileSync(join(REPO_ROOT, 'LICENSE'), 'utf8'));
    const manifest = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8'));
    assert.equal(manifest.license, 'MIT');
    assert.match(manifest.repository.url, /github\.com\/websocketmq\/websocketmq/);
    assert.match(manifest.homepage, /^https:\/\//);
    assert.doesNotMatch(readFileSync(join(installed, 'README.md'), 'utf8'), /\]\((?!https?:\/\/|#)/, 'README links are absolute');
  });

  for (const [flavour, script] of [['ES module', 'esm.mjs'], ['CommonJS', 'cjs.cjs']]) {
    it(`works as ${flavour} against a real broker`, async () => {
      const { stdout } = await sh(process.execPath, [script, broker.url], app, ms(30000));
      const result = JSON.parse(stdout.trim().split('\n').at(-1));
      assert.deepEqual(result.echo, { message: `hello from ${script}` });
      assert.equal(result.error.code, 'NO_HANDLER');
      assert.equal(result.isWsmqError, true);
      assert.equal(result.topicMatches, true);
    });
  }

  it('type-checks from an ES module and from a CommonJS file (node16 resolution)', async () => {
    const tsc = join(TS_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    await sh(process.execPath, [tsc, '-p', 'tsconfig.json'], app);
  });

  it("keeps `import 'websocketmq/browser'` through esbuild (declared side effect)", async () => {
    const esbuild = await import('esbuild');
    const result = await esbuild.build({
      stdin: { contents: "import 'websocketmq/browser';\nimport { topicMatches } from 'websocketmq';\nglobalThis.matches = topicMatches('a.*', 'a.b');\n", resolveDir: app },
      absWorkingDir: app,
      bundle: true,
      format: 'iife',
      platform: 'browser',
      write: false,
      logLevel: 'silent',
    });
    const context = vm.createContext({ console });
    vm.runInContext(result.outputFiles[0].text, context);
    assert.equal(typeof context.WebSocketMQ, 'function', 'the browser entry defined the global');
    assert.equal(typeof context.WebSocketMQ.Client, 'function', 'with the seed shim');
    assert.equal(context.matches, true);
  });
});
