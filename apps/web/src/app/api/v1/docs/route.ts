import { renderDocsHtml } from "@/server/api/docs-html";
import { buildOpenApiDocument } from "@/server/api/openapi";
import { serverContext } from "@/server/context";

export function GET() {
  const html = renderDocsHtml(buildOpenApiDocument(serverContext().env.NEXTAUTH_URL) as Parameters<typeof renderDocsHtml>[0]);
  return new Response(html, { headers: { "content-type": "text/html; charset=utf-8" } });
}
