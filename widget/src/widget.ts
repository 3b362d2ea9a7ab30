// One widget: its view in a shadow root, the hidden response field(s) in the page's form, and
// the protocol flow (challenge -> proof-of-work and maybe a task -> solve -> token).
import { RequestError, requestChallenge, solveChallenge, type Challenge, type Task } from "./api";
import css from "./widget.css";
import { adoptStyles, h } from "./dom";
import { pickLanguage, translator, type StringKey, type Translate } from "./i18n";
import { resolveCallback, type CallbackName, type WidgetOptions } from "./options";
import { PanelClosed, openPanel, type Panel } from "./panel";
import { PowAborted, solvePow } from "./solver";
import { typingElsewhere } from "./stepup";
import { pageTelemetry, waitForInput } from "./telemetry";

export type State = "idle" | "running" | "interactive" | "verified" | "error" | "expired";

export interface Environment {
  endpoint: string;
  nonce: string;
  /** Compat: more form fields that carry the token (`haechi-response` beside a vendor's). */
  fields?: string[];
  /** Compat: the id of the main field (reCAPTCHA pages read `#g-recaptcha-response`). */
  fieldId?: string;
  /** Compat: called with the token, e.g. to fill a vendor's textarea too. */
  onToken?: (token: string) => void;
  /** Compat: fields made as hidden `<textarea>`s, as Google's and hCaptcha's scripts make them. */
  textareas?: string[];
  /** Compat: the vendor API the page used (`recaptcha-v2`), sealed into the token. */
  api?: string;
}

/** A flow that ended without a token; `code` is a protocol error code or a widget one. */
export class FlowError extends Error {
  constructor(readonly code: string) {
    super(code);
  }
}

const codeOf = (error: unknown): string =>
  error instanceof FlowError || error instanceof RequestError
    ? error.code
    : error instanceof PanelClosed
      ? "challenge-closed"
      : "internal";

