import { createFileRoute } from "@tanstack/react-router";

import { AccountsUnavailable } from "../features/accounts/AccountsUnavailable";

export const Route = createFileRoute("/signin")({ component: Signin });

function Signin() {
  return <AccountsUnavailable title="auth.signin.title" />;
}
