import { createFileRoute, Link } from "@tanstack/react-router";

import { Ladder } from "../features/site/Ladder";
import { WidgetDemo } from "../features/site/WidgetDemo";
import { useI18n } from "../i18n";

export const Route = createFileRoute("/")({ component: Landing });

function Landing() {
  const { t } = useI18n();
  return (
    <>
      <section className="hero">
        <h1>{t("landing.title")}</h1>
        <p className="lead">{t("landing.lead")}</p>
        <p className="actions">
          <Link to="/signup" className="button">
            {t("landing.cta.start")}
          </Link>
          <Link to="/docs" className="button secondary">
            {t("landing.cta.docs")}
          </Link>
        </p>
      </section>
      <section aria-labelledby="ladder">
        <h2 id="ladder">{t("landing.ladder.title")}</h2>
        <p>{t("landing.ladder.lead")}</p>
        <Ladder />
      </section>
      <section aria-labelledby="demo">
        <h2 id="demo">{t("landing.demo.title")}</h2>
        <p>{t("landing.demo.lead")}</p>
        <WidgetDemo />
      </section>
      <section aria-labelledby="features">
        <h2 id="features">{t("landing.features.title")}</h2>
        <ul className="features">
          <li>{t("landing.features.compat")}</li>
          <li>{t("landing.features.selfhost")}</li>
          <li>{t("landing.features.privacy")}</li>
          <li>{t("landing.features.a11y")}</li>
        </ul>
      </section>
    </>
  );
}
