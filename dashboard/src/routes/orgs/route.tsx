import { createFileRoute, Outlet } from "@tanstack/react-router";

import { requireSession } from "../../features/auth/session";

export const Route = createFileRoute("/orgs")({
  beforeLoad: ({ location }) => requireSession(location.href),
  component: Outlet,
});
