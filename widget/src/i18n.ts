// Every string the widget shows or announces, Korean and English, in one table.
export const STRINGS = {
  en: {
    label: "I am human",
    verifying: "Verifying you are human…",
    verified: "Verified. You are human.",
    challenge: "One more step: a short challenge.",
    ready: "One more step: select the checkbox.",
    failed: "Verification failed. Select the checkbox to try again.",
    network: "Could not reach the verification service. Select the checkbox to try again.",
    expired: "Verification expired. Verifying again…",
    expiredManual: "Verification expired. Select the checkbox to verify again.",
    timeout: "The challenge timed out. Try the new one.",
    wrong: "That was not right. Here is a new one.",
    brand: "Protected by Haechi",
    title: "Verification challenge",
    verify: "Verify",
    reload: "New challenge",
    close: "Close",
    clear: "Clear",
    answer: "Your answer",
    audio: "Audio challenge",
    audioAlt: "Audio challenge instead",
    chosen: "{0} selected",
    choose: "Select between {0} and {1} squares.",
    cell: "Square {0}",
    progress: "Verification progress",
  },
  ko: {
    label: "사람입니다",
    verifying: "사람인지 확인하는 중…",
    verified: "확인되었습니다. 사람입니다.",
    challenge: "한 단계 더: 간단한 문제를 풀어 주세요.",
    ready: "한 단계 더: 체크박스를 선택하세요.",
    failed: "확인하지 못했습니다. 체크박스를 선택해 다시 시도하세요.",
    network: "확인 서비스에 연결할 수 없습니다. 체크박스를 선택해 다시 시도하세요.",
    expired: "확인이 만료되었습니다. 다시 확인하는 중…",
    expiredManual: "확인이 만료되었습니다. 체크박스를 선택해 다시 확인하세요.",
    timeout: "시간이 초과되었습니다. 새 문제를 풀어 주세요.",
    wrong: "정답이 아닙니다. 새 문제입니다.",
    brand: "Haechi로 보호됨",
    title: "확인 문제",
    verify: "확인",
    reload: "새 문제",
    close: "닫기",
    clear: "지우기",
    answer: "답",
    audio: "음성 문제",
    audioAlt: "음성 문제로 바꾸기",
    chosen: "{0}개 선택됨",
    choose: "{0}개에서 {1}개 사이의 칸을 고르세요.",
    cell: "{0}번 칸",
    progress: "확인 진행률",
  },
} as const;

export type Language = keyof typeof STRINGS;
export type StringKey = keyof (typeof STRINGS)["en"];
export type Translate = (key: StringKey, ...args: (string | number)[]) => string;

/** `auto` follows the browser's first language; anything not Korean falls back to English. */
export function pickLanguage(option: string | undefined, browser: readonly string[] = navigator.languages ?? []): Language {
  const wanted = !option || option === "auto" ? browser[0] ?? "en" : option;
  return wanted.toLowerCase().startsWith("ko") ? "ko" : "en";
}

export function translator(language: Language): Translate {
  return (key, ...args) => STRINGS[language][key].replace(/\{(\d)\}/g, (_, i: string) => String(args[+i]));
}
