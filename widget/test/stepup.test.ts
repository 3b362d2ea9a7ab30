import assert from "node:assert/strict";
import { test } from "node:test";
import { typingElsewhere } from "../src/stepup";

// The keyboard person's sequence on the bench page: Tab to the email field, type, Tab, Space on
// the checkbox. Only the typed characters (outside the widget) withdraw a request for the task.
test("typing in another field withdraws the request; Tab, Enter and the checkbox's Space do not", () => {
  for (const key of ["a", "@", ".", "7", " "]) assert.equal(typingElsewhere(key, false), true, key);
  for (const key of ["Tab", "Enter", "Shift", "ArrowDown", "Escape"]) assert.equal(typingElsewhere(key, false), false, key);
  for (const key of [" ", "Enter", "x"]) assert.equal(typingElsewhere(key, true), false, `${key} on the widget`);
});
