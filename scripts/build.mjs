// `npm run build`: compiles the bot and its command line to JavaScript in dist/ (dist/src/…,
// dist/commands/…, as the sources are laid out) and adds the two entry points a service runs
// without any TypeScript loader: `node dist/main.js` (the bot) and `node dist/daaas.js` (the
// operator's command line). Plain JavaScript, so it needs nothing but Node and TypeScript.
// An argument builds elsewhere (tests do): the tree must then be called dist and sit beside
// config/ and ansible/, as the compiled bot finds them two levels above dist/src/.
import { spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = process.argv[2] ? resolve(process.argv[2]) : join(root, 'dist');
if (basename(dist) !== 'dist') {
  process.stderr.write(`the build goes to a directory called dist (the compiled bot finds config/ beside it), not ${dist}\n`);
  process.exit(2);
}
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');

// A fresh tree, so a source deleted since the last build leaves no stale module behind.
rmSync(dist, { recursive: true, force: true });
// Type errors fail the build, as they fail npm test.
const compiled = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json'), '--outDir', dist], { stdio: 'inherit' });
if (compiled.status !== 0) {
  process.stderr.write(`the build failed: tsc exited with ${compiled.status ?? compiled.signal}\n`);
  process.exit(1);
}
const entry = (target, what) => `// ${what} (written by npm run build).\nimport './${target}';\n`;
writeFileSync(join(dist, 'main.js'), entry('src/main.js', 'The bot'));
writeFileSync(join(dist, 'daaas.js'), entry('src/cli/daaas.js', "The operator's command line"));
process.stdout.write(`built ${dist}: node dist/main.js (the bot), node dist/daaas.js (the command line)\n`);
