/**
 * The dependency rules, checked by reading the source. The core and the ports know nothing of
 * chat platforms, clouds, storage or configuration; commands are data plus a handler over the
 * core; only the system clock reads real time; every test sits next to what it tests.
 */
import test from 'ava';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';
import type { CommandSpec } from '../src/chat/command-spec.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Repository-relative, forward slashes: what the messages show. */
const rel = (absolute: string) => relative(ROOT, absolute).split(sep).join('/');

function walk(dir: string, accept: (path: string) => boolean = (p) => p.endsWith('.ts')): string[] {
  const absolute = join(ROOT, dir);
  if (!existsSync(absolute)) return [];
  const out: string[] = [];
  for (const entry of readdirSync(absolute).sort()) {
    const path = join(absolute, entry);
    if (statSync(path).isDirectory()) out.push(...walk(rel(path), accept));
    else if (accept(path)) out.push(path);
  }
  return out;
}

interface ImportRef {
  specifier: string;
  typeOnly: boolean;
  line: number;
}

/** Every module a file refers to: import/export ... from, import x = require(), import(), require(). */
function importsOf(path: string): ImportRef[] {
  const source = ts.createSourceFile(path, readFileSync(path, 'utf8'), ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const refs: ImportRef[] = [];
  const add = (literal: ts.Node, typeOnly: boolean) => {
    if (!ts.isStringLiteralLike(literal)) return;
    refs.push({ specifier: literal.text, typeOnly, line: source.getLineAndCharacterOfPosition(literal.getStart()).line + 1 });
  };
  const visit = (node: ts.Node) => {
    if (ts.isImportDeclaration(node)) add(node.moduleSpecifier, node.importClause?.isTypeOnly ?? false);
    else if (ts.isExportDeclaration(node) && node.moduleSpecifier) add(node.moduleSpecifier, node.isTypeOnly);
    else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) add(node.moduleReference.expression, node.isTypeOnly);
    else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) add(node.argument.literal, true);
    else if (ts.isCallExpression(node)) {
      const callee = node.expression;
      const isDynamicImport = callee.kind === ts.SyntaxKind.ImportKeyword;
      const isRequire = ts.isIdentifier(callee) && callee.text === 'require';
      if ((isDynamicImport || isRequire) && node.arguments[0]) add(node.arguments[0], false);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return refs;
}

const FORBIDDEN_PACKAGES = [
  '@slack/bolt',
  '@microsoft/*',
  'botbuilder',
  'got',
  'execa',
  'better-sqlite3',
  'node-cron',
  'pino',
  'yaml',
  'zod',
  'fs',
  'node:fs',
  'child_process',
  'node:child_process',
  'node:http',
];

function forbiddenPackage(specifier: string): string | undefined {
  return FORBIDDEN_PACKAGES.find((name) =>
    name.endsWith('/*') ? specifier.startsWith(name.slice(0, -1)) : specifier === name || specifier.startsWith(`${name}/`),
  );
}

const FORBIDDEN_TARGETS = ['src/adapters/', 'src/scheduler/', 'src/config/', 'src/http/', 'src/main.ts', 'src/app.ts'];

interface Layer {
  dir: string;
  /** Repository paths (prefix with a trailing slash, or exact file) this layer may import. */
  mayImport: { target: string; typeOnly?: boolean }[];
}

const LAYERS: Layer[] = [
  { dir: 'src/core', mayImport: [{ target: 'src/core/' }, { target: 'src/ports/' }] },
  { dir: 'src/ports', mayImport: [{ target: 'src/core/' }, { target: 'src/ports/' }] },
  {
    dir: 'commands',
    mayImport: [
      { target: 'commands/' },
      { target: 'src/core/' },
      { target: 'src/chat/command-spec.ts' },
      { target: 'src/chat/reply.ts' },
      { target: 'src/chat/lease-card.ts' },
      { target: 'src/chat/queue-card.ts' },
    ],
  },
];

const matches = (target: string, path: string) => (target.endsWith('/') ? path.startsWith(target) : path === target);

/** Why `ref` in `file` of `layer` breaks the rules, or undefined if it does not. */
function violation(layer: Layer, file: string, ref: ImportRef): string | undefined {
  const where = `${rel(file)}:${ref.line} imports "${ref.specifier}"`;
  const pkg = forbiddenPackage(ref.specifier);
  if (pkg) return `${where}: ${layer.dir}/ must not use ${pkg}`;
  if (!ref.specifier.startsWith('.')) return undefined;

  const target = rel(resolve(dirname(file), ref.specifier));
  const banned = FORBIDDEN_TARGETS.find((t) => matches(t, target));
  if (banned) return `${where} (${target}): ${layer.dir}/ must not depend on ${banned}`;
  const allowed = layer.mayImport.find((rule) => matches(rule.target, target));
  if (!allowed) return `${where} (${target}): ${layer.dir}/ may import only ${layer.mayImport.map((r) => r.target + (r.typeOnly ? ' (import type)' : '')).join(', ')}`;
  if (allowed.typeOnly && !ref.typeOnly) return `${where} (${target}): ${layer.dir}/ may import ${allowed.target} only with "import type"`;
  return undefined;
}

for (const layer of LAYERS) {
  test(`${layer.dir}/ imports only what the dependency rules allow`, (t) => {
    const files = walk(layer.dir);
    t.true(files.length > 0, `no sources found under ${layer.dir}/`);
    const problems = files.flatMap((file) => importsOf(file).map((ref) => violation(layer, file, ref)).filter((p): p is string => p !== undefined));
    t.deepEqual(problems, [], `dependency rule violations:\n${problems.join('\n')}`);
  });
}

test('the import checker itself spots forbidden imports (self-test)', (t) => {
  const fake = (dir: string) => join(ROOT, dir, 'fake.ts');
  const core = LAYERS[0]!;
  const ports = LAYERS[1]!;
  const commands = LAYERS[2]!;
  const ref = (specifier: string, typeOnly = false): ImportRef => ({ specifier, typeOnly, line: 1 });

  for (const specifier of ['@slack/bolt', '@microsoft/teams-ai', 'botbuilder', 'got', 'execa', 'better-sqlite3', 'node-cron', 'pino', 'yaml', 'zod', 'fs', 'node:fs', 'fs/promises', 'node:fs/promises', 'child_process', 'node:child_process', 'node:http']) {
    t.truthy(violation(core, fake('src/core'), ref(specifier)), specifier);
  }
  for (const specifier of ['../adapters/system-clock.ts', '../scheduler/reconciler.ts', '../config/load-config.ts', '../http/http-server.ts', '../main.ts', '../app.ts', '../chat/dispatcher.ts']) {
    t.truthy(violation(core, fake('src/core'), ref(specifier)), specifier);
    t.truthy(violation(ports, fake('src/ports'), ref(specifier)), specifier);
  }
  t.truthy(violation(ports, fake('src/ports'), ref('../chat/reply.ts', true)), 'not even a type from the chat layer');
  t.is(violation(ports, fake('src/ports'), ref('../core/reply.ts', true)), undefined);
  t.is(violation(core, fake('src/core'), ref('./model.ts')), undefined);
  t.is(violation(commands, fake('commands'), ref('../src/core/service.ts')), undefined);
  t.is(violation(commands, fake('commands'), ref('../src/chat/lease-card.ts')), undefined);
  t.truthy(violation(commands, fake('commands'), ref('../src/chat/dispatcher.ts')));
  t.truthy(violation(commands, fake('commands'), ref('../src/adapters/sqlite/sqlite-store.ts')));
  t.regex(violation(commands, fake('commands'), ref('../src/app.ts')) ?? '', /commands\/fake\.ts:1 imports "\.\.\/src\/app\.ts"/);
});

// ---------------------------------------------------------------------------------------------
// The wall clock

const CLOCK_OWNER = 'src/adapters/system-clock.ts';

/** `Date.now()`, `new Date()` / `new Date` without arguments and `Date()`: each reads real time. */
function wallClockReads(path: string, text = readFileSync(path, 'utf8')): string[] {
  const source = ts.createSourceFile(path, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const found: string[] = [];
  const at = (node: ts.Node) => `${rel(path)}:${source.getLineAndCharacterOfPosition(node.getStart()).line + 1}: ${node.getText()}`;
  const isDate = (node: ts.Node) => ts.isIdentifier(node) && node.text === 'Date';
  const visit = (node: ts.Node) => {
    if (ts.isCallExpression(node)) {
      const callee = node.expression;
      if (ts.isPropertyAccessExpression(callee) && isDate(callee.expression) && callee.name.text === 'now') found.push(at(node));
      else if (isDate(callee)) found.push(at(node));
    } else if (ts.isNewExpression(node) && isDate(node.expression) && (node.arguments?.length ?? 0) === 0) {
      found.push(at(node));
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

test(`only ${CLOCK_OWNER} reads the wall clock`, (t) => {
  const files = [...walk('src'), ...walk('commands')];
  t.true(files.some((f) => rel(f) === CLOCK_OWNER), `${CLOCK_OWNER} exists`);
  const reads = files.filter((f) => rel(f) !== CLOCK_OWNER).flatMap((f) => wallClockReads(f));
  t.deepEqual(reads, [], `the wall clock is read outside ${CLOCK_OWNER} (inject a Clock instead):\n${reads.join('\n')}`);
  // The checker does find the one legitimate read.
  t.is(wallClockReads(join(ROOT, CLOCK_OWNER)).length, 1);
});

test('the wall-clock checker finds each way of reading real time (self-test)', (t) => {
  const path = join(ROOT, 'src/core/fake.ts');
  const reads = wallClockReads(
    path,
    [
      'const a = Date.now();',
      'const b = new Date();',
      'const c = new Date;',
      'const d = Date();',
      'const ok1 = new Date(a);',
      'const ok2 = Date.UTC(2026, 0, 1);',
      'const ok3 = clock.now();',
      'const ok4 = Date.parse("2026-01-01");',
    ].join('\n'),
  );
  t.deepEqual(reads, ['src/core/fake.ts:1: Date.now()', 'src/core/fake.ts:2: new Date()', 'src/core/fake.ts:3: new Date', 'src/core/fake.ts:4: Date()']);
});

// ---------------------------------------------------------------------------------------------
// Commands

function isCommandSpec(value: unknown): value is CommandSpec {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Partial<Record<keyof CommandSpec, unknown>>;
  return typeof v.name === 'string' && typeof v.handler === 'function' && Array.isArray(v.args) && (v.permission === 'user' || v.permission === 'admin');
}

test('every file under commands/ exports exactly one CommandSpec, and COMMANDS lists them all', async (t) => {
  const files = walk('commands').filter((f) => rel(f) !== 'commands/index.ts');
  t.true(files.length > 0);
  const { COMMANDS } = (await import(pathToFileURL(join(ROOT, 'commands/index.ts')).href)) as { COMMANDS: readonly CommandSpec[] };

  const problems: string[] = [];
  const specs: CommandSpec[] = [];
  for (const file of files) {
    const module = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
    const exported = Object.entries(module).filter(([, value]) => isCommandSpec(value));
    if (exported.length !== 1) {
      problems.push(`${rel(file)} exports ${exported.length} CommandSpecs (${exported.map(([k]) => k).join(', ') || 'none'}); expected exactly one`);
      continue;
    }
    const [exportName, spec] = exported[0]! as [string, CommandSpec];
    specs.push(spec);
    const expectedFile = `${spec.name.replace(/ /g, '-')}.ts`;
    if (!file.endsWith(`${sep}${expectedFile}`)) problems.push(`${rel(file)} exports the command "${spec.name}", which belongs in commands/${expectedFile}`);
    if (!COMMANDS.includes(spec)) problems.push(`${rel(file)}: command "${spec.name}" (export ${exportName}) is missing from COMMANDS in commands/index.ts`);
  }
  for (const spec of COMMANDS) {
    if (!specs.includes(spec)) problems.push(`commands/index.ts: COMMANDS lists "${spec.name}", which no file under commands/ exports`);
  }
  const names = COMMANDS.map((c) => c.name);
  const duplicates = names.filter((n, i) => names.indexOf(n) !== i);
  if (duplicates.length > 0) problems.push(`commands/index.ts: COMMANDS lists ${duplicates.join(', ')} more than once`);

  t.deepEqual(problems, [], problems.join('\n'));
  t.deepEqual(
    [...names].sort(),
    files.map((f) => rel(f).slice('commands/'.length, -'.ts'.length).replace(/-/g, ' ')).sort(),
  );
});

// ---------------------------------------------------------------------------------------------
// Tests mirror sources

/** Cross-cutting tests that test no single source file. Keep this list short. */
// Beside the cross-cutting folders: the plays over SSH against a real sshd, through the same
// composition as the bot (compose.ts, runner, provisioner); and a boot's preparation, from the
// provisioner's host key through the reconciler and store to the cloud's user data.
// Also features told through several modules: the simulated cloud's changes-since (beside its own
// tests, which are long already), scheduler.resyncEvery from the shipped file to the reconciler,
// the circuit breaker and the tick's reads by changes-since, each through the bot.
const CROSS_CUTTING_FEATURES = ['adapters/sim-cloud/sim-cloud-changes.test.ts', 'config/resync-config.test.ts', 'scheduler/circuit-breaker.test.ts', 'scheduler/cloud-changes.test.ts'];
const CROSS_CUTTING = [...CROSS_CUTTING_FEATURES, 'smoke.test.ts', 'architecture.test.ts', 'e2e/', 'openstack/', 'fuzz/', 'load/', 'faults/', 'crash/', 'adapters/ansible/ssh.test.ts', 'scheduler/boot-host-key.test.ts'];

test('every test file mirrors a source file or is a listed cross-cutting test', (t) => {
  const tests = walk('test', (p) => p.endsWith('.test.ts')).map((f) => rel(f).slice('test/'.length));
  t.true(tests.includes('architecture.test.ts'), 'this file is found');
  const orphans = tests.filter((file) => {
    if (CROSS_CUTTING.some((allowed) => matches(allowed, file))) return false;
    const stem = file.slice(0, -'.test.ts'.length);
    const mirrors = [`src/${stem}.ts`];
    if (stem.startsWith('commands/')) mirrors.push(`${stem}.ts`);
    return !mirrors.some((m) => existsSync(join(ROOT, m)));
  });
  t.deepEqual(
    orphans.map((o) => `test/${o} mirrors no source file (expected src/${o.replace(/\.test\.ts$/, '.ts')}${o.startsWith('commands/') ? ` or ${o.replace(/\.test\.ts$/, '.ts')}` : ''}); move it, or add it to CROSS_CUTTING in test/architecture.test.ts`),
    [],
  );
});
