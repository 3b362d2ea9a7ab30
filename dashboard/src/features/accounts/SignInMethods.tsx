import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";

import {
  googleDeleteMutation,
  googleListOptions,
  passkeysCreateMutation,
  passkeysDeleteMutation,
  passkeysListOptions,
  passkeysRegisterOptionsMutation,
} from "../../client/@tanstack/react-query.gen";
import { useI18n } from "../../i18n";
import { isProblem } from "../../lib/api";
import { createPasskey, passkeysSupported } from "../auth/webauthn";

/** Passkeys (add, list, remove) and the linked Google accounts (list, unlink). */
export function SignInMethods() {
  const { t, language } = useI18n();
  const queries = useQueryClient();
  const passkeys = useQuery(passkeysListOptions());
  const google = useQuery(googleListOptions());
  const options = useMutation(passkeysRegisterOptionsMutation());
  const create = useMutation(passkeysCreateMutation());
  const remove = useMutation(passkeysDeleteMutation());
  const unlink = useMutation(googleDeleteMutation());
  const [name, setName] = useState("");
  const [password, setPassword] = useState("");
  const [message, setMessage] = useState<{ ok: boolean; text: string } | null>(null);
  const refresh = () => queries.invalidateQueries({ predicate: (q) => ["passkeysList", "googleList"].includes((q.queryKey[0] as { _id?: string })?._id ?? "") });
  const explain = (caught: unknown) =>
    isProblem(caught) ? (caught.detail ?? caught.code ?? "") : caught instanceof DOMException && caught.name === "NotAllowedError" ? t("passkeys.cancelled") : String(caught);
  const add = async () => {
    setMessage(null);
    try {
      // A stolen access token alone cannot add a passkey: the API asks for the password.
      const { options: creation } = await options.mutateAsync({ body: password ? { current_password: password } : {} });
      const credential = await createPasskey(creation);
      const made = await create.mutateAsync({ body: { credential, ...(name.trim() ? { name: name.trim().slice(0, 64) } : {}) } });
      setName("");
      setPassword("");
      setMessage({ ok: true, text: t("passkeys.added", { name: made.name }) });
      await refresh();
    } catch (caught) {
      setMessage({ ok: false, text: t("common.error", { detail: explain(caught) }) });
    }
  };
  const when = (iso: string | null) => (iso ? new Date(iso).toLocaleString(language) : t("keys.never"));
  return (
    <section aria-labelledby="passkeys" className="card">
      <h2 id="passkeys">{t("passkeys.title")}</h2>
      <p>{t("passkeys.lead")}</p>
      {passkeys.data && passkeys.data.data.length > 0 && (
        <table className="table">
          <thead>
            <tr>
              <th scope="col">{t("keys.name")}</th>
              <th scope="col">{t("passkeys.synced")}</th>
              <th scope="col">{t("admin.created")}</th>
              <th scope="col">{t("keys.lastUsed")}</th>
              <th scope="col">
                <span className="visually-hidden">{t("passkeys.remove")}</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {passkeys.data.data.map((key) => (
              <tr key={key.id}>
                <td>{key.name}</td>
                <td>{key.backed_up ? t("common.yes") : t("common.no")}</td>
                <td>{when(key.created_at)}</td>
                <td>{when(key.last_used_at)}</td>
                <td>
                  <button
                    type="button"
                    className="secondary"
                    aria-label={t("passkeys.remove.label", { name: key.name })}
                    onClick={async () => {
                      if (!window.confirm(t("passkeys.remove.confirm", { name: key.name }))) return;
                      try {
                        await remove.mutateAsync({ path: { passkey_id: key.id } });
                        await refresh();
                      } catch (caught) {
                        setMessage({ ok: false, text: t("common.error", { detail: explain(caught) }) });
                      }
                    }}
                  >
                    {t("passkeys.remove")}
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {passkeysSupported() ? (
        <div className="filters">
          <div className="field">
            <label htmlFor="passkey-name">{t("passkeys.name")}</label>
            <input id="passkey-name" value={name} maxLength={64} onChange={(e) => setName(e.target.value)} />
          </div>
          <div className="field">
            <label htmlFor="passkey-password">{t("form.password.current")}</label>
            <input id="passkey-password" type="password" autoComplete="current-password" value={password} onChange={(e) => setPassword(e.target.value)} />
          </div>
          <button type="button" onClick={add} disabled={options.isPending || create.isPending}>
            {t("passkeys.add")}
          </button>
        </div>
      ) : (
        <p>{t("passkeys.unsupported")}</p>
      )}
      <p role="status" className={message?.ok ? "done" : "form-error"}>
        {message?.text ?? ""}
      </p>
      {google.data && google.data.data.length > 0 && (
        <>
          <h3>{t("google.linked")}</h3>
          <ul>
            {google.data.data.map((link) => (
              <li key={link.id}>
                {link.email} · {t("keys.lastUsed")}: {when(link.last_used_at)}{" "}
                <button
                  type="button"
                  className="secondary"
                  onClick={async () => {
                    try {
                      await unlink.mutateAsync({ path: { identity_id: link.id } });
                      await refresh();
                    } catch (caught) {
                      setMessage({ ok: false, text: t("common.error", { detail: explain(caught) }) });
                    }
                  }}
                >
                  {t("google.unlink")}
                </button>
              </li>
            ))}
          </ul>
        </>
      )}
    </section>
  );
}
