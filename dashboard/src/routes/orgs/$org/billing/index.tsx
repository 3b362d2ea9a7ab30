import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { createFileRoute } from "@tanstack/react-router";
import { useState } from "react";

import { billingGetInvoiceHtml, billingGetInvoicePdf } from "../../../../client";
import {
  billingCancelMutation,
  billingChangePlanMutation,
  billingGetOptions,
  billingHistoryOptions,
  billingResumeMutation,
  billingStartCardRegistrationMutation,
  plansListOptions,
  plansOrgGetOptions,
} from "../../../../client/@tanstack/react-query.gen";
import { problemText } from "../../../../features/admin/paged";
import { planFacts, won } from "../../../../features/billing/format";
import { useI18n, type MessageKey } from "../../../../i18n";

export const Route = createFileRoute("/orgs/$org/billing/")({ component: Billing });

/** Plan, usage against the quota, the card subscription (Toss), plan changes, invoices. */
function Billing() {
  const { t, language } = useI18n();
  const { org } = Route.useParams();
  const queries = useQueryClient();
  const plans = useQuery(plansListOptions());
  const orgPlan = useQuery(plansOrgGetOptions({ path: { org_id: org } }));
  const billing = useQuery(billingGetOptions({ path: { org_id: org } }));
  const history = useQuery(billingHistoryOptions({ path: { org_id: org } }));
  const register = useMutation(billingStartCardRegistrationMutation());
  const change = useMutation(billingChangePlanMutation());
  const cancel = useMutation(billingCancelMutation());
  const resume = useMutation(billingResumeMutation());
  const [message, setMessage] = useState<{ ok: boolean; text: string } | null>(null);
  const refresh = () => queries.invalidateQueries({ predicate: (q) => ["billingGet", "billingHistory", "plansOrgGet"].includes((q.queryKey[0] as { _id?: string })?._id ?? "") });
  const act = async (work: () => Promise<string>) => {
    setMessage(null);
    try {
      setMessage({ ok: true, text: await work() });
      await refresh();
    } catch (caught) {
      setMessage({ ok: false, text: t("common.error", { detail: problemText(caught) }) });
    }
  };
  const subscription = billing.data?.subscription ?? null;
  const live = subscription && subscription.status !== "canceled";
  const current = orgPlan.data?.plan.key ?? billing.data?.plan;
  const date = (iso: string | null | undefined) => (iso ? new Date(iso).toLocaleDateString(language, { dateStyle: "long" }) : "");

  const choose = (plan: string) =>
    act(async () => {
      if (live) {
        const result = await change.mutateAsync({ path: { org_id: org }, body: { plan } });
        return result.effective === "now"
          ? t("billing.changed.now", { amount: won(result.charged, language) })
          : result.effective === "renewal"
            ? t("billing.changed.renewal", { date: date(subscription?.renews_at) })
            : t("billing.changed.none");
      }
      // No subscription yet: register a card with Toss first; it comes back to /billing/card.
      const started = await register.mutateAsync({ path: { org_id: org }, body: { plan } });
      if (!started.registration_url) return t("billing.toss.sdk");
      const url = new URL(started.registration_url, window.location.href);
      url.searchParams.set("customerKey", started.customer_key);
      url.searchParams.set("successUrl", started.success_url);
      url.searchParams.set("failUrl", started.fail_url);
      window.location.assign(url.toString());
      return t("billing.toss.redirect");
    });

  const download = async (invoice: string, number: string, kind: "html" | "pdf") => {
    const options = { path: { org_id: org, invoice_id: invoice }, parseAs: "blob" as const, throwOnError: true as const };
    const { data } = kind === "pdf" ? await billingGetInvoicePdf(options) : await billingGetInvoiceHtml(options);
    const url = URL.createObjectURL(data as Blob);
    const link = Object.assign(document.createElement("a"), { href: url, download: `${number}.${kind}` });
    link.click();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  };

  const error = plans.error ?? orgPlan.error ?? billing.error;
  return (
    <section>
      <h1>{t("billing.title")}</h1>
      {error && (
        <p role="alert" className="form-error">
          {t("common.error", { detail: problemText(error) })}
        </p>
      )}
      {orgPlan.data && (
        <section aria-labelledby="billing-usage" className="card">
          <h2 id="billing-usage">{t("billing.usage", { plan: orgPlan.data.plan.name })}</h2>
          {orgPlan.data.quota == null ? (
            <p>{t("billing.usage.unlimited", { used: orgPlan.data.used.toLocaleString(language) })}</p>
          ) : (
            <>
              <label htmlFor="quota-meter">
                {t("billing.usage.of", { used: orgPlan.data.used.toLocaleString(language), quota: orgPlan.data.quota.toLocaleString(language), period: orgPlan.data.period })}
              </label>
              <meter id="quota-meter" min={0} max={orgPlan.data.quota} low={orgPlan.data.quota * 0.8} high={orgPlan.data.quota * 0.99} optimum={0} value={orgPlan.data.used} />
            </>
          )}
          {orgPlan.data.state !== "ok" && (
            <p className="form-error" role="status">
              {orgPlan.data.state === "grace"
                ? t("billing.state.grace", { until: new Date(orgPlan.data.grace_until ?? "").toLocaleString(language), then: t(`billing.over.${orgPlan.data.over_quota}` as MessageKey) })
                : t("billing.state.over", { then: t(`billing.over.${orgPlan.data.over_quota}` as MessageKey) })}
            </p>
          )}
        </section>
      )}
      {billing.data && (
        <section aria-labelledby="billing-sub" className="card">
          <h2 id="billing-sub">{t("billing.subscription")}</h2>
          {!billing.data.enabled && <p>{t("billing.disabled")}</p>}
          {subscription ? (
            <dl className="facts">
              <dt>{t("sites.status")}</dt>
              <dd data-testid="subscription-status">{t(`billing.status.${subscription.status}` as MessageKey)}</dd>
              <dt>{t("billing.amount")}</dt>
              <dd>{won(subscription.amount, language)}</dd>
              <dt>{t("billing.card")}</dt>
              <dd>{[subscription.card_company, subscription.card_number].filter(Boolean).join(" ")}</dd>
              <dt>{subscription.cancel_at_period_end ? t("billing.endsAt") : t("billing.renewsAt")}</dt>
              <dd>{date(subscription.renews_at)}</dd>
              {subscription.pending_plan && (
                <>
                  <dt>{t("billing.pending")}</dt>
                  <dd>{subscription.pending_plan}</dd>
                </>
              )}
            </dl>
          ) : (
            <p>{t("billing.none")}</p>
          )}
          {billing.data.credit_balance > 0 && <p>{t("billing.credit", { amount: won(billing.data.credit_balance, language) })}</p>}
          {live && !subscription.cancel_at_period_end && (
            <button
              type="button"
              className="secondary"
              onClick={() => {
                if (window.confirm(t("billing.cancel.confirm", { date: date(subscription.renews_at) }))) {
                  void act(async () => {
                    await cancel.mutateAsync({ path: { org_id: org } });
                    return t("billing.cancelled", { date: date(subscription.renews_at) });
                  });
                }
              }}
            >
              {t("billing.cancel")}
            </button>
          )}
          {live && subscription.cancel_at_period_end && (
            <button
              type="button"
              onClick={() =>
                void act(async () => {
                  await resume.mutateAsync({ path: { org_id: org } });
                  return t("billing.resumed");
                })
              }
            >
              {t("billing.resume")}
            </button>
          )}
        </section>
      )}
      <p role="status" className={message?.ok ? "done" : "form-error"}>
        {message?.text ?? ""}
      </p>
      {plans.data && (
        <section aria-labelledby="billing-plans">
          <h2 id="billing-plans">{t("billing.plans")}</h2>
          <ul className="plans">
            {plans.data.data.map((plan) => (
              <li key={plan.key} className="card plan" aria-current={plan.key === current ? "true" : undefined}>
                <h3>{plan.name}</h3>
                <p className="price">{plan.price_krw === 0 ? t("plans.free") : t("plans.perMonth", { price: won(plan.price_krw, language) })}</p>
                <ul>
                  {planFacts(plan, language, t).map((fact) => (
                    <li key={fact}>{fact}</li>
                  ))}
                </ul>
                {plan.key === current ? (
                  <p className="done">{t("billing.current")}</p>
                ) : (
                  plan.price_krw > 0 &&
                  billing.data?.enabled && (
                    <button type="button" onClick={() => void choose(plan.key)} disabled={register.isPending || change.isPending}>
                      {live ? t("billing.switch", { plan: plan.name }) : t("billing.subscribe", { plan: plan.name })}
                    </button>
                  )
                )}
              </li>
            ))}
          </ul>
        </section>
      )}
      <section aria-labelledby="billing-history">
        <h2 id="billing-history">{t("billing.history")}</h2>
        {history.data && history.data.data.length === 0 && <p>{t("billing.history.none")}</p>}
        {history.data && history.data.data.length > 0 && (
          <table className="table">
            <thead>
              <tr>
                <th scope="col">{t("billing.period")}</th>
                <th scope="col">{t("billing.plan")}</th>
                <th scope="col" className="num">{t("billing.amount")}</th>
                <th scope="col">{t("sites.status")}</th>
                <th scope="col">{t("billing.invoice")}</th>
              </tr>
            </thead>
            <tbody>
              {history.data.data.map(({ charge, invoice }) => (
                <tr key={charge.id}>
                  <td>{charge.period}</td>
                  <td>{charge.plan ?? ""}</td>
                  <td className="num">{won(charge.amount, language)}</td>
                  <td>{charge.status}{charge.failure_code ? ` (${charge.failure_code})` : ""}</td>
                  <td>
                    {invoice && (
                      <>
                        <code>{invoice.number}</code>{" "}
                        <button type="button" className="secondary" aria-label={`${invoice.number} HTML`} onClick={() => void download(invoice.id, invoice.number, "html")}>
                          HTML
                        </button>{" "}
                        <button type="button" className="secondary" aria-label={`${invoice.number} PDF`} onClick={() => void download(invoice.id, invoice.number, "pdf")}>
                          PDF
                        </button>
                      </>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
    </section>
  );
}
