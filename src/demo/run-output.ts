/**
 * How the demo talks to the person watching it: numbered steps, what the server saw, checks
 * that passed. Plain text, with ANSI colours only when the output is a terminal.
 */

/** Where the demo writes (stdout for the walkthrough, stderr for failures). */
export type Write = (text: string) => void;

/** Width of the left column ("Step 1", "server", "store", ...), in characters. */
const LABEL_WIDTH = 8;

const ANSI = {
  bold: ['\x1b[1m', '\x1b[22m'],
  dim: ['\x1b[2m', '\x1b[22m'],
  green: ['\x1b[32m', '\x1b[39m'],
  red: ['\x1b[31m', '\x1b[39m'],
  cyan: ['\x1b[36m', '\x1b[39m'],
  yellow: ['\x1b[33m', '\x1b[39m'],
} as const;

export type Colour = keyof typeof ANSI;
export type Paint = (colour: Colour, text: string) => string;

/**
 * Colours for a stream: only on a TTY, and never when NO_COLOR is set (https://no-color.org).
 */
export function painter(isTTY: boolean | undefined, env: NodeJS.ProcessEnv): Paint {
  const on = isTTY === true && !env.NO_COLOR;
  return (colour, text) => (on ? `${ANSI[colour][0]}${text}${ANSI[colour][1]}` : text);
}

/** The demo's narrative voice. Every method writes whole lines. */
export interface Narrator {
  paint: Paint;
  /** A header line in bold. */
  title(text: string): void;
  /** "label   value" line in the preamble. */
  field(label: string, value: string): void;
  /** Starts step `n`. */
  step(n: number, title: string): void;
  /** An observation under the current step, e.g. ("server", "POST /register"). */
  saw(label: string, text: string): void;
  /** An explanation under the current step (dim). */
  note(text: string): void;
  /** A check that passed. */
  ok(text: string): void;
  /** A failed step, with why. */
  failed(n: number, title: string, reason: string): void;
  /** A plain line (or an empty one). */
  line(text?: string): void;
}

/** A {@link Narrator} writing to `write`, coloured by `paint`. */
export function createNarrator(write: Write, paint: Paint): Narrator {
  const indent = ' '.repeat(LABEL_WIDTH);
  const out = (text: string) => write(`${text}\n`);
  return {
    paint,
    title: (text) => out(paint('bold', text)),
    field: (label, value) => out(`  ${label.padEnd(LABEL_WIDTH + 8)}${value}`),
    step: (n, title) => out(`\n${paint('bold', paint('cyan', `Step ${n}`.padEnd(LABEL_WIDTH)))}${paint('bold', title)}`),
    saw: (label, text) => out(`${indent}${paint('yellow', label.padEnd(LABEL_WIDTH))}${text}`),
    note: (text) => out(`${indent}${paint('dim', text)}`),
    ok: (text) => out(`${indent}${paint('green', `✓ ${text}`)}`),
    failed: (n, title, reason) => out(`${indent}${paint('red', `✗ step ${n} (${title}) failed: ${reason}`)}`),
    line: (text = '') => out(text),
  };
}

/** Seconds from now until `epochMs`, for "expires in 58 s" (never negative). */
export function secondsUntil(epochMs: number, now: number): number {
  return Math.max(0, Math.round((epochMs - now) / 1000));
}
