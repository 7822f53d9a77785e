/**
 * The virtual modules yargs-parts-bundled.ts imports: bin/build.mjs resolves each
 * `yargs-internal:<name>` to the file yargs itself loads (see its plugin `yargs-internal`).
 * Typed as loosely as yargs-parts.ts treats the same modules.
 */
declare module 'yargs-internal:factory' {
  export const YargsFactory: unknown;
}
declare module 'yargs-internal:process-argv' {
  export const getProcessArgvBin: unknown;
}
declare module 'yargs-internal:*' {
  const value: unknown;
  export default value;
}
