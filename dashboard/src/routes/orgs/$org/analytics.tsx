import { createFileRoute } from "@tanstack/react-router";

import { Live } from "../../../features/usage/Live";
import { Usage } from "../../../features/usage/Usage";
import { useI18n } from "../../../i18n";

export const Route = createFileRoute("/orgs/$org/analytics")({ component: Analytics });

function Analytics() {
  const { t } = useI18n();
  const { org } = Route.useParams();
  return (
    <section>
      <h1>{t("usage.title")}</h1>
      <Live org={org} />
      <Usage org={org} />
    </section>
  );
}
