import assert from "node:assert/strict";
import { test } from "node:test";
import { absoluteUrl, resolveTask, type Task } from "../src/api";

test("blob paths resolve against the endpoint, absolute URLs are kept", () => {
  assert.equal(absoluteUrl("https://api.example.com", "/v1/blob/k?exp=1&sig=a"), "https://api.example.com/v1/blob/k?exp=1&sig=a");
  assert.equal(absoluteUrl("https://x.example/captcha/", "/v1/blob/k"), "https://x.example/captcha/v1/blob/k");
  assert.equal(absoluteUrl("https://api.example.com", "https://bucket.s3.example/k?X-Amz=1"), "https://bucket.s3.example/k?X-Amz=1");
  // Protocol-relative URLs name another host: they are not paths of the endpoint.
  assert.equal(absoluteUrl("https://api.example.com", "//cdn.example/k"), "//cdn.example/k");
});

test("every kind of task gets its URLs resolved, and nothing else changes", () => {
  const base = { type: "t", locale: "en", prompt: "p" } as const;
  const select = resolveTask(
    { ...base, kind: "select", grid: { rows: 1, cols: 2 }, cells: [{ id: "aaaa", image: "/v1/blob/a" }, { id: "bbbb", label: "★" }], select: { min: 1, max: 2 } },
    "https://e.example",
  ) as Extract<Task, { kind: "select" }>;
  assert.deepEqual(select.cells, [{ id: "aaaa", image: "https://e.example/v1/blob/a" }, { id: "bbbb", label: "★" }]);
  const draw = resolveTask({ ...base, kind: "draw", image: "/v1/blob/d", canvas: { width: 64, height: 64 } }, "https://e.example");
  assert.equal((draw as Extract<Task, { kind: "draw" }>).image, "https://e.example/v1/blob/d");
  const audio = resolveTask({ ...base, kind: "audio", audio: "/v1/blob/c", input: { format: "digits", maxLength: 6 }, alternatives: [] }, "https://e.example");
  assert.equal((audio as Extract<Task, { kind: "audio" }>).audio, "https://e.example/v1/blob/c");
  assert.equal(resolveTask(null, "https://e.example"), null);
});
