import type { PlanPublic } from "../../client";
import type { Translate } from "../../i18n";

export function won(amount: number, language: string): string {
  return new Intl.NumberFormat(language === "ko" ? "ko-KR" : "en-US", { style: "currency", currency: "KRW", maximumFractionDigits: 0 }).format(amount);
}

export function limit(value: number | null, language: string, t: Translate): string {
  return value == null ? t("plans.unlimited") : value.toLocaleString(language);
}

/** One plan's lines, as the pricing page and the billing page list them. */
export function planFacts(plan: PlanPublic, language: string, t: Translate): string[] {
  return [
    t("plans.quota", { n: limit(plan.monthly_quota, language, t) }),
    t("plans.sites", { n: limit(plan.max_sites, language, t) }),
    t("plans.members", { n: limit(plan.max_members, language, t) }),
    t("plans.retention", { n: plan.retention_days }),
    ...(plan.ip_rules ? [t("plans.iprules")] : []),
    ...(plan.audit_export ? [t("plans.auditExport")] : []),
  ];
}
