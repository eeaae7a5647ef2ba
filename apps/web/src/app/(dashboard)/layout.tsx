import type { ReactNode } from "react";
import { Providers } from "@/components/providers";
import { Shell } from "@/components/shell";

// Every page shows live data for the signed-in user; nothing here can be prerendered.
export const dynamic = "force-dynamic";

export default function DashboardLayout({ children }: { children: ReactNode }) {
  return (
    <Providers>
      <Shell>
        {/* No Suspense boundary here: one would let the page hydrate after the providers above it had already
            fetched the user's projects, so its first client render would differ from the server's (React #418). */}
        {children}
      </Shell>
    </Providers>
  );
}
