/**
 * One step of `mcp-relay doctor`: what was checked, how it went, what was found and what to do.
 * A step never holds a secret: tokens, client secrets, passphrases and proxy credentials are left
 * out where the step is built, not scrubbed afterwards.
 */

/** ok and warn let the run pass (exit 0); fail makes it fail (exit 1); skip was not checked. */
export type StepStatus = 'ok' | 'warn' | 'fail' | 'skip';

export interface DoctorStep {
  name: string;
  status: StepStatus;
  detail: string;
  advice?: string | undefined;
}

/** How long one step (one connection, one request, one discovery) may take before it is a failure. */
export const STEP_TIMEOUT_MS = 5_000;

export function step(name: string, status: StepStatus, detail: string, advice?: string): DoctorStep {
  return advice === undefined ? { name, status, detail } : { name, status, detail, advice };
}

/** `work` within STEP_TIMEOUT_MS, or a rejection naming what timed out. */
export function withinStep<T>(work: Promise<T>, what: string, ms = STEP_TIMEOUT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new StepTimeout(`${what} did not finish within ${ms / 1000} s`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

export class StepTimeout extends Error {
  override name = 'StepTimeout';
}
