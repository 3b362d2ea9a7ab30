// The challenge panel: a modal <dialog> that renders a public task (docs/schemas/
// challenge-task.v1.json) and resolves with its submission (challenge-submission.v1.json).
// New task kinds plug in here; the embed code and the protocol flow do not change.
import type { AudioTask, DrawTask, SelectTask, Task } from "./api";
import { h } from "./dom";
import type { Translate } from "./i18n";

export class PanelClosed extends Error {
  /** `reload`: the visitor asked for a new task; `prefer`: of that kind (the audio alternative). */
  constructor(
    readonly reload = false,
    readonly prefer?: "audio",
  ) {
    super("panel closed");
  }
}

export interface Panel {
  answer: Promise<unknown>;
  close(): void;
}

interface Body {
  nodes: Node[];
  value(): unknown;
  /** Focus target when the panel opens. */
  first: HTMLElement | null;
}

function selectBody(task: SelectTask, t: Translate, changed: (ready: boolean) => void): Body {
  const { rows, cols } = task.grid;
  const chosen = new Set<string>();
  const count = h("p", { class: "sr", "aria-live": "polite" });
  const grid = h("div", { class: "grid", role: "group", "aria-labelledby": "hp", "aria-describedby": "hc" });
  grid.style.gridTemplateColumns = `repeat(${cols}, 1fr)`;
  const buttons = task.cells.slice(0, rows * cols).map((cell, i) => {
    const b = h(
      "button",
      {
        type: "button",
        "aria-pressed": "false",
        tabindex: i ? -1 : 0,
        "aria-label": cell.image ? cell.alt || t("cell", i + 1) : null,
      },
      cell.image ? h("img", { src: cell.image, alt: "", draggable: "false" }) : cell.label ?? "",
    );
    b.addEventListener("click", () => {
      if (chosen.has(cell.id)) chosen.delete(cell.id);
      else if (chosen.size < task.select.max) chosen.add(cell.id);
      b.setAttribute("aria-pressed", String(chosen.has(cell.id)));
      count.textContent = t("chosen", chosen.size);
      changed(chosen.size >= Math.max(1, task.select.min));
    });
    return b;
  });
  // Roving tab stop: Tab enters the grid once, arrows move inside it.
  grid.addEventListener("keydown", (e) => {
    const at = buttons.indexOf(e.target as HTMLButtonElement);
    if (at < 0) return;
    const moves: Record<string, number> = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: cols, ArrowUp: -cols, Home: -at, End: buttons.length - 1 - at };
    const step = moves[e.key];
    if (step === undefined) return;
    e.preventDefault();
    const next = buttons[Math.max(0, Math.min(buttons.length - 1, at + step))];
    for (const b of buttons) b.tabIndex = b === next ? 0 : -1;
    next.focus();
  });
  grid.append(...buttons);
  const hint = h("p", { id: "hc", class: "sr", text: t("choose", task.select.min, task.select.max) });
  return { nodes: [hint, grid, count], value: () => ({ cells: [...chosen] }), first: buttons[0] ?? null };
}

