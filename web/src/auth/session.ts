/**
 * Cognito sign-in (SRP, so the password never leaves the browser), token refresh and sign-out,
 * over amazon-cognito-identity-js. Tokens live in the library's localStorage entries, so a
 * reload stays signed in.
 *
 * `getIdToken` is what the socket and the REST client call: it returns a token valid for at
 * least a couple of minutes, refreshing first when needed, and shares one refresh between
 * concurrent callers.
 */
import {
  AuthenticationDetails,
  CognitoUser,
  CognitoUserPool,
  type CognitoUserSession,
} from "amazon-cognito-identity-js";
import { SignedOutError } from "../chat/socket";
import type { AppConfig, AuthFlow } from "../config";

export interface SignedInUser {
  username: string;
  email?: string;
}

export type SignInResult = { kind: "signedIn"; user: SignedInUser } | { kind: "newPasswordRequired" };

/** A sign-in that failed for a reason the person can act on. */
export class AuthError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "AuthError";
  }
}

const MESSAGES: Record<string, string> = {
  NotAuthorizedException: "Incorrect username or password.",
  UserNotFoundException: "Incorrect username or password.",
  UserNotConfirmedException: "This account is not confirmed yet.",
  PasswordResetRequiredException: "A password reset is required for this account.",
  InvalidPasswordException: "That password does not meet the pool's password policy.",
  TooManyRequestsException: "Too many attempts. Wait a moment and try again.",
  NetworkError: "Cannot reach the sign-in service. Check your connection.",
};

/** Refusals whose own words say what to change (which password rule was not met). */
const SPECIFIC = new Set(["InvalidPasswordException"]);

function toAuthError(error: unknown): AuthError {
  const e = error as { code?: unknown; name?: unknown; message?: unknown } | null;
  const code =
    (typeof e?.code === "string" && e.code) || (typeof e?.name === "string" && e.name) || "Error";
  const own = typeof e?.message === "string" && e.message ? e.message : null;
  const message = (SPECIFIC.has(code) && own) || MESSAGES[code] || own || "Sign-in failed.";
  return new AuthError(code, message);
}

/** Refresh failures that mean the session is over, not that the network hiccuped. */
const FATAL_REFRESH = new Set(["NotAuthorizedException", "UserNotFoundException"]);

export const MIN_VALIDITY_MS = 2 * 60 * 1000;

/** What the person typed to sign in; shown when the token carries no email. */
const LOGIN_KEY = "openclaw.login";

function rememberLogin(name: string | null): void {
  try {
    if (name) localStorage.setItem(LOGIN_KEY, name);
    else localStorage.removeItem(LOGIN_KEY);
  } catch {
    // Storage disabled: the header shows the account id instead.
  }
}

function rememberedLogin(): string | null {
  try {
    return localStorage.getItem(LOGIN_KEY);
  } catch {
    return null;
  }
}

export class AuthClient {
  private readonly pool: CognitoUserPool;
  private readonly flow: AuthFlow;
  private user: CognitoUser | null = null;
  private session: CognitoUserSession | null = null;
  private challengeUser: CognitoUser | null = null;
  private challengeAttributes: Record<string, unknown> = {};
  private refreshing: Promise<CognitoUserSession> | null = null;
  private readonly listeners = new Set<(user: SignedInUser | null) => void>();

  constructor(
    config: Pick<AppConfig, "userPoolId" | "userPoolClientId" | "cognitoEndpoint" | "authFlow">,
  ) {
    this.flow = config.authFlow ?? "USER_SRP_AUTH";
    this.pool = new CognitoUserPool({
      UserPoolId: config.userPoolId,
      ClientId: config.userPoolClientId,
      ...(config.cognitoEndpoint ? { endpoint: config.cognitoEndpoint } : {}),
    });
  }

