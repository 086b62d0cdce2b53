import type { Report } from "@/lib/api/types";

type Provenance = NonNullable<Report["provenance"]>;
type Status = Provenance["content_credentials"]["status"];

// Short badge text per state; the sentence the user reads comes from the API (`summary`).
const STATUS_LABEL: Record<Status, string> = {
  absent: "No Content Credentials",
  valid: "Valid, trusted signer",
  untrusted_signer: "Intact, signer not trusted",
  content_changed: "Changed after signing",
  signature_invalid: "Signature invalid",
  unreadable: "Unreadable",
};

/** Where the video says it came from: Content Credentials (C2PA) and container hints. */
export function ProvenancePanel({ provenance }: { provenance: Provenance }) {
  const cc = provenance.content_credentials;
  const container = provenance.container;
  const signed = cc.status !== "absent" && cc.status !== "unreadable";
  // Lists the API may leave out when empty (they have defaults in the schema).
  const sourceTypes = cc.digital_source_types ?? [];
  const actions = cc.actions ?? [];
  const ingredients = cc.ingredients ?? [];
  const codes = cc.validation_codes ?? [];
  const hints = container.hints ?? [];
  const location = container.location ?? [];
  return (
    <div data-testid="provenance-panel">
      <p>
        <span className="status-pill" data-testid="provenance-status">
          {STATUS_LABEL[cc.status]}
        </span>
      </p>
      <p data-testid="provenance-summary">{provenance.summary}</p>
      <p className="muted">
        Shown beside the verdict, never part of it. A video without Content Credentials is not
        suspicious: most have none.
      </p>
      {signed && (
        <dl className="facts">
          {cc.signer && (
            <div>
              <dt>Signed by</dt>
              <dd data-testid="provenance-signer">
                {cc.signer.subject ?? "—"}
                {cc.signer.issuer && <span className="muted"> (certificate issued by {cc.signer.issuer})</span>}
              </dd>
            </div>
          )}
          {cc.claim_generator && (
            <div>
              <dt>Made with</dt>
              <dd>{cc.claim_generator}</dd>
            </div>
          )}
          {cc.signed_at && (
            <div>
              <dt>Signed at</dt>
              <dd>{cc.signed_at}</dd>
            </div>
          )}
          {cc.declares_ai && (
            <div>
              <dt>AI declaration</dt>
              <dd data-testid="provenance-ai">
                The signer says it was made with AI ({sourceTypes.join(", ")})
              </dd>
            </div>
          )}
          {actions.length > 0 && (
            <div>
              <dt>Actions</dt>
              <dd>
                {actions
                  .map((a) => [a.action, a.digital_source_type, a.software_agent].filter(Boolean).join(" · "))
                  .join("; ")}
              </dd>
            </div>
          )}
          {ingredients.length > 0 && (
            <div>
              <dt>Made from</dt>
              <dd>
                {ingredients
                  .map((i) => `${i.title ?? "untitled"} (${i.relationship ?? "ingredient"})`)
                  .join("; ")}
              </dd>
            </div>
          )}
        </dl>
      )}
      {codes.length > 0 && (
        <details>
          <summary>Validation codes ({cc.validation_state ?? "no state"})</summary>
          <ul>
            {codes.map((v) => (
              <li key={`${v.kind}-${v.code}`}>
                <code>{v.code}</code> <span className="muted">{v.kind}{v.explanation ? `: ${v.explanation}` : ""}</span>
              </li>
            ))}
          </ul>
        </details>
      )}
      {(hints.length > 0 || location.length > 0) && (
        <details>
          <summary>Container metadata: hints anyone can write</summary>
          <div className="table-wrap">
            <table>
              <caption className="visually-hidden">Container and stream tags</caption>
              <tbody>
                {hints.map((tag) => (
                  <tr key={`${tag.source}-${tag.key}`}>
                    <th scope="row">{tag.label}</th>
                    <td>{tag.value}</td>
                    <td className="muted hide-narrow">{tag.source}</td>
                  </tr>
                ))}
                {location.map((tag) => (
                  <tr key={`loc-${tag.source}-${tag.key}`}>
                    <th scope="row">Location (only you see this)</th>
                    <td>{tag.value}</td>
                    <td className="muted hide-narrow">{tag.source}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </details>
      )}
      {container.status === "unreadable" && <p className="muted">Container metadata unreadable: {container.reason}</p>}
    </div>
  );
}
