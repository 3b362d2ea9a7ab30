import { createFileRoute } from "@tanstack/react-router";

import { AccountsUnavailable } from "../features/accounts/AccountsUnavailable";

export const Route = createFileRoute("/forgot-password")({ component: ForgotPassword });

function ForgotPassword() {
  return <AccountsUnavailable title="auth.forgot.title" />;
}
