import { useI18n, type MessageKey } from "../../i18n";

const STEPS = ["invisible", "pow", "visual", "block"] as const;

/** The friction ladder as an ordered list: the order is the meaning. */
export function Ladder() {
  const { t } = useI18n();
  return (
    <ol className="ladder">
      {STEPS.map((step, i) => (
        <li key={step} className={`step step-${step}`}>
          <span className="step-number" aria-hidden="true">
            {i + 1}
          </span>
          <h3>{t(`landing.ladder.${step}` as MessageKey)}</h3>
          <p>{t(`landing.ladder.${step}.text` as MessageKey)}</p>
        </li>
      ))}
    </ol>
  );
}