  /** Signed-in state changes (sign-in, sign-out, a session that could not be refreshed). */
  subscribe(listener: (user: SignedInUser | null) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(user: SignedInUser | null): void {
    for (const listener of this.listeners) listener(user);
  }

  private describe(session: CognitoUserSession): SignedInUser {
    const payload = session.getIdToken().decodePayload() as Record<string, unknown>;
    const username =
      (typeof payload["cognito:username"] === "string" && payload["cognito:username"]) ||
      this.user?.getUsername() ||
      "";
    // moto's SRP (the local Cognito) puts the user's sub in the email claim: show only a real
    // address, else what the person typed.
    const claimed = typeof payload.email === "string" && payload.email.includes("@");
    const email = claimed ? (payload.email as string) : (rememberedLogin() ?? undefined);
    return email ? { username, email } : { username };
  }

  /** The session left by an earlier visit, refreshed if it expired; null when there is none. */
  async restore(): Promise<SignedInUser | null> {
    const user = this.pool.getCurrentUser();
    if (!user) return null;
    try {
      const session = await new Promise<CognitoUserSession>((resolve, reject) => {
        user.getSession((error: Error | null, s: CognitoUserSession | null) =>
          error || !s ? reject(error ?? new Error("no session")) : resolve(s),
        );
      });
      this.user = user;
      this.session = session;
      return this.describe(session);
    } catch {
      user.signOut();
      return null;
    }
  }

  signIn(username: string, password: string): Promise<SignInResult> {
    rememberLogin(username.trim());
    const user = new CognitoUser({ Username: username.trim(), Pool: this.pool });
    user.setAuthenticationFlowType(this.flow);
    const details = new AuthenticationDetails({ Username: username.trim(), Password: password });
    return new Promise<SignInResult>((resolve, reject) => {
      user.authenticateUser(details, {
        onSuccess: (session) => resolve(this.signedIn(user, session)),
        onFailure: (error) => reject(toAuthError(error)),
        newPasswordRequired: (attributes: Record<string, unknown>) => {
          // Read-only attributes Cognito refuses to see echoed back.
          const { email_verified: _e, phone_number_verified: _p, email: _m, ...rest } =
            attributes ?? {};
          this.challengeUser = user;
          this.challengeAttributes = rest;
          resolve({ kind: "newPasswordRequired" });
        },
        mfaRequired: () =>
          reject(new AuthError("MfaRequired", "This account needs MFA, which this app lacks.")),
        totpRequired: () =>
          reject(new AuthError("MfaRequired", "This account needs MFA, which this app lacks.")),
      });
    });
  }

  /** The first sign-in of an account an administrator created with a temporary password. */
  completeNewPassword(newPassword: string): Promise<SignedInUser> {
    const user = this.challengeUser;
    if (!user) return Promise.reject(new AuthError("NoChallenge", "Sign in again."));
    return new Promise<SignedInUser>((resolve, reject) => {
      user.completeNewPasswordChallenge(newPassword, this.challengeAttributes, {
        onSuccess: (session) => {
          this.challengeUser = null;
          const result = this.signedIn(user, session);
          resolve(result.user);
        },
        onFailure: (error) => reject(toAuthError(error)),
      });
    });
  }

  private signedIn(user: CognitoUser, session: CognitoUserSession) {
    this.user = user;
    this.session = session;
    const described = this.describe(session);
    this.emit(described);
    return { kind: "signedIn" as const, user: described };
  }

  /** An ID token valid for at least `MIN_VALIDITY_MS`; refreshed first if not (or if forced). */
  async getIdToken(options: { forceRefresh?: boolean } = {}): Promise<string> {
    const session = this.session;
    if (!session || !this.user) throw new SignedOutError();
    const expiresAt = session.getIdToken().getExpiration() * 1000;
    if (!options.forceRefresh && expiresAt - Date.now() > MIN_VALIDITY_MS) {
      return session.getIdToken().getJwtToken();
    }
    const fresh = await this.refresh();
    return fresh.getIdToken().getJwtToken();
  }

  private refresh(): Promise<CognitoUserSession> {
    if (this.refreshing) return this.refreshing;
    const user = this.user;
    const session = this.session;
    if (!user || !session) return Promise.reject(new SignedOutError());
    this.refreshing = new Promise<CognitoUserSession>((resolve, reject) => {
      user.refreshSession(session.getRefreshToken(), (error: unknown, fresh: CognitoUserSession) => {
        if (error) {
          const authError = toAuthError(error);
          if (FATAL_REFRESH.has(authError.code)) {
            this.forget();
            reject(new SignedOutError(authError.message));
          } else {
            reject(authError);
          }
          return;
        }
        this.session = fresh;
        resolve(fresh);
      });
    }).finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }

  signOut(): void {
    this.forget();
  }

  private forget(): void {
    rememberLogin(null);
    this.user?.signOut();
    this.user = null;
    this.session = null;
    this.emit(null);
  }
}
