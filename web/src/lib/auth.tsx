"use client";
// Who is signed in. The token lives in token.ts; this provider turns it into the current user
// (GET /api/auth/me) and offers sign-in/sign-out to the pages.
import { useRouter } from "next/navigation";
import {
  createContext,
  useCallback,
  useContext,
  useEffect,
  useMemo,
  useState,
  useSyncExternalStore,
  type ReactNode,
} from "react";

import { api, unwrap } from "./api/client";
import type { User } from "./api/types";
import { describeError } from "./errors";
import { getToken, setToken, subscribeToken } from "./token";

type AuthState =
  | { status: "loading" }
  | { status: "anonymous"; error: string | null }
  | { status: "signed-in"; user: User };

type AuthContextValue = {
  state: AuthState;
  /** Sign in with a local account; throws a UserFacingError on bad credentials. */
  signIn: (email: string, password: string) => Promise<void>;
  /** Use a token obtained elsewhere (the OIDC callback). */
  acceptToken: (token: string) => void;
  signOut: () => void;
};

const AuthContext = createContext<AuthContextValue | null>(null);
const LOADING: AuthState = { status: "loading" };
const ANONYMOUS: AuthState = { status: "anonymous", error: null };
const noSubscription = () => () => {};

export function AuthProvider({ children }: { children: ReactNode }) {
  const token = useSyncExternalStore(subscribeToken, getToken, () => null);
  // False while the static page hydrates, true once running in the browser.
  const hydrated = useSyncExternalStore(noSubscription, () => true, () => false);
  // What GET /api/auth/me said, and for which token: an answer for another token is stale.
  const [answer, setAnswer] = useState<{ token: string; state: AuthState } | null>(null);

  useEffect(() => {
    if (!hydrated || !token) return;
    const controller = new AbortController();
    api
      .GET("/api/auth/me", { signal: controller.signal })
      .then((result) => setAnswer({ token, state: { status: "signed-in", user: unwrap(result) } }))
      .catch((error: unknown) => {
        if (controller.signal.aborted) return;
        setAnswer({ token, state: { status: "anonymous", error: describeError(error) } });
      });
    return () => controller.abort();
  }, [token, hydrated]);

  let state = LOADING;
  if (hydrated && !token) state = ANONYMOUS;
  else if (answer !== null && answer.token === token) state = answer.state;

  const signIn = useCallback(async (email: string, password: string) => {
    const result = await api.POST("/api/auth/login", {
      body: { username: email, password, scope: "" },
      bodySerializer: (body) => new URLSearchParams(body as Record<string, string>),
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
    });
    setToken(unwrap(result).access_token);
  }, []);

  // Revoke the token on the server (every session of a local account), then forget it here;
  // an unreachable server or an external (OIDC) token still ends the session in this browser.
  const signOut = useCallback(() => {
    api
      .POST("/api/auth/logout")
      .catch(() => undefined)
      .finally(() => setToken(null));
  }, []);

  const value = useMemo<AuthContextValue>(
    () => ({ state, signIn, acceptToken: (next) => setToken(next), signOut }),
    [state, signIn, signOut],
  );
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

export function useAuth(): AuthContextValue {
  const value = useContext(AuthContext);
  if (!value) throw new Error("useAuth must be used inside <AuthProvider>");
  return value;
}

/**
 * The signed-in user, or null while unknown. Sends anonymous visitors to the sign-in page and
 * brings them back afterwards, unless `redirect` is false (a page that ends the session itself
 * and says where to go next).
 */
export function useRequireUser(redirect = true): User | null {
  const { state } = useAuth();
  const router = useRouter();
  useEffect(() => {
    if (redirect && state.status === "anonymous") {
      const here = window.location.pathname + window.location.search;
      router.replace(`/login/?next=${encodeURIComponent(here)}`);
    }
  }, [redirect, state.status, router]);
  return state.status === "signed-in" ? state.user : null;
}

/** Only same-site paths may be used as a post-sign-in destination (no open redirects). */
export function safeNext(next: string | null): string {
  return next && next.startsWith("/") && !next.startsWith("//") ? next : "/";
}
