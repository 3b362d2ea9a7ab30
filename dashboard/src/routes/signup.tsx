import { createFileRoute } from "@tanstack/react-router";

import { AccountsUnavailable } from "../features/accounts/AccountsUnavailable";

export const Route = createFileRoute("/signup")({ component: Signup });

function Signup() {
  return <AccountsUnavailable title="auth.signup.title" />;
}
