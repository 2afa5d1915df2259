// `npm test`: builds, runs every test file with Node's test runner (TAP on stdout, one file at a
// time: the files spawn brokers and share 2 cores), collects V8 coverage
// (`--experimental-test-coverage`, lcov to test-artifacts/typescript-coverage.lcov) and prints
// the coverage of the package's own code: the dist/ modules compiled from src/ (tests, helpers
// and the generated guards' golden-tested code are listed apart). Exits with the runner's code.
//
// dist/ is built without source maps: Node 20's coverage reporter fails on them ("Cannot read
// properties of undefined (reading 'line')"), and dist/*.js maps line for line onto src/*.ts
// (tsc only strips the types), so a dist/ file's figure is its src/ module's.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const artifacts = join(root, '..', 'test-artifacts');
const lcovPath = join(artifacts, 'typescript-coverage.lcov');
mkdirSync(artifacts, { recursive: true });

const build = spawnSync(process.execPath, [join(root, 'scripts', 'build.mjs')], { cwd: root, stdio: 'inherit' });
if (build.status !== 0) process.exit(build.status ?? 1);

const files = process.argv.slice(2).length > 0
  ? process.argv.slice(2)
  : readdirSync(join(root, 'test')).filter((f) => f.endsWith('.test.mjs')).sort().map((f) => join('test', f));
const run = spawnSync(
  process.execPath,
  [
    '--test',
    '--test-concurrency=1',
    // Per file, stretched like every test timeout on a loaded machine (WSMQ_TIMEOUT_FACTOR).
    `--test-timeout=${Math.round(120000 * (Number(process.env.WSMQ_TIMEOUT_FACTOR ?? '1') || 1))}`,
    '--experimental-test-coverage',
    '--test-reporter=tap',
    '--test-reporter-destination=stdout',
    '--test-reporter=lcov',
    `--test-reporter-destination=${lcovPath}`,
    ...files,
  ],
  { cwd: root, stdio: 'inherit' },
);

/** Per-file line/branch/function counts from an lcov file. */
function readLcov(path) {
  const records = [];
  let current = null;
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const [key, value = ''] = line.split(':');
    if (key === 'SF') current = { file: relative(root, value), LF: 0, LH: 0, BRF: 0, BRH: 0, FNF: 0, FNH: 0 };
    else if (current !== null && key in current) current[key] = Number(value);
    else if (line === 'end_of_record' && current !== null) {
      records.push(current);
      current = null;
    }
  }
  return records;
}

const pct = (hit, found) => (found === 0 ? 100 : (100 * hit) / found).toFixed(1).padStart(5);
try {
  const records = readLcov(lcovPath).filter((r) => r.file.startsWith('dist/') && !r.file.startsWith('dist/cjs/') && r.file !== 'dist/websocketmq.js');
  const own = records.filter((r) => !r.file.startsWith('dist/generated/'));
  const total = own.reduce(
    (sum, r) => ({ LF: sum.LF + r.LF, LH: sum.LH + r.LH, BRF: sum.BRF + r.BRF, BRH: sum.BRH + r.BRH, FNF: sum.FNF + r.FNF, FNH: sum.FNH + r.FNH }),
    { LF: 0, LH: 0, BRF: 0, BRH: 0, FNF: 0, FNH: 0 },
  );
  console.log('# TypeScript coverage (src/ via dist/; lines, branches, functions):');
  for (const r of records) {
    console.log(`#   ${r.file.padEnd(26)} ${pct(r.LH, r.LF)}% ${pct(r.BRH, r.BRF)}% ${pct(r.FNH, r.FNF)}%`);
  }
  console.log(
    `# TypeScript coverage of src/ (without generated/): lines ${pct(total.LH, total.LF).trim()}% ` +
      `(${total.LH}/${total.LF}), branches ${pct(total.BRH, total.BRF).trim()}% (${total.BRH}/${total.BRF}), ` +
      `functions ${pct(total.FNH, total.FNF).trim()}% (${total.FNH}/${total.FNF}); lcov: ${relative(process.cwd(), lcovPath)}`,
  );
} catch (error) {
  console.log(`# TypeScript coverage: no report (${error.message})`);
}
process.exit(run.status ?? 1);
