import { LANGUAGES, useI18n, type Language } from "../../i18n";

/** A native select: keyboard and screen-reader behaviour for free. */
export function LanguageSwitch() {
  const { language, setLanguage, t } = useI18n();
  return (
    <div className="language">
      <label htmlFor="language">{t("nav.language")}</label>
      <select
        id="language"
        value={language}
        onChange={(event) => setLanguage(event.target.value as Language)}
      >
        {LANGUAGES.map((l) => (
          <option key={l.code} value={l.code} lang={l.code}>
            {l.label}
          </option>
        ))}
      </select>
    </div>
  );
}
