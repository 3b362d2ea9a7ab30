import { useI18n, type MessageKey } from "../../i18n";

/** Shown by the account pages while the platform API has no accounts endpoints. */
export function AccountsUnavailable({ title }: { title: MessageKey }) {
  const { t } = useI18n();
  return (
    <section className="narrow">
      <h1>{t(title)}</h1>
      <p className="notice" role="note">
        {t("auth.unavailable")}
      </p>
    </section>
  );
}
