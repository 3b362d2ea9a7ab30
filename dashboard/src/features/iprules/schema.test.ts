import { describe, expect, it } from "vitest";

import { isCidr } from "./schema";

describe("isCidr", () => {
  it("takes addresses and networks", () => {
    for (const value of ["203.0.113.7", "10.0.0.0/8", "2001:db8::1", "2001:db8::/32", "::1"]) expect(isCidr(value)).toBe(true);
  });
  it("refuses the rest", () => {
    for (const value of ["", "300.1.1.1", "10.0.0.0/33", "example.com", "1.2.3", "2001:db8::1::2", "10.0.0.0/"]) expect(isCidr(value)).toBe(false);
  });
});
