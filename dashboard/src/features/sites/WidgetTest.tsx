import { useEffect, useRef, useState } from "react";

import { useI18n } from "../../i18n";
import { loadWidget } from "../site/widget";

/** The widget on this very page with the site's sitekey: the first verification, live. */
export function WidgetTest({ sitekey }: { sitekey: string }) {
  const { t, language } = useI18n();
  const box = useRef<HTMLDivElement>(null);
  const [state, setState] = useState<string>("");
  useEffect(() => {
    const element = box.current;
    if (!element) return;
    let id: string | null = null;
    let cancelled = false;
    loadWidget()
      .then((api) => {
        if (cancelled) return;
        element.replaceChildren();
        id = api.render(element, {
          sitekey,
          action: "dashboard-test",
          language,
          responseField: false,
          callback: () => setState(t("test.passed")),
          errorCallback: (code: string) => setState(t("landing.demo.error", { code })),
        });
      })
      .catch(() => setState(t("landing.demo.error", { code: "script-unavailable" })));
    return () => {
      cancelled = true;
      if (id !== null) window.haechi?.remove(id);
    };
  }, [sitekey, language, t]);
  return (
    <section aria-labelledby="widget-test">
      <h2 id="widget-test">{t("test.title")}</h2>
      <p>{t("test.text")}</p>
      <div ref={box} className="demo-widget" />
      <p role="status" aria-live="polite" data-testid="widget-test-status">
        {state}
      </p>
    </section>
  );
}
