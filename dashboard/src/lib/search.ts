/** Search-parameter validators for routes: plain functions, so zod stays out of the entry chunk
 * (route options are part of the route tree every page loads). */
export function optionalStrings<K extends string>(...names: K[]) {
  return (search: Record<string, unknown>): Partial<Record<K, string>> => {
    const found: Partial<Record<K, string>> = {};
    for (const name of names) {
      const value = search[name];
      if (typeof value === "string" && value.length <= 2048) found[name] = value;
    }
    return found;
  };
}
