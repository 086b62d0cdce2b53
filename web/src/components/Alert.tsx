import type { ReactNode } from "react";

/** An error or notice. Errors use role="alert" so screen readers announce them at once. */
export function Alert({ kind = "error", children }: { kind?: "error" | "info"; children: ReactNode }) {
  return (
    <div className={`alert ${kind}`} role={kind === "error" ? "alert" : "status"}>
      {children}
    </div>
  );
}
