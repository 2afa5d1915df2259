// Builds the package: dist/ (ES modules + .d.ts, by tsc) and the single-file browser bundle
// (IIFE defining the global `WebSocketMQ`, by esbuild), which is copied into the Python package so
// that installing the broker never needs Node.
//
//   node scripts/build.mjs           build everything, refresh the committed bundle
//   node scripts/build.mjs --check   rebuild the bundle in memory; exit 1 if the committed copy
//                                    differs (stale) — esbuild output is deterministic.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const committed = join(root, '..', 'python', 'src', 'websocketmq', 'static', 'websocketmq.js');
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
  execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], {
    cwd: root,
    stdio: 'inherit',
  });
  mkdirSync(join(root, 'dist'), { recursive: true });
  writeFileSync(join(root, 'dist', 'websocketmq.js'), text);
  mkdirSync(dirname(committed), { recursive: true });
  writeFileSync(committed, text);
  console.log(`build: dist/ and ${relative(root, committed)} (${text.length} bytes)`);
}
