// Builds the package: dist/ (ES modules + .d.ts, by tsc), dist/cjs/ (the same compiled as
// CommonJS, for `require('websocketmq')`, marked by its own package.json) and the single-file
// browser bundle (IIFE defining the global `WebSocketMQ`, by esbuild), which is copied into the
// Python package so that installing the broker never needs Node. `npm pack` runs it (prepack),
// so a tarball always carries a fresh dist/; from a copy of typescript/ outside the repository
// (no ../python) it builds dist/ only.
//
//   node scripts/build.mjs           build everything, refresh the committed bundle
//   node scripts/build.mjs --check   rebuild the bundle in memory; exit 1 if the committed copy
//                                    differs (stale) — esbuild output is deterministic.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pythonPackage = join(root, '..', 'python', 'src', 'websocketmq');
const committed = join(pythonPackage, 'static', 'websocketmq.js');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

async function bundle() {
  const result = await esbuild.build({
    entryPoints: [join(root, 'src', 'browser.ts')],
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: ['es2020'],
    charset: 'utf8',
    legalComments: 'none',
    write: false,
    absWorkingDir: root,
    banner: {
      js:
        `/* websocketmq ${pkg.version} browser bundle: defines the global WebSocketMQ.\n` +
        ' * Generated from typescript/src by `npm run build` (make bundle): do not edit. */',
    },
  });
  return result.outputFiles[0].text;
}

const check = process.argv.includes('--check');
const text = await bundle();

if (check) {
  const current = existsSync(committed) ? readFileSync(committed, 'utf8') : null;
  if (current !== text) {
    console.error(
      `bundle-check: ${relative(process.cwd(), committed)} is ${current === null ? 'missing' : 'stale'}; ` +
        'run `make bundle` (cd typescript && npm run build) and commit it.',
    );
    process.exit(1);
  }
  console.log('bundle-check: committed browser bundle is up to date');
} else {
  const tsc = (project) =>
    execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', project], {
      cwd: root,
      stdio: 'inherit',
    });
  rmSync(join(root, 'dist'), { recursive: true, force: true }); // nothing stale gets packed
  tsc('tsconfig.build.json');
  tsc('tsconfig.cjs.json');
  writeFileSync(join(root, 'dist', 'cjs', 'package.json'), '{ "type": "commonjs" }\n');
  writeFileSync(join(root, 'dist', 'websocketmq.js'), text);
  if (existsSync(pythonPackage)) {
    mkdirSync(dirname(committed), { recursive: true });
    writeFileSync(committed, text);
    console.log(`build: dist/, dist/cjs/ and ${relative(root, committed)} (${text.length} bytes)`);
  } else {
    console.log(`build: dist/ and dist/cjs/ (bundle ${text.length} bytes; no ../python here, so no committed copy)`);
  }
}
