import { z } from "zod";

// An IPv4 or IPv6 address, optionally with a /prefix; the API normalises and checks it again.
const IPV4 = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}(\/([0-9]|[12]\d|3[0-2]))?$/;
const IPV6 = /^[0-9a-fA-F:]*:[0-9a-fA-F:.]*(\/([0-9]|[1-9]\d|1[01]\d|12[0-8]))?$/;

export function isCidr(value: string): boolean {
  return IPV4.test(value) || (IPV6.test(value) && value.split("::").length <= 2);
}

export const ruleSchema = z.object({
  cidr: z.string().trim().min(1, "form.required").max(64).refine(isCidr, "iprules.cidr.invalid"),
  action: z.enum(["allow", "deny"]),
  note: z.string().trim().max(200),
  expires: z.string(),
});
