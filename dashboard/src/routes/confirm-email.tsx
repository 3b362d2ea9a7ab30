import { createFileRoute } from "@tanstack/react-router";
import { z } from "zod";

import { accountsConfirmEmail } from "../client";
import { TokenLink } from "../features/accounts/TokenLink";

export const Route = createFileRoute("/confirm-email")({
  validateSearch: z.object({ token: z.string().optional() }),
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
