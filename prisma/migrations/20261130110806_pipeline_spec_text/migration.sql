-- AlterTable
ALTER TABLE "Pipeline" ADD COLUMN     "specText" TEXT;

-- CreateTable
CREATE TABLE "PipelineSpecVersion" (
    "id" TEXT NOT NULL,
    "pipelineId" TEXT NOT NULL,
    "version" INTEGER NOT NULL,
    "spec" JSONB NOT NULL,
    "specText" TEXT,
    "createdById" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "PipelineSpecVersion_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "PipelineSpecVersion_pipelineId_version_key" ON "PipelineSpecVersion"("pipelineId", "version");

-- AddForeignKey
ALTER TABLE "PipelineSpecVersion" ADD CONSTRAINT "PipelineSpecVersion_pipelineId_fkey" FOREIGN KEY ("pipelineId") REFERENCES "Pipeline"("id") ON DELETE CASCADE ON UPDATE CASCADE;


-- Backfill: each existing pipeline's current spec is its first recorded version (no text: it was never kept).
INSERT INTO "PipelineSpecVersion" ("id", "pipelineId", "version", "spec", "createdById", "createdAt")
SELECT 'psv_' || replace(gen_random_uuid()::text, '-', ''), "id", "specVersion", "spec", "specEditedById", COALESCE("specEditedAt", "updatedAt")
FROM "Pipeline";
