import { useEffect, useRef, useState } from "react";

import { useI18n } from "../../i18n";
import { demoSitekey, loadWidget, WidgetScriptError } from "./widget";

type State = { kind: "idle" } | { kind: "passed"; length: number } | { kind: "expired" } | { kind: "error"; code: string };

/** The real widget on the demo site; re-rendered when the language changes. */
export function WidgetDemo() {
  const { t, language } = useI18n();
  const box = useRef<HTMLDivElement>(null);
  const [state, setState] = useState<State>({ kind: "idle" });
  const sitekey = demoSitekey();

  useEffect(() => {
    const element = box.current;
    if (!sitekey || !element) return;
    let id: string | null = null;
    let cancelled = false;
    setState({ kind: "idle" });
    loadWidget()
      .then((api) => {
        if (cancelled) return;
        element.replaceChildren();
        id = api.render(element, {
          sitekey,
          action: "landing",
          language,
          theme: "auto",
          responseField: false,
          callback: (token: string) => setState({ kind: "passed", length: token.length }),
          expiredCallback: () => setState({ kind: "expired" }),
          errorCallback: (code: string) => setState({ kind: "error", code }),
        });
      })
      .catch((error: unknown) =>
        setState({ kind: "error", code: error instanceof WidgetScriptError ? "script-unavailable" : String(error) }),
      );
    return () => {
      cancelled = true;
      if (id !== null) window.haechi?.remove(id);
    };
  }, [sitekey, language]);

  if (!sitekey) return <p>{t("landing.demo.unavailable")}</p>;
  return (
    <div className="demo">
      <div ref={box} className="demo-widget" />
      <p role="status" aria-live="polite" data-testid="demo-status">
        {state.kind === "passed" && t("landing.demo.passed", { length: state.length })}
        {state.kind === "expired" && t("landing.demo.expired")}
        {state.kind === "error" && t("landing.demo.error", { code: state.code })}
      </p>
      <p>
        <a href="/demo">{t("landing.demo.full")}</a>
      </p>
    </div>
  );
}
