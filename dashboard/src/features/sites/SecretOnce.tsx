import { CopyField } from "../../components/CopyField";
import { useI18n } from "../../i18n";

export function SecretOnce({ sitekey, secret }: { sitekey: string; secret: string }) {
  const { t } = useI18n();
  return (
    <div className="card keys">
      <CopyField label={t("keys.sitekey")} value={sitekey} />
      <CopyField label={t("keys.secret")} value={secret} />
      <p className="notice" role="note">
        {t("keys.secretOnce")}
      </p>
    </div>
  );
}
