import { describe, expect, it } from "vitest";

import { search, words } from "./search";

const index = [
  {
    slug: "widget",
    title: "The browser widget",
    sections: [
      { heading: "The browser widget", anchor: "", text: "One script and one div." },
      { heading: "Content-Security-Policy", anchor: "content-security-policy", text: "The widget needs worker-src blob: for its proof-of-work worker." },
    ],
  },
  {
    slug: "api",
    title: "API",
    sections: [{ heading: "siteverify", anchor: "siteverify", text: "POST the secret and the response token; proof-of-work is checked first." }],
  },
];

describe("docs search", () => {
  it("needs every word to match, in the heading or the text", () => {
    const hits = search(index, "worker blob");
    expect(hits.map((h) => [h.slug, h.anchor])).toEqual([["widget", "content-security-policy"]]);
    expect(search(index, "worker siteverify")).toEqual([]);
  });
  it("ranks heading matches first and excerpts around the match", () => {
    const hits = search(index, "siteverify");
    expect(hits[0]?.slug).toBe("api");
    const pow = search(index, "proof-of-work");
    expect(pow).toHaveLength(2);
    expect(pow[0]?.excerpt).toContain("proof-of-work");
  });
  it("ignores empty and one-letter queries", () => {
    expect(words(" a , ")).toEqual([]);
    expect(search(index, "")).toEqual([]);
  });
});
