import { useMutation } from "@tanstack/react-query";
import { createFileRoute, Link } from "@tanstack/react-router";
import { useEffect, useRef } from "react";

import { billingSubscribeMutation } from "../../../../client/@tanstack/react-query.gen";
import { problemText } from "../../../../features/admin/paged";
import { useI18n } from "../../../../i18n";
import { optionalStrings } from "../../../../lib/search";

export const Route = createFileRoute("/orgs/$org/billing/card")({
  validateSearch: optionalStrings("result", "plan", "customerKey", "authKey", "code", "message"),
  component: CardReturn,
});

/** Toss sends the browser back here after card registration: success carries `authKey` and
 * `customerKey`, which the API trades for a billing key and the first charge; fail carries
 * Toss's `code` and `message`. */
function CardReturn() {
  const { t } = useI18n();
  const { org } = Route.useParams();
  const search = Route.useSearch();
  const subscribe = useMutation(billingSubscribeMutation());
  const sent = useRef(false);
  const ok = search.result === "success" && !!search.authKey && !!search.customerKey && !!search.plan;
  useEffect(() => {
    if (!ok || sent.current) return;
    sent.current = true; // an authKey is spent once
    subscribe.mutate({ path: { org_id: org }, body: { auth_key: search.authKey ?? "", customer_key: search.customerKey ?? "", plan: search.plan ?? "" } });
  }, [ok, org, search, subscribe]);
  return (
    <section className="narrow">
      <h1>{t("billing.card.title")}</h1>
      <div role="status" className="notice">
        {!ok && <p>{t("billing.card.failed", { detail: [search.code, search.message].filter(Boolean).join(": ") || "—" })}</p>}
        {ok && subscribe.isPending && <p>{t("billing.card.working")}</p>}
        {subscribe.isSuccess && <p>{t("billing.card.done", { plan: subscribe.data.plan })}</p>}
        {subscribe.isError && <p>{t("billing.card.failed", { detail: problemText(subscribe.error) })}</p>}
      </div>
      <p>
        <Link to="/orgs/$org/billing" params={{ org }}>
          {t("billing.back")}
        </Link>
      </p>
    </section>
  );
}
