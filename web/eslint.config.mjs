// ESLint (flat config): Next.js's recommended, Core Web Vitals and TypeScript rules.
import nextVitals from "eslint-config-next/core-web-vitals";
import nextTypescript from "eslint-config-next/typescript";
import { defineConfig, globalIgnores } from "eslint/config";

export default defineConfig([
  ...nextVitals,
  ...nextTypescript,
  // Build output, and the API types generated from the OpenAPI schema (never edited by hand).
  globalIgnores([".next/**", "out/**", "next-env.d.ts", "src/lib/api/schema.d.ts"]),
  // A disable comment that no longer disables anything fails the lint.
  { linterOptions: { reportUnusedDisableDirectives: "error" } },
]);
