import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useId, useState } from "react";
import { z } from "zod";

import { adminAssignPlanMutation, billingAdminGrantCreditMutation, plansListOptions, plansOrgGetOptions } from "../../client/@tanstack/react-query.gen";
import { Field, FormError, useForm } from "../../components/form";
import { useI18n } from "../../i18n";
import { won } from "../billing/format";
import { problemText } from "./paged";

const creditSchema = z.object({
  amount: z.string().trim().regex(/^-?[0-9]{1,9}$/, "admin.credit.amount.invalid"),
  reason: z.string().trim().min(1, "form.required").max(200),
});

/** Operators: an organisation's plan (assign one) and a credit grant, audited by the API. */
export function OrgPlan({ org, name }: { org: string; name: string }) {
  const { t, language } = useI18n();
  const id = useId();
  const queries = useQueryClient();
  const [open, setOpen] = useState(false);
  const plans = useQuery({ ...plansListOptions(), enabled: open });
  const current = useQuery({ ...plansOrgGetOptions({ path: { org_id: org } }), enabled: open });
  const assign = useMutation(adminAssignPlanMutation());
  const grant = useMutation(billingAdminGrantCreditMutation());
  const [choice, setChoice] = useState("");
  const [done, setDone] = useState("");
  const form = useForm({
    schema: creditSchema,
    initial: { amount: "", reason: "" },
    submit: async (values) => {
      await grant.mutateAsync({ path: { org_id: org }, body: { amount: Number(values.amount), reason: values.reason } });
      setDone(t("admin.credit.done", { amount: won(Number(values.amount), language) }));
      form.set("amount", "");
      form.set("reason", "");
    },
  });
  return (
    <details onToggle={(event) => setOpen(event.currentTarget.open)}>
      <summary>
        <span className="visually-hidden">{name}: </span>
        {t("admin.plan")}
      </summary>
      {current.data && (
        <p>
          {t("admin.plan.current", { plan: current.data.plan.name, used: current.data.used.toLocaleString(language) })}
        </p>
      )}
      {plans.data && (
        <div className="filters">
          <div className="field">
            <label htmlFor={`${id}-plan`}>{t("billing.plan")}</label>
            <select id={`${id}-plan`} value={choice || current.data?.plan.key || ""} onChange={(e) => setChoice(e.target.value)}>
              {plans.data.data.map((plan) => (
                <option key={plan.key} value={plan.key}>
                  {plan.name}
                </option>
              ))}
            </select>
          </div>
          <button
            type="button"
            className="secondary"
            onClick={async () => {
              const plan = choice || current.data?.plan.key || "";
              try {
                await assign.mutateAsync({ path: { org_id: org }, body: { plan } });
                setDone(t("admin.plan.assigned", { plan }));
                await queries.invalidateQueries({ predicate: (q) => (q.queryKey[0] as { _id?: string })?._id === "plansOrgGet" });
              } catch (caught) {
                setDone(t("common.error", { detail: problemText(caught) }));
              }
            }}
          >
            {t("admin.plan.assign")}
          </button>
        </div>
      )}
      <form className="stack" onSubmit={form.onSubmit} noValidate>
        <Field label={t("admin.credit.amount")} inputMode="numeric" value={form.values.amount} error={form.errors.amount} onValue={(v) => form.set("amount", v)} />
        <Field label={t("admin.credit.reason")} value={form.values.reason} error={form.errors.reason} onValue={(v) => form.set("reason", v)} />
        <FormError message={form.formError} />
        <button type="submit" className="secondary" disabled={form.pending}>
          {t("admin.credit.grant")}
        </button>
      </form>
      <p role="status" className="done">
        {done}
      </p>
    </details>
  );
}
