/// <reference types="vite/client" />

declare module "virtual:docs" {
  export interface DocEntry {
    slug: string;
    title: string;
    load: () => Promise<{ default: { title: string; html: string } }>;
  }
  export const docs: DocEntry[];
}

declare module "virtual:docs-search" {
  export interface SearchSection {
    heading: string;
    anchor: string;
    text: string;
  }
  export const searchIndex: { slug: string; title: string; sections: SearchSection[] }[];
}
