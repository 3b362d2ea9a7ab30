import { describe, expect, it } from "vitest";

import { renderDoc, slugify } from "./docs-plugin";

describe("docs rendering", () => {
  const source = [
    "# The widget",
    "See [the API](api.md#siteverify) and [operations](operations.md).",
    "![sample](images/grid-sample.png)",
    "## Content-Security-Policy",
    "text",
    "## Content-Security-Policy",
    "```sh",
    "# not a heading",
    "```",
  ].join("\n");
  const doc = renderDoc("widget", source, (path) => `/assets/${path.replace("/", "-")}`);

  it("takes the title from the first heading and gives headings unique ids", () => {
    expect(doc.title).toBe("The widget");
    expect(doc.html).toContain('<h2 id="content-security-policy">');
    expect(doc.html).toContain('<h2 id="content-security-policy-1">');
  });
  it("turns links between docs into app links and collects images", () => {
    expect(doc.html).toContain('href="/docs/api#siteverify"');
    expect(doc.html).toContain('href="/docs/operations"');
    expect(doc.html).toContain('src="/assets/images-grid-sample.png"');
    expect(doc.images).toEqual(["images/grid-sample.png"]);
  });
  it("resolves links from a nested doc and keeps sections for search", () => {
    const nested = renderDoc("decisions/0001-x", "# X\n[widget](../widget.md)", () => "");
    expect(nested.html).toContain('href="/docs/widget"');
    expect(doc.sections.map((s) => s.anchor)).toEqual(["the-widget", "content-security-policy", "content-security-policy-1"]);
    expect(doc.sections[2]?.text).not.toContain("not a heading");
  });
  it("slugifies like GitHub for Korean and punctuation", () => {
    expect(slugify("Scripts and caching")).toBe("scripts-and-caching");
    expect(slugify("위젯 옵션 (Options)")).toBe("위젯-옵션-options");
  });
});
