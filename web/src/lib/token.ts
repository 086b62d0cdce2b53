// The bearer token of the signed-in user, kept in localStorage so a reload keeps the session.
// Components subscribe through `useSyncExternalStore` (see auth.tsx); nothing here renders.

const KEY = "deepverify.token";
const listeners = new Set<() => void>();

function notify(): void {
  for (const listener of listeners) listener();
}

/** The stored token, or null when signed out (or when rendering at build time). */
export function getToken(): string | null {
  if (typeof window === "undefined") return null;
  try {
    return window.localStorage.getItem(KEY);
  } catch {
    return null; // storage disabled: behave as signed out rather than crash
  }
}

/** Store (or with null, forget) the token and tell subscribers. */
export function setToken(token: string | null): void {
  try {
    if (token) window.localStorage.setItem(KEY, token);
    else window.localStorage.removeItem(KEY);
  } catch {
    // Storage disabled: the session then lasts until the page is closed.
  }
  notify();
}

/** Subscribe to sign-in/sign-out, including from other tabs. Returns the unsubscribe function. */
export function subscribeToken(listener: () => void): () => void {
  listeners.add(listener);
  const onStorage = (event: StorageEvent) => {
    if (event.key === KEY) listener();
  };
  window.addEventListener("storage", onStorage);
  return () => {
    listeners.delete(listener);
    window.removeEventListener("storage", onStorage);
  };
}

/** `Authorization` header for the current token (empty when signed out). */
export function authHeaders(): Record<string, string> {
  const token = getToken();
  return token ? { Authorization: `Bearer ${token}` } : {};
}
