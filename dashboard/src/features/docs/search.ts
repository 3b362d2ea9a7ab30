/** Client-side search over the docs' sections: every word must match; headings weigh more. */
import type { SearchSection } from "virtual:docs-search";

export interface SearchDoc {
  slug: string;
  title: string;
  sections: SearchSection[];
}

export interface Hit {
  slug: string;
  title: string;
  heading: string;
  anchor: string;
  excerpt: string;
  score: number;
}

export function words(query: string): string[] {
  return query
    .toLowerCase()
    .split(/[\s,.;:()"'`]+/)
    .filter((w) => w.length > 1);
}

export function search(index: SearchDoc[], query: string, limit = 20): Hit[] {
  const terms = words(query);
  if (terms.length === 0) return [];
  const hits: Hit[] = [];
  for (const doc of index) {
    for (const section of doc.sections) {
      const heading = section.heading.toLowerCase();
      const text = section.text.toLowerCase();
      let score = 0;
      let first = -1;
      let all = true;
      for (const term of terms) {
        const inHeading = heading.includes(term);
        const at = text.indexOf(term);
        if (!inHeading && at < 0) {
          all = false;
          break;
        }
        score += (inHeading ? 5 : 0) + (at >= 0 ? 1 : 0) + (doc.title.toLowerCase().includes(term) ? 1 : 0);
        if (at >= 0 && (first < 0 || at < first)) first = at;
      }
      if (!all) continue;
      const start = Math.max(0, first - 60);
      const excerpt =
        first < 0
          ? section.text.slice(0, 160)
          : (start > 0 ? "…" : "") + section.text.slice(start, start + 180) + (start + 180 < section.text.length ? "…" : "");
      hits.push({ slug: doc.slug, title: doc.title, heading: section.heading, anchor: section.anchor, excerpt, score });
    }
  }
  return hits.sort((a, b) => b.score - a.score).slice(0, limit);
}
