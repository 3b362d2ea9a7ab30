import { createFileRoute } from "@tanstack/react-router";

import { AccountsUnavailable } from "../features/accounts/AccountsUnavailable";

export const Route = createFileRoute("/reset-password")({ component: ResetPassword });

function ResetPassword() {
  return <AccountsUnavailable title="auth.reset.title" />;
}
