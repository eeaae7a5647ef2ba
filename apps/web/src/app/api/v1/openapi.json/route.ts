import { buildOpenApiDocument } from "@/server/api/openapi";
import { serverContext } from "@/server/context";

export function GET() {
  return Response.json(buildOpenApiDocument(serverContext().env.NEXTAUTH_URL));
}
