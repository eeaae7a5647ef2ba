-- AlterTable
ALTER TABLE "Sweep" ADD COLUMN     "bestValue" DOUBLE PRECISION,
ADD COLUMN     "concurrency" INTEGER NOT NULL DEFAULT 2,
ADD COLUMN     "createdById" TEXT,
ADD COLUMN     "finishedAt" TIMESTAMP(3),
ADD COLUMN     "points" JSONB,
ADD COLUMN     "status" TEXT NOT NULL DEFAULT 'running';

-- CreateIndex
CREATE INDEX "Sweep_pipelineId_createdAt_idx" ON "Sweep"("pipelineId", "createdAt");

-- CreateIndex
CREATE INDEX "Sweep_status_idx" ON "Sweep"("status");

