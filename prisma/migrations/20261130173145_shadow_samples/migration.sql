-- CreateTable
CREATE TABLE "ShadowSample" (
    "id" BIGSERIAL NOT NULL,
    "deploymentId" TEXT NOT NULL,
    "variantId" TEXT NOT NULL,
    "gatewayId" TEXT NOT NULL,
    "requestId" TEXT NOT NULL,
    "prompt" TEXT NOT NULL,
    "stableText" TEXT NOT NULL,
    "candidateText" TEXT,
    "candidateError" TEXT,
    "rougeL" DOUBLE PRECISION NOT NULL,
    "exactMatch" BOOLEAN NOT NULL,
    "stableRefusal" BOOLEAN NOT NULL,
    "candidateRefusal" BOOLEAN NOT NULL,
    "stableChars" INTEGER NOT NULL,
    "candidateChars" INTEGER NOT NULL,
    "stableLatencyMs" DOUBLE PRECISION NOT NULL,
    "candidateLatencyMs" DOUBLE PRECISION,
    "stableTtftMs" DOUBLE PRECISION,
    "candidateTtftMs" DOUBLE PRECISION,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "ShadowSample_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "ShadowSample_deploymentId_createdAt_idx" ON "ShadowSample"("deploymentId", "createdAt");

-- AddForeignKey
ALTER TABLE "ShadowSample" ADD CONSTRAINT "ShadowSample_deploymentId_fkey" FOREIGN KEY ("deploymentId") REFERENCES "Deployment"("id") ON DELETE CASCADE ON UPDATE CASCADE;

