import NextAuth from "next-auth";
import { authOptions } from "@/server/auth/auth-options";

// Options are built per request so that `next build` does not need the runtime secrets.
function handler(req: Request, ctx: { params: Promise<{ nextauth: string[] }> }) {
  return NextAuth(authOptions())(req, ctx);
}

export { handler as GET, handler as POST };
