import { createFileRoute, Link } from "@tanstack/react-router";
import { docs } from "virtual:docs";

import { DocsSearch } from "../../features/docs/DocsSearch";
import { useI18n } from "../../i18n";

export const Route = createFileRoute("/docs/")({ component: DocsHome });

function DocsHome() {
  const { t } = useI18n();
  return (
    <section className="narrow">
      <h1>{t("docs.title")}</h1>
      <DocsSearch />
      <h2>{t("docs.list")}</h2>
      <ul className="doc-list">
        {docs.map((doc) => (
          <li key={doc.slug}>
            <Link to="/docs/$" params={{ _splat: doc.slug }}>
              {doc.title}
            </Link>
          </li>
        ))}
      </ul>
    </section>
  );
}
