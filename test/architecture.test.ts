/**
 * The house rules of docs/architecture.md, measured from the code: imports only run down the
 * floors (or across one), no import cycle, no code under src/ or gpu-worker/ names a chat
 * platform, the environment is read only in src/config, no Lua text in TypeScript, every
 * document a comment cites is in the repository, and the README stays short.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve('.');
const CODE_ROOTS = ['src', 'adapters', 'gpu-worker', 'models'];

/** Floors, lowest first; a file belongs to the longest prefix that matches it. */
const FLOORS: Array<[floor: number, prefixes: string[]]> = [
  [0, ['src/errors.ts', 'src/log.ts', 'src/output.ts', 'src/ops/timeout.ts', 'src/config/section.ts']],
  [1, ['src/distill/', 'src/image/', 'src/models/', 'src/plan/', 'src/ground/', 'src/ops/', 'models/']],
  [2, ['src/jobs/']],
  [3, ['src/pipeline/']],
  [4, ['src/edits/']],
  [5, ['src/chat/']],
  [6, ['gpu-worker/', 'adapters/']],
  [7, ['src/config/', 'adapters/registry.ts']],
  [8, ['src/cli/', 'src/cli.ts']],
];

function floorOf(file: string): number {
  let best: [number, number] = [-1, -1];
  for (const [floor, prefixes] of FLOORS) for (const prefix of prefixes) if (file.startsWith(prefix) && prefix.length > best[1]) best = [floor, prefix.length];
  if (best[0] < 0) throw new Error(`${file} is on no floor: add it to FLOORS`);
  return best[0];
}

/** Top-level folders a floor may not reach across: the worker and the adapters meet only through src/jobs and src/chat. */
const SEALED_FROM_EACH_OTHER = ['gpu-worker/', 'adapters/'];

function sourceFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir)).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(join(ROOT, path)).isDirectory()) return name === 'build' ? [] : sourceFiles(path);
    return path.endsWith('.ts') && !path.endsWith('.d.ts') ? [path] : [];
  });
}

const files = CODE_ROOTS.flatMap(sourceFiles);
const text = new Map(files.map((file) => [file, readFileSync(join(ROOT, file), 'utf8')]));

/** The code without comments, so comments may name what code may not. */
function withoutComments(source: string): string {
  return source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`\\])\/\/.*$/gm, '$1');
}

/** The project files a file imports (static, dynamic and re-exports), as repository paths. */
function importsOf(file: string): string[] {
  const source = withoutComments(text.get(file)!);
  const specifiers = [...source.matchAll(/(?:from\s+|import\s*\(\s*|import\s+)'(\.{1,2}\/[^']+)'/g)].map((m) => m[1]);
  return specifiers.map((spec) => relative(ROOT, resolve(ROOT, dirname(file), spec)).replace(/\.js$/, '.ts')).filter((path) => text.has(path));
}

const graph = new Map(files.map((file) => [file, importsOf(file)]));

describe('the house', () => {
  it('has no import that runs up a floor, and the worker and the adapters never import each other', () => {
    const upward: string[] = [];
    for (const [file, imports] of graph) {
      for (const target of imports) {
        if (floorOf(target) > floorOf(file)) upward.push(`${file} (floor ${floorOf(file)}) → ${target} (floor ${floorOf(target)})`);
        const [from, to] = [SEALED_FROM_EACH_OTHER.find((p) => file.startsWith(p)), SEALED_FROM_EACH_OTHER.find((p) => target.startsWith(p))];
        if (from && to && from !== to && !file.startsWith('adapters/registry')) upward.push(`${file} → ${target} (across)`);
      }
    }
    expect(upward).toEqual([]);
  });

  it('has no import cycle', () => {
    const cycles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const visit = (file: string, path: string[]) => {
      if (state.get(file) === 'done') return;
      if (state.get(file) === 'open') {
        cycles.push([...path.slice(path.indexOf(file)), file].join(' → '));
        return;
      }
      state.set(file, 'open');
      for (const target of graph.get(file) ?? []) visit(target, [...path, file]);
      state.set(file, 'done');
    };
    for (const file of files) visit(file, []);
    expect(cycles).toEqual([]);
  });

  it('names no chat platform in the code of src/ and gpu-worker/ (comments may)', () => {
    const naming = files
      .filter((file) => file.startsWith('src/') || file.startsWith('gpu-worker/'))
      .flatMap((file) => withoutComments(text.get(file)!).split('\n').map((line, i) => [file, i + 1, line] as const))
      .filter(([, , line]) => /discord|slack/i.test(line))
      .map(([file, line, code]) => `${file}:${line}: ${code.trim()}`);
    expect(naming).toEqual([]);
  });

  it('reads the environment only in src/config', () => {
    const readers = files.filter((file) => !file.startsWith('src/config/') && /process\.env\b/.test(withoutComments(text.get(file)!)));
    expect(readers).toEqual([]);
  });

  it('keeps Lua in .lua files, none in TypeScript', () => {
    expect(files.filter((file) => /redis\.call\s*\(/.test(text.get(file)!))).toEqual([]);
  });

  it('has every document a comment cites in the repository', () => {
    const cited = new Set<string>();
    for (const source of text.values()) for (const m of source.matchAll(/\b((?:docs|models\/colour-world)\/[\w./-]+\.md)\b/g)) cited.add(m[1]);
    expect([...cited].filter((doc) => !existsSync(join(ROOT, doc)))).toEqual([]);
    expect(files.filter((file) => /\b(ALGORITHM|DESIGN|STYLE)\.md\b|shared\/docs/.test(text.get(file)!))).toEqual([]);
  });

  it('keeps the README to the pitch, the quick start, a short usage and links: at most 300 lines', () => {
    expect(readFileSync(join(ROOT, 'README.md'), 'utf8').split('\n').length).toBeLessThanOrEqual(300);
  });
});
