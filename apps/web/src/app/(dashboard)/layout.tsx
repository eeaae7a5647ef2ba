import { Suspense, type ReactNode } from "react";
import { Providers } from "@/components/providers";
import { Shell } from "@/components/shell";
import { Loading } from "@/components/ui";

// Every page shows live data for the signed-in user; nothing here can be prerendered.
export const dynamic = "force-dynamic";

export default function DashboardLayout({ children }: { children: ReactNode }) {
  return (
    <Providers>
      <Shell>
        <Suspense fallback={<Loading />}>{children}</Suspense>
      </Shell>
    </Providers>
  );
}
