/** "shop.example.com, www.example.com\napi.example.com" → the API's list (it checks each). */
export function parseHostnames(text: string): string[] {
  return [...new Set(text.split(/[\s,]+/).map((h) => h.trim().toLowerCase()).filter(Boolean))];
}
