import { useMutation } from "@tanstack/react-query";
import { Link } from "@tanstack/react-router";
import { useEffect, useRef } from "react";

import { isProblem } from "../../lib/api";
import { useI18n, type MessageKey } from "../../i18n";

/** A page opened from an e-mailed link: spends its token once, says what happened. */
export function TokenLink({
  title,
  token,
  done,
  spend,
}: {
  title: MessageKey;
  token: string | undefined;
  done: MessageKey;
  spend: (token: string) => Promise<unknown>;
}) {
  const { t } = useI18n();
  const mutation = useMutation({ mutationFn: spend });
  const sent = useRef(false);
  useEffect(() => {
    if (token && !sent.current) {
      sent.current = true; // StrictMode runs effects twice; a token is single-use
      mutation.mutate(token);
    }
  }, [token, mutation]);
  const detail = isProblem(mutation.error) ? (mutation.error.detail ?? mutation.error.code ?? "") : String(mutation.error ?? "");
  return (
    <section className="narrow">
      <h1>{t(title)}</h1>
      <div role="status" className="notice">
        {!token && t("auth.verify.missing")}
        {token && mutation.isPending && t("auth.verify.working")}
        {mutation.isSuccess && (
          <>
            {t(done)} <Link to="/signin">{t("auth.gotoSignin")}</Link>
          </>
        )}
        {mutation.isError && t("auth.verify.failed", { detail })}
      </div>
    </section>
  );
}
