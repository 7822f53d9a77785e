import { describe, expect, it } from 'vitest';
import { SUBCOMMANDS } from '../../src/cli/commands.js';
import { SUBCOMMAND_WORDS } from '../../src/cli/main.js';

describe('CLI entry', () => {
  it('knows every subcommand without loading them (main.ts keeps its own list)', () => {
    expect([...SUBCOMMAND_WORDS].sort()).toEqual([...SUBCOMMANDS].sort());
  });
});
