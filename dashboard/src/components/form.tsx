/**
 * Forms: a zod schema checks the values in the browser before any request; the API's
 * problem+json errors come back next to the field they name (422 `errors[].loc`, or a domain
 * error's `code` mapped to a field), anything else above the submit button.
 */
import { useId, useState, type FormEvent, type InputHTMLAttributes, type ReactNode } from "react";
import type { z } from "zod";

import { isProblem, problemFields } from "../lib/api";
import { useI18n, type MessageKey } from "../i18n";

export type FieldErrors<T> = Partial<Record<keyof T & string, string>>;

interface Options<S extends z.ZodObject> {
  schema: S;
  initial: z.input<S>;
  /** Domain error codes (e.g. "weak-password") that belong to one field. */
  codeFields?: Record<string, keyof z.input<S> & string>;
  submit: (values: z.output<S>) => Promise<unknown>;
}

export function useForm<S extends z.ZodObject>({ schema, initial, codeFields = {}, submit }: Options<S>) {
  const { t } = useI18n();
  const [values, setValues] = useState<z.input<S>>(initial);
  const [errors, setErrors] = useState<FieldErrors<z.input<S>>>({});
  const [formError, setFormError] = useState<string | null>(null);
  const [pending, setPending] = useState(false);
  const names = Object.keys(schema.shape);

  const set = (name: keyof z.input<S> & string, value: unknown) => {
    setValues((current) => ({ ...current, [name]: value }));
    setErrors((current) => ({ ...current, [name]: undefined }));
  };

  const onSubmit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    setFormError(null);
    const parsed = schema.safeParse(values);
    if (!parsed.success) {
      const found: Record<string, string> = {};
      for (const issue of parsed.error.issues) {
        const name = String(issue.path[0] ?? "");
        if (name && !(name in found)) found[name] = t(issue.message as MessageKey);
      }
      setErrors(found as FieldErrors<z.input<S>>);
      focusFirstInvalid(event.currentTarget);
      return;
    }
    setPending(true);
    try {
      await submit(parsed.data);
    } catch (error) {
      if (isProblem(error)) {
        const field = error.code ? codeFields[error.code] : undefined;
        if (field) {
          setErrors({ [field]: error.detail ?? error.title ?? error.code } as FieldErrors<z.input<S>>);
        } else {
          const placed = problemFields(error, names);
          setErrors(placed.fields as FieldErrors<z.input<S>>);
          if (placed.detail) setFormError(t("form.submit.failed", { detail: placed.detail }));
        }
      } else {
        setFormError(t("form.network"));
      }
    } finally {
      setPending(false);
    }
  };
  return { values, set, errors, formError, pending, onSubmit };
}

function focusFirstInvalid(form: HTMLFormElement) {
  requestAnimationFrame(() => form.querySelector<HTMLElement>("[aria-invalid='true']")?.focus());
}

interface FieldProps extends Omit<InputHTMLAttributes<HTMLInputElement>, "onChange" | "value"> {
  label: string;
  value: string;
  error?: string | undefined;
  hint?: ReactNode;
  onValue: (value: string) => void;
}

export function Field({ label, value, error, hint, onValue, ...input }: FieldProps) {
  const id = useId();
  const described = [hint ? `${id}-hint` : null, error ? `${id}-error` : null].filter(Boolean).join(" ");
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <input
        id={id}
        value={value}
        onChange={(event) => onValue(event.target.value)}
        aria-invalid={error ? true : undefined}
        aria-describedby={described || undefined}
        {...input}
      />
      {hint && (
        <p id={`${id}-hint`} className="hint">
          {hint}
        </p>
      )}
      {error && (
        <p id={`${id}-error`} className="field-error">
          {error}
        </p>
      )}
    </div>
  );
}

export function FormError({ message }: { message: string | null }) {
  return (
    <p className="form-error" role="alert">
      {message}
    </p>
  );
}
