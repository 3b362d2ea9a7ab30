import { createFileRoute } from "@tanstack/react-router";

import { invitationsAccept } from "../../client";
import { TokenLink } from "../../features/accounts/TokenLink";
import { requireSession } from "../../features/auth/session";
import { optionalStrings } from "../../lib/search";

// The e-mailed link (/invitations/accept?token=…): joined as the signed-in, invited address.
export const Route = createFileRoute("/invitations/accept")({
  validateSearch: (search: Record<string, unknown>): { token?: string } => optionalStrings("token")(search),
  beforeLoad: ({ location }) => requireSession(location.href),
  component: AcceptInvitation,
});

function AcceptInvitation() {
  const { token } = Route.useSearch();
  return (
    <TokenLink
      title="team.invitations"
      done="team.title"
      token={token}
      spend={(value) => invitationsAccept({ body: { token: value }, throwOnError: true })}
    />
  );
}
