// The UI is a static export served by the FastAPI app at `/`; during `next dev` the API calls are
// proxied to a local `deepverify serve` instead (DEEPVERIFY_API, default http://127.0.0.1:8000).
import { PHASE_DEVELOPMENT_SERVER } from "next/constants.js";

/** @param {string} phase */
export default function config(phase) {
  /** @type {import('next').NextConfig} */
  const base = {
    trailingSlash: true,
    reactStrictMode: true,
    poweredByHeader: false,
    images: { unoptimized: true },
  };
  if (phase === PHASE_DEVELOPMENT_SERVER) {
    const api = process.env.DEEPVERIFY_API ?? "http://127.0.0.1:8000";
    return {
      ...base,
      skipTrailingSlashRedirect: true,
      async rewrites() {
        return [{ source: "/api/:path*", destination: `${api}/api/:path*` }];
      },
    };
  }
  return { ...base, output: "export" };
}
