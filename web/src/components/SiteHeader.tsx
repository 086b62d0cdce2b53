"use client";
import Link from "next/link";
import { usePathname, useRouter } from "next/navigation";

import { useAuth } from "@/lib/auth";

const LINKS = [
  { href: "/", label: "Upload" },
  { href: "/history/", label: "History" },
  { href: "/live/", label: "Live" },
];

export function SiteHeader() {
  const { state, signOut } = useAuth();
  const pathname = usePathname();
  const router = useRouter();

  return (
    <header className="site-header">
      <div className="inner">
        <Link href="/" className="brand">
          deep<span>verify</span>
        </Link>
        <nav className="site-nav" aria-label="Main">
          {state.status === "signed-in" &&
            LINKS.map((link) => (
              <Link key={link.href} href={link.href} aria-current={pathname === link.href ? "page" : undefined}>
                {link.label}
              </Link>
            ))}
        </nav>
        <div className="user-box">
          {state.status === "signed-in" ? (
            <>
              <span className="email" title={state.user.email ?? state.user.provider}>
                {state.user.email ?? "Signed in"}
              </span>
              <nav className="account-nav" aria-label="Account">
                {state.user.provider === "local" && (
                  <Link href="/account/password/" aria-current={pathname === "/account/password/" ? "page" : undefined}>
                    Change password
                  </Link>
                )}
                <Link href="/account/delete/" aria-current={pathname === "/account/delete/" ? "page" : undefined}>
                  Delete account
                </Link>
              </nav>
              <button
                type="button"
                className="button secondary small"
                onClick={() => {
                  signOut();
                  router.push("/login/");
                }}
              >
                Sign out
              </button>
            </>
          ) : state.status === "anonymous" && pathname !== "/login/" ? (
            <Link href="/login/" className="button secondary small">
              Sign in
            </Link>
          ) : null}
        </div>
      </div>
    </header>
  );
}
