import { createFileRoute } from "@tanstack/react-router";

import { accountsConfirmEmail } from "../client";
import { TokenLink } from "../features/accounts/TokenLink";
import { optionalStrings } from "../lib/search";

export const Route = createFileRoute("/confirm-email")({
  validateSearch: optionalStrings("token"),
  component: ConfirmEmail,
});

function ConfirmEmail() {
  const { token } = Route.useSearch();
  return (
    <TokenLink
      title="auth.confirm.title"
      done="auth.confirm.done"
      token={token}
      spend={(value) => accountsConfirmEmail({ body: { token: value }, throwOnError: true })}
    />
  );
}
