import * as Tabs from "@radix-ui/react-tabs";

import { CopyField } from "../../components/CopyField";
import { useI18n, type MessageKey } from "../../i18n";
import { snippets, type SnippetKind } from "./snippets";

const KINDS: SnippetKind[] = ["html", "python", "node", "php", "compat"];

export function Snippets({ sitekey }: { sitekey: string }) {
  const { t } = useI18n();
  const code = snippets({ origin: window.location.origin, sitekey });
  return (
    <Tabs.Root defaultValue="html" className="tabs">
      <Tabs.List aria-label={t("snippets.title")} className="tab-list">
        {KINDS.map((kind) => (
          <Tabs.Trigger key={kind} value={kind} className="tab">
            {t(`snippets.${kind}` as MessageKey)}
          </Tabs.Trigger>
        ))}
      </Tabs.List>
      {KINDS.map((kind) => (
        <Tabs.Content key={kind} value={kind} className="tab-panel">
          {kind === "compat" && <p>{t("snippets.compat.text")}</p>}
          <CopyField label={t(`snippets.${kind}` as MessageKey)} value={code[kind]} multiline />
        </Tabs.Content>
      ))}
    </Tabs.Root>
  );
}
