import { useId, useState } from "react";

import { useI18n } from "../i18n";

/** A read-only value with a copy button; the result is announced politely. */
export function CopyField({ label, value, multiline = false }: { label: string; value: string; multiline?: boolean }) {
  const { t } = useI18n();
  const id = useId();
  const [copied, setCopied] = useState(false);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(value);
      setCopied(true);
      setTimeout(() => setCopied(false), 2000);
    } catch {
      (document.getElementById(id) as HTMLInputElement | null)?.select();
    }
  };
  return (
    <div className="field copy">
      <label htmlFor={id}>{label}</label>
      <div className="copy-row">
        {multiline ? (
          <textarea id={id} readOnly value={value} rows={Math.min(14, value.split("\n").length + 1)} spellCheck={false} />
        ) : (
          <input id={id} readOnly value={value} spellCheck={false} />
        )}
        <button type="button" className="secondary" onClick={copy}>
          {t("keys.copy")}
        </button>
      </div>
      <span role="status" aria-live="polite" className="hint">
        {copied ? t("keys.copied") : ""}
      </span>
    </div>
  );
}