const MAX_ATTEMPTS = 3;
const MAX_RETRIES = 2;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class Widget {
  state: State = "idle";
  token = "";
  readonly options: WidgetOptions;
  private readonly root: ShadowRoot;
  private readonly t: Translate;
  private readonly language: string;
  private readonly fields: (HTMLInputElement | HTMLTextAreaElement)[] = [];
  private view!: { w: HTMLDivElement; box: HTMLButtonElement; st: HTMLParagraphElement; bar: HTMLDivElement; fill: HTMLElement };
  private gen = 0;
  private pending?: Promise<string>;
  private abort?: AbortController;
  private panel?: Panel;
  private expiry?: ReturnType<typeof setTimeout>;
  private form: HTMLFormElement | null = null;
  private started = false;
  /** The visitor asked for this run (see stepup.ts): a task may open at once. */
  private asked?: boolean;
  /** Set while a task waits for the visitor to ask. */
  private wake?: () => void;
  private readonly keys = (e: KeyboardEvent): void => {
    if (typingElsewhere(e.key, e.composedPath().includes(this.host))) this.asked = false;
  };

  constructor(
    readonly id: string,
    readonly container: HTMLElement,
    readonly host: HTMLElement,
    options: WidgetOptions,
    private readonly env: Environment,
  ) {
    this.options = options;
    this.language = pickLanguage(options.language);
    this.t = translator(this.language as "en" | "ko");
    this.root = host.shadowRoot ?? host.attachShadow({ mode: "open" });
    this.root.replaceChildren();
    adoptStyles(this.root, css, env.nonce);
    this.build();
    if (options.responseField) {
      const names = [options.responseFieldName, ...(env.fields ?? [])];
      for (const [i, name] of names.entries()) {
        const id = i ? null : env.fieldId;
        const field = env.textareas?.includes(name) ? h("textarea", { name, id }) : h("input", { type: "hidden", name, id });
        if (field instanceof HTMLTextAreaElement) field.style.display = "none"; // CSSOM: allowed under a strict CSP
        this.fields.push(field);
      }
      container.append(...this.fields);
      this.form = container.closest("form");
      this.form?.addEventListener("submit", this.onSubmit, true);
    }
    addEventListener("keydown", this.keys, true);
    this.setState("idle");
    if (options.execution === "render") void this.run().catch(() => undefined);
  }

  private build(): void {
    const { t, options } = this;
    const box = h(
      "button",
      { type: "button", class: "box", role: "checkbox", "aria-checked": "false", "aria-describedby": "st", tabindex: options.tabindex },
      h("span", { class: "mark", "aria-hidden": "true" }),
      h("span", { text: t("label") }),
    );
    // A click, or Enter/Space on the checkbox (a native button): the visitor's go-ahead.
    box.addEventListener("click", () => {
      if (this.state === "idle" || this.state === "error" || this.state === "expired") void this.run().catch(() => undefined);
      this.request();
    });
    const fill = h("i");
    const bar = h(
      "div",
      { class: "bar", role: "progressbar", "aria-label": t("progress"), "aria-valuemin": 0, "aria-valuemax": 100, "aria-valuenow": 0, hidden: true },
      fill,
    );
    const st = h("p", { id: "st", class: "st", role: "status" });
    const classes = ["w", options.theme, options.size, options.mode === "managed" ? "" : options.mode.replace("-", "")];
    const w = h(
      "div",
      { class: classes.join(" ").trim(), part: "widget", lang: this.language },
      box,
      h("div", { class: "side" }, st, bar, h("span", { class: "brand", text: t("brand") })),
    );
    this.view = { w, box, st, bar, fill };
    this.root.append(w);
  }

  // ---------------------------------------------------------------------------- view

  private setState(state: State, message?: StringKey): void {
    this.state = state;
    const { w, box, st, bar } = this.view;
    w.dataset.state = state;
    box.setAttribute("aria-checked", String(state === "verified"));
    box.setAttribute("aria-disabled", String(!this.wake && (state === "running" || state === "interactive" || state === "verified")));
    bar.hidden = state !== "running";
    if (message) st.textContent = this.t(message);
    else if (state === "idle") st.textContent = "";
    const { appearance } = this.options;
    const visible =
      appearance === "always" || state === "interactive" || state === "error" || (appearance === "execute" && this.started);
    w.classList.toggle("hidden", !visible);
    this.emit("state", state);
  }

  private progress(fraction: number): void {
    const percent = Math.round(fraction * 100);
    this.view.fill.style.width = `${percent}%`;
    this.view.bar.setAttribute("aria-valuenow", String(percent));
  }

  private emit(name: string, detail?: unknown): void {
    this.host.dispatchEvent(new CustomEvent(`haechi-${name}`, { detail, bubbles: true, composed: true }));
  }

  private call(name: CallbackName, ...args: unknown[]): void {
    const cb = resolveCallback(this.options.callbacks[name]);
    try {
      cb?.(...args);
    } catch (error) {
      setTimeout(() => {
        throw error;
      });
    }
  }

  private setToken(token: string): void {
    this.token = token;
    for (const field of this.fields) field.value = token;
    if (token) this.env.onToken?.(token);
  }

  // ---------------------------------------------------------------------------- flow

  /** Run the flow once; concurrent calls share it. Resolves with the token. */
  run(overrides: { action?: string; cdata?: string } = {}, asked?: boolean): Promise<string> {
    if (this.state === "verified" && this.token) return Promise.resolve(this.token);
    if (asked) this.request();
    if (this.pending) return this.pending;
    this.asked = asked;
    Object.assign(this.options, Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined)));
    const gen = ++this.gen;
    this.started = true;
    const flow = this.flow(gen);
    const pending = (this.pending = flow.finally(() => {
      if (this.pending === pending) this.pending = undefined;
    }));
    return pending;
  }

  private stale(gen: number): void {
    if (gen !== this.gen) throw new FlowError("reset");
  }

  private async flow(gen: number): Promise<string> {
    this.abort = new AbortController();
    const { signal } = this.abort;
    this.setToken("");
    this.setState("running", "verifying");
    this.progress(0);
    let note: StringKey | undefined;
    let prefer: "audio" | undefined;
    let retries = 0;
    try {
      for (let attempt = 0; ; attempt++) {
        if (attempt >= MAX_ATTEMPTS) throw new FlowError("too-many-attempts");
        try {
          const { sitekey, action, cdata } = this.options;
          let challenge: Challenge | null = await requestChallenge(
            this.env.endpoint,
            { sitekey, action, cdata, api: this.env.api, locale: this.language, telemetry: pageTelemetry(), prefer },
            signal,
          );
          for (let step = 0; challenge; step++) {
            this.stale(gen);
            const outcome = await this.attempt(challenge, gen, signal, note);
            note = undefined;
            this.stale(gen);
            challenge = null;
            if (outcome.outcome === "token") {
              this.verified(outcome.token, outcome.expires_in);
              return outcome.token;
            }
            if (outcome.outcome === "step_up" && step === 0) {
              challenge = outcome.challenge;
            } else if (outcome.outcome === "fail" && (outcome.code === "wrong-answer" || outcome.code === "expired")) {
              note = outcome.code === "wrong-answer" ? "wrong" : "timeout";
            } else {
              throw new FlowError(outcome.outcome === "fail" ? outcome.code : "step-up-loop");
            }
          }
        } catch (error) {
          this.stale(gen);
          if (error instanceof PanelClosed && error.reload) {
            // Once a visitor asks for audio, later tasks in this flow are audio too.
            prefer ||= error.prefer;
            attempt--;
            continue;
          }
          if (error instanceof PowAborted && error.reason === "timeout") {
            this.call("timeout-callback");
            this.emit("timeout");
            note = "timeout";
            continue;
          }
          if (error instanceof RequestError && error.retryable && retries < MAX_RETRIES) {
            retries++;
            attempt--;
            await sleep(Math.min(8000, Math.max(error.retryAfter * 1000, 1000 * 2 ** retries)));
            this.stale(gen);
            continue;
          }
          throw error;
        }
      }
    } catch (error) {
      if (gen === this.gen) this.failed(error);
      throw error instanceof FlowError ? error : new FlowError(codeOf(error));
    } finally {
      if (gen === this.gen) {
        this.panel?.close();
        this.panel = undefined;
      }
    }
  }

  /** Proof-of-work (and the task, when there is one) for one challenge, then /v1/solve. */
  private async attempt(challenge: Challenge, gen: number, signal: AbortSignal, note?: StringKey) {
    const deadline = challenge.expires_in * 1000 - 2000;
    const work = solvePow(challenge.pow, { signal, timeoutMs: deadline, onProgress: (f) => this.progress(f) });
    work.catch(() => undefined);
    let answer: unknown;
    if (challenge.task) answer = await this.ask(challenge.task, deadline, signal, note);
    const pow = await work;
    this.stale(gen);
    // The page had no input when the challenge was asked for: the server judges the visit at
    // /v1/solve, so wait for the visitor's first moves (a person's approach to the form).
    if (challenge.await_input && !answer) await waitForInput(signal);
    this.stale(gen);
    this.emit("pow", { hashes: pow.hashes, ms: pow.ms, mode: pow.mode });
    return solveChallenge(this.env.endpoint, challenge.challenge, { pow: pow.nonces, answer }, pageTelemetry(), signal);
  }

  /** The visitor asked (the checkbox, Enter or Space on it, the form's submit, execute()). */
  private request(): void {
    this.asked = true;
    if (this.wake) this.wake();
    this.wake = undefined;
  }

  private async ask(task: Task, deadline: number, signal: AbortSignal, note?: StringKey): Promise<unknown> {
    // A step-up never opens under a typing visitor: the widget announces the task (role=status)
    // and waits for their go-ahead; their focus and keystrokes stay where they are.
    // (Past the challenge's life, /v1/solve says `expired` and a fresh one opens at once.)
    if (!this.asked)
      await new Promise<void>((resolve, reject) => {
        this.wake = resolve;
        signal.addEventListener("abort", reject);
        this.setState("interactive", "ready");
      });
    this.setState("interactive", "challenge");
    const before = document.activeElement as HTMLElement | null;
    const panel = (this.panel = openPanel(this.root, task, translator(task.locale), this.options.theme, note ? this.t(note) : ""));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      panel.close();
    }, deadline);
    try {
      return await panel.answer;
    } catch (error) {
      // Not answered within the challenge's life: the flow starts over with a new one.
      throw timedOut ? new PowAborted("timeout") : error;
    } finally {
      clearTimeout(timer);
      this.panel = undefined;
      if (this.state === "interactive") this.setState("running", "verifying");
      // Focus goes back where it was (the checkbox, or the button that submitted the form).
      (before?.isConnected && before !== document.body ? before : this.view.box).focus({ preventScroll: true });
    }
  }

  private verified(token: string, expiresIn: number): void {
    this.setToken(token);
    this.setState("verified", "verified");
    this.progress(1);
    clearTimeout(this.expiry);
    this.expiry = setTimeout(() => this.expire(), expiresIn * 1000);
    this.call("callback", token);
    this.emit("verified", token);
  }

  private failed(error: unknown): void {
    const code = codeOf(error);
    if (error instanceof PanelClosed) {
      this.setState("error", "failed");
      this.call("close-callback");
      this.emit("close");
      return;
    }
    this.setState("error", code === "network" ? "network" : "failed");
    this.call("error-callback", code);
    this.emit("error", code);
  }

  private expire(): void {
    this.setToken("");
    const { refreshExpired } = this.options;
    this.setState("expired", refreshExpired === "auto" ? "expired" : "expiredManual");
    this.call("expired-callback");
    this.emit("expired");
    if (refreshExpired === "auto") void this.run().catch(() => undefined);
  }

  private onSubmit = (event: SubmitEvent): void => {
    if (this.token) return;
    const form = this.form;
    if (!form) return;
    // No token yet: hold the submission, get one, then submit again with the same button.
    event.preventDefault();
    event.stopImmediatePropagation();
    const submitter = event.submitter;
    this.run({}, true).then(
      () => (form.requestSubmit ? form.requestSubmit(submitter as HTMLElement | null) : form.submit()),
      () => undefined,
    );
  };

  // ---------------------------------------------------------------------------- API

  execute(overrides: { action?: string; cdata?: string } = {}): Promise<string> {
    return this.run(overrides, true);
  }

  get expired(): boolean {
    return this.state === "expired";
  }

  /** Back to the start: cancels any flow, clears the token; runs again in `render` execution. */
  reset(): void {
    this.stop();
    this.setToken("");
    this.started = false;
    this.setState("idle");
    if (this.options.execution === "render") void this.run().catch(() => undefined);
  }

  private stop(): void {
    this.gen++;
    this.abort?.abort();
    this.panel?.close();
    this.panel = undefined;
    this.pending = undefined;
    clearTimeout(this.expiry);
  }

  remove(): void {
    this.stop();
    this.form?.removeEventListener("submit", this.onSubmit, true);
    removeEventListener("keydown", this.keys, true);
    for (const field of this.fields) field.remove();
    this.root.replaceChildren();
    if (this.host !== this.container) this.host.remove();
  }
}
