/**
 * Renders the repository's docs/**.md at build time: `virtual:docs` lists them (title, slug,
 * a lazy loader each), `virtual:doc/<slug>` holds one page's HTML, `virtual:docs-search` the
 * plain-text sections the docs page searches in the browser. Links between docs become SPA
 * links; images are emitted as hashed assets.
 */
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { basename, dirname, join, posix, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

import { Marked, type Tokens } from "marked";
import type { Plugin } from "vite";

const here = dirname(fileURLToPath(import.meta.url));
export const DOCS_DIR = resolve(here, "../../docs");

export interface DocSection {
  heading: string;
  anchor: string;
  text: string;
}

export interface RenderedDoc {
  slug: string;
  title: string;
  html: string;
  sections: DocSection[];
  images: string[];
}

export function slugify(text: string): string {
  return text
    .toLowerCase()
    .replace(/<[^>]+>/g, "")
    .replace(/[^\p{L}\p{N}\s-]/gu, "")
    .trim()
    .replace(/\s+/g, "-");
}

function listDocs(dir: string): string[] {
  const found: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) found.push(...listDocs(path));
    else if (name.endsWith(".md")) found.push(path);
  }
  return found;
}

function plain(markdown: string): string {
  return markdown
    .replace(/```[\s\S]*?```/g, " ")
    .replace(/`([^`]*)`/g, "$1")
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, "$1")
    .replace(/[#>*_|]/g, " ")
    .replace(/\s+/g, " ")
    .trim();
}

/** One doc: HTML with heading ids, .md links rewritten to /docs/<slug>, images collected. */
export function renderDoc(slug: string, source: string, imageUrl: (path: string) => string): RenderedDoc {
  const images: string[] = [];
  const seen = new Map<string, number>();
  const anchorFor = (text: string): string => {
    const base = slugify(text) || "section";
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    return n === 0 ? base : `${base}-${n}`;
  };
  const docDir = posix.dirname(slug);
  const marked = new Marked({ gfm: true });
  marked.use({
    renderer: {
      heading(this: { parser: { parseInline: (t: Tokens.Generic[]) => string } }, token: Tokens.Heading) {
        const inner = this.parser.parseInline(token.tokens);
        return `<h${token.depth} id="${anchorFor(token.text)}">${inner}</h${token.depth}>\n`;
      },
    },
    walkTokens(token) {
      if (token.type === "link") {
        const href = token.href;
        const match = /^([^:#?]+)\.md(#.*)?$/.exec(href);
        if (match && !href.startsWith("/")) {
          const target = posix.normalize(posix.join(docDir === "." ? "" : docDir, match[1] ?? ""));
          token.href = target.startsWith("..")
            ? href
            : `/docs/${target}${match[2] ?? ""}`;
        }
      } else if (token.type === "image" && !/^[a-z]+:/.test(token.href)) {
        const path = posix.normalize(posix.join(docDir === "." ? "" : docDir, token.href));
        images.push(path);
        token.href = imageUrl(path);
      }
    },
  });
  // Wide code blocks and tables scroll sideways: focusable, so keyboards can scroll them too.
  const html = marked
    .parse(source, { async: false })
    .replace(/<pre>/g, '<pre tabindex="0">')
    .replace(/<table>/g, '<table tabindex="0">');
  const titleMatch = /^#\s+(.+)$/m.exec(source);
  const title = titleMatch?.[1]?.replace(/`/g, "").trim() ?? basename(slug);

  const sections: DocSection[] = [];
  const headingSeen = new Map<string, number>();
  let current: DocSection = { heading: title, anchor: "", text: "" };
  let buffer: string[] = [];
  let inFence = false;
  const flush = () => {
    current.text = plain(buffer.join("\n"));
    if (current.text || current.anchor) sections.push(current);
    buffer = [];
  };
  for (const line of source.split("\n")) {
    if (line.startsWith("```")) inFence = !inFence;
    const heading = inFence ? null : /^(#{1,6})\s+(.+)$/.exec(line);
    if (heading) {
      flush();
      const text = (heading[2] ?? "").replace(/`/g, "");
      const base = slugify(text) || "section";
      const n = headingSeen.get(base) ?? 0;
      headingSeen.set(base, n + 1);
      current = { heading: text, anchor: n === 0 ? base : `${base}-${n}`, text: "" };
    } else {
      buffer.push(line);
    }
  }
  flush();
  return { slug, title, html, sections, images };
}

export function docsPlugin(dir: string = DOCS_DIR): Plugin {
  const PREFIX = "\0virtual:doc/";
  let isBuild = false;
  const imageRefs = new Map<string, string>();
  let cache: { key: string; docs: RenderedDoc[] } | null = null;
  const load = (): RenderedDoc[] => {
    const paths = listDocs(dir);
    const key = paths.map((p) => `${p}:${statSync(p).mtimeMs}`).join("|");
    if (cache?.key === key) return cache.docs;
    const docs = paths.map((path) => {
      const slug = relative(dir, path).replace(/\\/g, "/").replace(/\.md$/, "");
      return renderDoc(slug, readFileSync(path, "utf8"), (image) => {
        const body = readFileSync(join(dir, image));
        const hash = createHash("sha256").update(body).digest("hex").slice(0, 10);
        const name = `assets/docs-${basename(image, ".png").replace(/[^\w-]/g, "")}.${hash}${image.slice(image.lastIndexOf("."))}`;
        imageRefs.set(image, name);
        return `/${name}`;
      });
    });
    cache = { key, docs };
    return docs;
  };
  return {
    name: "haechi-docs",
    configResolved(config) {
      isBuild = config.command === "build";
    },
    resolveId(id) {
      if (id === "virtual:docs" || id === "virtual:docs-search" || id.startsWith("virtual:doc/")) {
        return `\0${id}`;
      }
      return null;
    },
    load(id) {
      if (!id.startsWith("\0virtual:doc")) return null;
      for (const path of listDocs(dir)) this.addWatchFile(path);
      const docs = load();
      if (id === "\0virtual:docs") {
        const entries = docs
          .map((d) => `  { slug: ${JSON.stringify(d.slug)}, title: ${JSON.stringify(d.title)}, load: () => import(${JSON.stringify(`virtual:doc/${d.slug}`)}) },`)
          .join("\n");
        return `export const docs = [\n${entries}\n];\n`;
      }
      if (id === "\0virtual:docs-search") {
        const index = docs.map((d) => ({ slug: d.slug, title: d.title, sections: d.sections }));
        return `export const searchIndex = ${JSON.stringify(index)};\n`;
      }
      const slug = id.slice(PREFIX.length);
      const doc = docs.find((d) => d.slug === slug);
      if (!doc) this.error(`no doc ${slug}`);
      return `export default ${JSON.stringify({ title: doc.title, html: doc.html })};\n`;
    },
    generateBundle() {
      if (!isBuild) return;
      for (const [image, fileName] of imageRefs) {
        this.emitFile({ type: "asset", fileName, source: readFileSync(join(dir, image)) });
      }
    },
  };
}
