/**
 * The seeded randomness of the randomized tests: mulberry32 (small, fast, and the same sequence
 * for the same seed everywhere), and the seed each run uses: MCP_RELAY_SEED when set (to replay a
 * failure, whose message prints the seed), else a fresh one.
 */
export function testSeed(): number {
  return process.env.MCP_RELAY_SEED ? Number(process.env.MCP_RELAY_SEED) : Math.floor(Math.random() * 2 ** 31);
}

export function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(list: readonly T[]): T => list[int(list.length)]!;
  return { next, int, pick, chance: (p: number) => next() < p };
}
