// oidc-provider ships no type declarations; the tests use it as a real IdP through its documented API.
declare module 'oidc-provider';
