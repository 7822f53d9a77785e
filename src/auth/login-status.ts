/**
 * The auth side's view of a login, as the stdio side needs it (the login shield reads it to decide
 * when to answer the host itself). Written by the coordinator; read by relay/.
 */
export interface LoginStatus {
  /** True while the user is being asked to log in (browser, paste, or another process's login). */
  waitingForUser(): boolean;
  /** 'waiting' when the user is asked to act; 'done' when that login ended, either way. */
  subscribe(listener: (event: 'waiting' | 'done') => void): void;
  /** The authorization URL the user should open, if a login is pending. */
  authorizationUrl(): Promise<string | undefined>;
}
