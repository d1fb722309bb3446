import { type FormEvent, useState } from "react";
import { useAuth } from "../auth/AuthContext";
import { AuthError } from "../auth/session";

export function SignIn() {
  const { client } = useAuth();
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [newPassword, setNewPassword] = useState("");
  const [step, setStep] = useState<"credentials" | "newPassword">("credentials");
  const [error, setError] = useState<string | null>(null);
  const [pending, setPending] = useState(false);

  const fail = (e: unknown) =>
    setError(e instanceof AuthError ? e.message : "Sign-in failed. Try again.");

  const signIn = async (event: FormEvent) => {
    event.preventDefault();
    setPending(true);
    setError(null);
    try {
      const result = await client.signIn(username, password);
      if (result.kind === "newPasswordRequired") setStep("newPassword");
    } catch (e) {
      fail(e);
    } finally {
      setPending(false);
    }
  };

  const choosePassword = async (event: FormEvent) => {
    event.preventDefault();
    setPending(true);
    setError(null);
    try {
      await client.completeNewPassword(newPassword);
    } catch (e) {
      fail(e);
    } finally {
      setPending(false);
    }
  };

  return (
    <main className="signin">
      <div className="signin-card">
        <h1>OpenClaw</h1>
        <p className="muted">Sign in to talk to your agent.</p>
        {step === "credentials" ? (
          <form onSubmit={signIn} aria-label="Sign in" data-testid="signin-form">
            <label htmlFor="signin-username">Username or email</label>
            <input
              id="signin-username"
              data-testid="signin-username"
              autoComplete="username"
              autoCapitalize="none"
              spellCheck={false}
              required
              value={username}
              onChange={(e) => setUsername(e.target.value)}
            />
            <label htmlFor="signin-password">Password</label>
            <input
              id="signin-password"
              data-testid="signin-password"
              type="password"
              autoComplete="current-password"
              required
              value={password}
              onChange={(e) => setPassword(e.target.value)}
            />
            <button className="button" type="submit" disabled={pending} data-testid="signin-submit">
              {pending ? "Signing in…" : "Sign in"}
            </button>
          </form>
        ) : (
          <form onSubmit={choosePassword} aria-label="Choose a new password">
            <p>Your account has a temporary password. Choose your own to continue.</p>
            <label htmlFor="signin-new-password">New password</label>
            <input
              id="signin-new-password"
              data-testid="signin-new-password"
              type="password"
              autoComplete="new-password"
              required
              value={newPassword}
              onChange={(e) => setNewPassword(e.target.value)}
            />
            <button
              className="button"
              type="submit"
              disabled={pending}
              data-testid="signin-new-password-submit"
            >
              {pending ? "Saving…" : "Set password and sign in"}
            </button>
          </form>
        )}
        {error ? (
          <p className="field-error" role="alert" data-testid="signin-error">
            {error}
          </p>
        ) : null}
      </div>
    </main>
  );
}
