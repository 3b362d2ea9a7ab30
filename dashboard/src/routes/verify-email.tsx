import { createFileRoute } from "@tanstack/react-router";

import { AccountsUnavailable } from "../features/accounts/AccountsUnavailable";

export const Route = createFileRoute("/verify-email")({ component: VerifyEmail });

function VerifyEmail() {
  return <AccountsUnavailable title="auth.verify.title" />;
}
