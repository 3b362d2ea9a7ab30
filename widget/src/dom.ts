// A tiny element builder: properties and attributes only, never innerHTML (so nothing the server
// or the page sends is parsed as markup) and never inline style attributes (strict CSP).
type Attrs = Record<string, string | number | boolean | null | undefined | EventListener>;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: (Node | string | null | undefined | false)[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (typeof value === "function") el.addEventListener(name.slice(2), value);
    else if (name === "text") el.textContent = String(value);
    else el.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children) if (child) el.append(child);
  return el;
}

let sheet: CSSStyleSheet | undefined;

/** Styles into a shadow root: a shared constructed stylesheet where supported (no CSP
 * style-src needed), else a <style> element carrying the script's nonce. */
export function adoptStyles(root: ShadowRoot, css: string, nonce: string): void {
  try {
    if (!sheet) {
      sheet = new CSSStyleSheet();
      sheet.replaceSync(css);
    }
    root.adoptedStyleSheets = [sheet];
  } catch {
    root.append(h("style", { nonce: nonce || null, text: css }));
  }
}
