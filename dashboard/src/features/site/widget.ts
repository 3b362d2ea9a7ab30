/** Loading this server's own widget script (/v1/widget.js) once, for the live demos. */

export interface HaechiWidgetApi {
  render: (element: HTMLElement, options: Record<string, unknown>) => string;
  remove: (id: string) => void;
  reset: (id: string) => void;
}

declare global {
  interface Window {
    haechi?: HaechiWidgetApi;
  }
}

export class WidgetScriptError extends Error {}

let loading: Promise<HaechiWidgetApi> | null = null;

export function loadWidget(src = "/v1/widget.js?render=explicit"): Promise<HaechiWidgetApi> {
  if (window.haechi) return Promise.resolve(window.haechi);
  loading ??= new Promise<HaechiWidgetApi>((resolve, reject) => {
    const script = document.createElement("script");
    script.src = src;
    script.async = true;
    script.onload = () =>
      window.haechi ? resolve(window.haechi) : reject(new WidgetScriptError("no window.haechi"));
    script.onerror = () => {
      loading = null;
      script.remove();
      reject(new WidgetScriptError("the widget script failed to load"));
    };
    document.head.appendChild(script);
  });
  return loading;
}

/** The demo site's sitekey, which the server puts into index.html (`<meta name=haechi-demo-sitekey>`). */
export function demoSitekey(): string | null {
  const meta = document.querySelector<HTMLMetaElement>('meta[name="haechi-demo-sitekey"]');
  return meta?.content || null;
}
