import { redirect } from "@tanstack/react-router";
import { useSyncExternalStore } from "react";

import { hasAccessToken, onSessionChange, refreshSession } from "../../lib/api";

export function useSignedIn(): boolean {
  return useSyncExternalStore(
    (notify) => onSessionChange(() => notify()),
    hasAccessToken,
    () => false,
  );
}

/** For the dashboard's routes: a session (silently refreshed from the cookie) or sign-in, with
 * the page kept in `next` so the user comes back to it. */
export async function requireSession(href: string): Promise<void> {
  if (hasAccessToken() || (await refreshSession())) return;
  throw redirect({ to: "/signin", search: { next: href } });
}

/** Only same-origin paths are followed after sign-in (no open redirect). */
export function safeNext(next: unknown): string {
  return typeof next === "string" && next.startsWith("/") && !next.startsWith("//") ? next : "/orgs";
}
