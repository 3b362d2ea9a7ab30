import { createFileRoute, Link, notFound } from "@tanstack/react-router";
import { useEffect, useRef } from "react";
import { docs } from "virtual:docs";

import { useI18n } from "../../i18n";

export const Route = createFileRoute("/docs/$")({
  loader: async ({ params }) => {
    const entry = docs.find((d) => d.slug === params._splat);
    if (!entry) throw notFound();
    return (await entry.load()).default;
  },
  component: DocPage,
  notFoundComponent: DocNotFound,
});

// The HTML is rendered at build time from the repository's own docs/ (vite-plugins/docs-plugin.ts);
// nothing a visitor types ever reaches it.
function DocPage() {
  const doc = Route.useLoaderData();
  const { t } = useI18n();
  const article = useRef<HTMLElement>(null);
  useEffect(() => {
    const hash = window.location.hash.slice(1);
    const target = hash ? document.getElementById(decodeURIComponent(hash)) : null;
    if (target) target.scrollIntoView();
  }, [doc]);
  return (
    <div className="doc-layout">
      <nav aria-label={t("docs.list")} className="doc-nav">
        <Link to="/docs">{t("docs.title")}</Link>
      </nav>
      <article ref={article} className="doc" lang="en" dangerouslySetInnerHTML={{ __html: doc.html }} />
    </div>
  );
}

function DocNotFound() {
  const { t } = useI18n();
  return (
    <section className="narrow">
      <h1>{t("docs.title")}</h1>
      <p>{t("docs.notfound")}</p>
      <Link to="/docs">{t("docs.list")}</Link>
    </section>
  );
}
