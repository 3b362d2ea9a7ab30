import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { createRouter, RouterProvider } from "@tanstack/react-router";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";

import { I18nProvider } from "./i18n";
import { routeTree } from "./routeTree.gen";
import "./styles.css";

const queryClient = new QueryClient({
  defaultOptions: { queries: { staleTime: 30_000, retry: 1 } },
});

const router = createRouter({
  routeTree,
  context: { queryClient },
  defaultPreload: "intent",
  scrollRestoration: true,
});

// After a client-side navigation, move focus to the new page's main region (screen readers then
// read from there, and the next Tab starts at its top) and name the tab after its heading.
let shownPath = window.location.pathname;
router.subscribe("onRendered", (event) => {
  requestAnimationFrame(() => {
    const heading = document.querySelector("main h1")?.textContent?.trim();
    document.title = heading ? `${heading} · Haechi` : "Haechi";
    if (event.toLocation.pathname !== shownPath) {
      shownPath = event.toLocation.pathname;
      document.getElementById("main")?.focus({ preventScroll: true });
    }
  });
});

declare module "@tanstack/react-router" {
  interface Register {
    router: typeof router;
  }
}

const root = document.getElementById("root");
if (root) {
  createRoot(root).render(
    <StrictMode>
      <I18nProvider>
        <QueryClientProvider client={queryClient}>
          <RouterProvider router={router} />
        </QueryClientProvider>
      </I18nProvider>
    </StrictMode>,
  );
}
