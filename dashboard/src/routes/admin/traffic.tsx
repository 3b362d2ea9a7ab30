import { createFileRoute } from "@tanstack/react-router";

import { Live } from "../../features/usage/Live";
import { Usage } from "../../features/usage/Usage";
import { useI18n } from "../../i18n";

export const Route = createFileRoute("/admin/traffic")({ component: Traffic });

/** Every organisation's traffic together: the live view with each site's attack level, usage. */
function Traffic() {
  const { t } = useI18n();
  return (
    <section>
      <h1>{t("admin.traffic")}</h1>
      <Live all />
      <Usage all />
    </section>
  );
}
