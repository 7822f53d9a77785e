/**
 * The layout is the architecture (docs/architecture.md): every top-level folder of src/ sits in
 * one layer, and imports only point down. This reads the real import statements of src/, so a
 * change that makes auth/ import relay/ (say) fails here instead of becoming a cycle.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = resolve(import.meta.dirname, '../../src');

/** Top to bottom; a folder may import any folder below it, never one above or beside it. */
const LAYERS: string[][] = [
  ['cli'],
  ['doctor'],
  ['demo'],
  ['relay'],
  ['remote'],
  ['auth'],
  ['http'],
  ['jsonrpc'],
  ['store'],
  ['config'],
  ['(root)'], // errors.ts, log.ts, sleep.ts …: leaves every layer may use
];

function sourceFiles(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) sourceFiles(path, out);
    else if (path.endsWith('.ts')) out.push(path);
  }
  return out;
}

function folderOf(file: string): string {
  const parts = relative(SRC, file).split(/[\\/]/);
  return parts.length > 1 ? parts[0]! : '(root)';
}

/** Every cross-folder import in src/: "from → to" with the files that make it. */
function folderEdges(): Map<string, string[]> {
  const edges = new Map<string, string[]>();
  for (const file of sourceFiles(SRC)) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/(?:from\s+|import\s*\(\s*)'(\.{1,2}\/[^']+)'/g)) {
      const from = folderOf(file);
      const to = folderOf(resolve(dirname(file), m[1]!));
      if (from === to) continue;
      const key = `${from} → ${to}`;
      edges.set(key, [...(edges.get(key) ?? []), relative(SRC, file)]);
    }
  }
  return edges;
}

function rank(folder: string): number {
  return LAYERS.findIndex((layer) => layer.includes(folder));
}

describe('the layout of src/', () => {
  it('puts every top-level folder in a layer', () => {
    const folders = new Set(sourceFiles(SRC).map(folderOf));
    const unplaced = [...folders].filter((f) => rank(f) < 0);
    expect(unplaced, 'add new folders to LAYERS and to docs/architecture.md').toEqual([]);
  });

  it('has imports that only point down the layers (so no cycle between folders)', () => {
    const upward = [...folderEdges()]
      .filter(([key]) => {
        const [from, to] = key.split(' → ') as [string, string];
        return rank(to) <= rank(from);
      })
      .map(([key, files]) => `${key} (${[...new Set(files)].join(', ')})`);
    expect(upward).toEqual([]);
  });

  it('has no import cycle between folders', () => {
    const graph = new Map<string, Set<string>>();
    for (const key of folderEdges().keys()) {
      const [from, to] = key.split(' → ') as [string, string];
      graph.set(from, (graph.get(from) ?? new Set()).add(to));
    }
    const cycles: string[] = [];
    const visit = (node: string, path: string[]): void => {
      if (path.includes(node)) {
        cycles.push([...path.slice(path.indexOf(node)), node].join(' → '));
        return;
      }
      for (const next of graph.get(node) ?? []) visit(next, [...path, node]);
    };
    for (const node of graph.keys()) visit(node, []);
    expect(cycles).toEqual([]);
  });
});
