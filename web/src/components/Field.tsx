import type { InputHTMLAttributes } from "react";

type FieldProps = {
  id: string;
  label: string;
  value: string;
  onValue: (value: string) => void;
  hint?: string;
} & Omit<InputHTMLAttributes<HTMLInputElement>, "id" | "value" | "onChange">;

/** A labelled text input (and optional hint) for the account forms. */
export function Field({ id, label, value, onValue, hint, ...input }: FieldProps) {
  const hintId = hint ? `${id}-hint` : undefined;
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <input
        id={id}
        required
        aria-describedby={hintId}
        value={value}
        onChange={(event) => onValue(event.target.value)}
        {...input}
      />
      {hint && (
        <p className="hint" id={hintId}>
          {hint}
        </p>
      )}
    </div>
  );
}
