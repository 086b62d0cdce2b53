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

type NewPasswordProps = {
  ids: [string, string];
  labels: [string, string];
  password: string;
  confirm: string;
  onPassword: (value: string) => void;
  onConfirm: (value: string) => void;
};

/** A new password and its confirmation (sign-up and password change share them). */
export function NewPasswordFields({ ids, labels, password, confirm, onPassword, onConfirm }: NewPasswordProps) {
  return (
    <>
      <Field
        id={ids[0]}
        label={labels[0]}
        type="password"
        autoComplete="new-password"
        value={password}
        onValue={onPassword}
        hint="The server checks the password rules and will say if it is too weak."
      />
      <Field id={ids[1]} label={labels[1]} type="password" autoComplete="new-password" value={confirm} onValue={onConfirm} />
    </>
  );
}
