/**
 * The lint rule that keeps this suite honest (.ci/lint/honest-tests.grit, wired in biome.jsonc):
 * under test/, `vi.fn`, `vi.mock`, `vi.doMock`, `vi.spyOn`, `vi.stubGlobal` and any replacement
 * of the global fetch fail `npm run lint`. These tests copy the committed config and plugin into a
 * temporary project, write small files there (never into test/ itself) and run the real Biome
 * CLI on them, so a config change that silently disables the rule fails here.
 */
import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const BIOME = join(ROOT, 'node_modules', '@biomejs', 'biome', 'bin', 'biome');
const PLUGIN = join('.ci', 'lint', 'honest-tests.grit');
const HONESTY_MESSAGE = 'Tests use real components';

/** One diagnostic as Biome's JSON reporter prints it (only the fields these tests read). */
interface Diagnostic {
  category: string;
  message: string;
  location: { path: string; start: { line: number } };
}

let project: string;

beforeAll(async () => {
  project = await mkdtemp(join(tmpdir(), 'mcp-relay-lint-'));
  await mkdir(join(project, '.ci', 'lint'), { recursive: true });
  await mkdir(join(project, 'test'));
  await mkdir(join(project, 'src'));
  await copyFile(join(ROOT, 'biome.jsonc'), join(project, 'biome.jsonc'));
  await copyFile(join(ROOT, PLUGIN), join(project, PLUGIN));
});

afterAll(async () => {
  await rm(project, { recursive: true, force: true });
});

/** Write `source` at `relPath` in the temporary project and lint that file alone. */
async function lint(relPath: string, source: string): Promise<Diagnostic[]> {
  await writeFile(join(project, relPath), source);
  const stdout = await new Promise<string>((resolve, reject) => {
    // Exit code 1 only means "diagnostics found"; the JSON report on stdout is what we judge.
    execFile(process.execPath, [BIOME, 'lint', '--reporter=json', '--max-diagnostics=none', relPath], { cwd: project }, (error, out) => {
      if (error && error.code !== 1) reject(error);
      else resolve(out);
    });
  });
  return (JSON.parse(stdout) as { diagnostics: Diagnostic[] }).diagnostics;
}

describe('the honesty lint rule for test/', () => {
  it('reports every mock, spy, stubbed global and replaced global fetch, each at its own line', async () => {
    const offences = [
      'export const f = vi.fn();',
      "vi.mock('node:fs');",
      "vi.doMock('node:http');",
      "vi.spyOn(console, 'log');",
      "vi.stubGlobal('fetch', f);",
      'globalThis.fetch = f;',
      "global.fetch = async () => new Response('');",
      '(globalThis as { fetch: unknown }).fetch = f;',
      "globalThis['fetch'] = f;",
      "Object.defineProperty(globalThis, 'fetch', { value: f });",
      'export const alias = vi.fn;',
    ];
    const source = `import { vi } from 'vitest';\n${offences.join('\n')}\n`;
    const found = await lint('test/offender.test.ts', source);
    const honesty = found.filter((d) => d.category === 'plugin');
    expect(honesty.every((d) => d.message.startsWith(HONESTY_MESSAGE))).toBe(true);
    // Line 1 is the import; offence i sits on line i + 2.
    expect(honesty.map((d) => d.location.start.line).sort((a, b) => a - b)).toEqual(offences.map((_, i) => i + 2));
  });

  it('passes a clean test that waits with vi.waitFor and calls the real fetch', async () => {
    const source = [
      "import { expect, it, vi } from 'vitest';",
      '',
      "it('talks to a real server', async () => {",
      '  const client = { fetch: globalThis.fetch };',
      '  client.fetch = globalThis.fetch;',
      "  const res = await globalThis.fetch('http://127.0.0.1:1/');",
      '  await vi.waitFor(() => expect(res.status).toBe(200));',
      '});',
      '',
    ].join('\n');
    expect(await lint('test/clean.test.ts', source)).toEqual([]);
  });

  it('is scoped to test/ by biome.jsonc, so it says nothing about files elsewhere', async () => {
    const found = await lint('src/elsewhere.ts', "import { vi } from 'vitest';\nexport const f = vi.fn();\n");
    expect(found.filter((d) => d.category === 'plugin')).toEqual([]);
  });
});