function drawBody(task: DrawTask, t: Translate, changed: (ready: boolean) => void): Body {
  const canvas = h("canvas", { width: task.canvas.width, height: task.canvas.height, "aria-labelledby": "hp" });
  const ctx = canvas.getContext("2d");
  const strokes: number[][][] = [];
  let started = 0;
  let current: number[][] | null = null;
  const point = (e: PointerEvent): number[] => {
    const r = canvas.getBoundingClientRect();
    const x = Math.round(((e.clientX - r.left) * canvas.width) / (r.width || 1));
    const y = Math.round(((e.clientY - r.top) * canvas.height) / (r.height || 1));
    started ||= e.timeStamp;
    return [x, y, Math.round(e.timeStamp - started)];
  };
  canvas.addEventListener("pointerdown", (e) => {
    canvas.setPointerCapture?.(e.pointerId);
    strokes.push((current = [point(e)]));
  });
  canvas.addEventListener("pointermove", (e) => {
    if (!current || !ctx) return;
    const [x0, y0] = current[current.length - 1];
    const p = point(e);
    current.push(p);
    ctx.lineWidth = 3;
    ctx.lineCap = "round";
    ctx.strokeStyle = getComputedStyle(canvas).color;
    ctx.beginPath();
    ctx.moveTo(x0, y0);
    ctx.lineTo(p[0], p[1]);
    ctx.stroke();
  });
  const end = (): void => {
    current = null;
    changed(strokes.length > 0);
  };
  canvas.addEventListener("pointerup", end);
  canvas.addEventListener("pointercancel", end);
  const clear = h("button", { type: "button", text: t("clear") });
  clear.addEventListener("click", () => {
    strokes.length = 0;
    ctx?.clearRect(0, 0, canvas.width, canvas.height);
    changed(false);
  });
  return {
    nodes: [h("img", { class: "prompt", src: task.image, alt: "" }), canvas, h("div", { class: "row" }, clear)],
    value: () => ({ strokes }),
    first: clear,
  };
}

function audioBody(task: AudioTask, t: Translate, changed: (ready: boolean) => void): Body {
  const input = h("input", {
    id: "ha",
    autocomplete: "off",
    inputmode: task.input.format === "digits" ? "numeric" : "text",
    maxlength: task.input.maxLength,
    spellcheck: "false",
  });
  input.addEventListener("input", () => changed(input.value.trim().length > 0));
  const player = h("audio", { controls: true, preload: "none", src: task.audio, "aria-label": t("audio") });
  return {
    nodes: [player, h("label", { for: "ha", text: t("answer") }), input],
    value: () => ({ text: input.value.trim() }),
    first: player,
  };
}

/** Show `task` in a modal dialog inside `root`. The answer rejects with PanelClosed when the
 * visitor closes it (Escape, Close) or asks for a new task (`reload`). */
export function openPanel(root: ShadowRoot, task: Task, t: Translate, theme: string, note: string): Panel {
  let settle!: { resolve: (v: unknown) => void; reject: (e: Error) => void };
  const answer = new Promise<unknown>((resolve, reject) => (settle = { resolve, reject }));
  let done = false;
  const verify = h("button", { type: "submit", class: "primary", disabled: true, text: t("verify") });
  const ready = (ok: boolean): void => {
    verify.disabled = !ok;
  };
  const body =
    task.kind === "select" ? selectBody(task, t, ready) : task.kind === "draw" ? drawBody(task, t, ready) : audioBody(task, t, ready);
  const form = h(
    "form",
    { method: "dialog" },
    h("h2", { id: "ht", text: t("title") }),
    h("p", { id: "hp", text: task.prompt }),
    h("p", { class: "note", role: "alert", text: note }),
    ...body.nodes,
    h(
      "div",
      { class: "row" },
      h("button", { type: "button", text: t("close"), onclick: () => finish(new PanelClosed()) }),
      h("button", { type: "button", text: t("reload"), onclick: () => finish(new PanelClosed(true)) }),
      task.kind !== "audio" && task.alternatives?.includes("audio")
        ? h("button", { type: "button", class: "alt", text: t("audioAlt"), onclick: () => finish(new PanelClosed(true, "audio")) })
        : null,
      verify,
    ),
  );
  const dialog = h("dialog", { class: theme, "aria-labelledby": "ht", "aria-describedby": "hp" }, form);
  const finish = (result: Error | { value: unknown }): void => {
    if (done) return;
    done = true;
    if (dialog.open) dialog.close();
    dialog.remove();
    if (result instanceof Error) settle.reject(result);
    else settle.resolve(result.value);
  };
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    if (!verify.disabled) finish({ value: body.value() });
  });
  dialog.addEventListener("cancel", (e) => {
    e.preventDefault();
    finish(new PanelClosed());
  });
  root.append(dialog);
  dialog.showModal();
  body.first?.focus();
  return { answer, close: () => finish(new PanelClosed()) };
}
