import { createFileRoute } from "@tanstack/react-router";

import { accountsVerifyEmail } from "../client";
import { TokenLink } from "../features/accounts/TokenLink";
import { optionalStrings } from "../lib/search";

export const Route = createFileRoute("/verify-email")({
  validateSearch: optionalStrings("token"),
  component: VerifyEmail,
});

function VerifyEmail() {
  const { token } = Route.useSearch();
  return (
    <TokenLink
      title="auth.verify.title"
      done="auth.verify.done"
      token={token}
      spend={(value) => accountsVerifyEmail({ body: { token: value }, throwOnError: true })}
    />
  );
}
