import { createFileRoute } from "@tanstack/react-router";
import { z } from "zod";

import { accountsVerifyEmail } from "../client";
import { TokenLink } from "../features/accounts/TokenLink";

export const Route = createFileRoute("/verify-email")({
  validateSearch: z.object({ token: z.string().optional() }),
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
