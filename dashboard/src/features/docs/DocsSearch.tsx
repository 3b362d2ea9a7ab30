import { Link } from "@tanstack/react-router";
import { useDeferredValue, useId, useMemo, useState } from "react";

import { useI18n } from "../../i18n";
import { search, type SearchDoc } from "./search";

// The index (all docs as plain text) is fetched on the first keystroke or focus, not with the page.
let indexPromise: Promise<SearchDoc[]> | null = null;
const loadIndex = () => (indexPromise ??= import("virtual:docs-search").then((m) => m.searchIndex));

export function DocsSearch() {
  const { t } = useI18n();
  const [query, setQuery] = useState("");
  const [index, setIndex] = useState<SearchDoc[] | null>(null);
  const deferred = useDeferredValue(query);
  const hits = useMemo(() => (index ? search(index, deferred) : []), [index, deferred]);
  const ensureIndex = () => {
    if (!index) void loadIndex().then(setIndex);
  };
  const id = useId();
  return (
    <search className="docs-search">
      <label htmlFor={id}>{t("docs.search")}</label>
      <input
        id={id}
        type="search"
        value={query}
        onFocus={ensureIndex}
        onChange={(e) => {
          ensureIndex();
          setQuery(e.target.value);
        }}
        autoComplete="off"
      />
      {deferred.trim() && index && (
        <>
          <p role="status" aria-live="polite">
            {hits.length ? t("docs.search.results", { count: hits.length }) : t("docs.search.none", { query: deferred })}
          </p>
          <ol className="hits">
            {hits.map((hit) => (
              <li key={`${hit.slug}#${hit.anchor}`}>
                <Link to="/docs/$" params={{ _splat: hit.slug }} hash={hit.anchor || undefined}>
                  {hit.title}
                  {hit.anchor ? ` › ${hit.heading}` : ""}
                </Link>
                <p>{hit.excerpt}</p>
              </li>
            ))}
          </ol>
        </>
      )}
    </search>
  );
}
