import { useInfiniteQuery } from "@tanstack/react-query";

import { isProblem } from "../../lib/api";

/** A list the API pages by cursor (`next_cursor`): the rows so far and "more". */
export function usePaged<Row>(
  queryKey: readonly unknown[],
  fetchPage: (cursor: string | undefined, signal: AbortSignal) => Promise<{ data: Row[]; next_cursor?: string | null }>,
) {
  const query = useInfiniteQuery({
    queryKey: [...queryKey, "paged"],
    queryFn: ({ pageParam, signal }) => fetchPage(pageParam || undefined, signal),
    initialPageParam: "",
    getNextPageParam: (last) => last.next_cursor ?? undefined,
  });
  return { ...query, rows: query.data?.pages.flatMap((page) => page.data) ?? [] };
}

export function problemText(error: unknown): string {
  if (isProblem(error)) return error.detail ?? error.title ?? error.code ?? "";
  return error instanceof Error ? error.message : String(error ?? "");
}
