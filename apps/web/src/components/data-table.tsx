import type { CSSProperties, ReactNode } from "react";

/** A header cell: its label, or the label with a class; `false`/`null` drops a conditional column. */
export type TColumn = string | { label?: ReactNode; className?: string; style?: CSSProperties } | false | null | undefined;

/** The bordered, horizontally scrolling table every list view uses; rows come as children. */
export function DataTable({ columns, children, style }: { columns: TColumn[]; children: ReactNode; style?: CSSProperties }) {
  return (
    <div className="table-wrap" style={style}>
      <table className="table">
        <thead>
          <tr>
            {columns.map((c, i) => {
              if (c === false || c === null || c === undefined) return null;
              return typeof c === "string" ? (
                <th key={i}>{c}</th>
              ) : (
                <th key={i} className={c.className} style={c.style}>
                  {c.label}
                </th>
              );
            })}
          </tr>
        </thead>
        <tbody>{children}</tbody>
      </table>
    </div>
  );
}

/** The "Load more" button under a cursor-paginated list. */
export function LoadMore({ query, label = "Load more", style }: { query: { hasNextPage: boolean; isFetchingNextPage: boolean; fetchNextPage: () => unknown }; label?: string; style?: CSSProperties }) {
  if (!query.hasNextPage) return null;
  return (
    <button type="button" className="btn btn-sm" style={style} onClick={() => void query.fetchNextPage()} disabled={query.isFetchingNextPage}>
      {query.isFetchingNextPage ? "Loading…" : label}
    </button>
  );
}
