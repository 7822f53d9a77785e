/**
 * oidc-provider ships no types (and @types/oidc-provider is not a dependency): the tests use it
 * as an untyped module, its callbacks typed where they are written.
 */
declare module 'oidc-provider' {
  // biome-ignore lint/suspicious/noExplicitAny: an untyped package, used only by test helpers
  const Provider: any;
  // biome-ignore lint/suspicious/noExplicitAny: as above
  type Provider = any;
  export default Provider;
  // biome-ignore lint/suspicious/noExplicitAny: as above
  export const errors: any;
}
