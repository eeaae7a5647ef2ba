-- CreateEnum
CREATE TYPE "ReleaseState" AS ENUM ('in_progress', 'succeeded', 'failed');

-- CreateEnum
CREATE TYPE "ReleaseStageState" AS ENUM ('pending', 'awaiting_approval', 'rolling_out', 'soaking', 'promoted', 'rolled_back', 'blocked', 'failed');

-- AlterTable
ALTER TABLE "Pipeline" ADD COLUMN     "specEditedAt" TIMESTAMP(3),
ADD COLUMN     "specEditedById" TEXT;

-- AlterTable
ALTER TABLE "PipelineRun" ADD COLUMN     "pushedById" TEXT,
ADD COLUMN     "pushedByIdentity" TEXT,
ADD COLUMN     "specEditedById" TEXT;

-- AlterTable
ALTER TABLE "Environment" ADD COLUMN     "frozenAt" TIMESTAMP(3),
ADD COLUMN     "frozenById" TEXT,
ADD COLUMN     "frozenReason" TEXT;

-- CreateTable
CREATE TABLE "Release" (
    "id" TEXT NOT NULL,
    "projectId" TEXT NOT NULL,
    "runId" TEXT,
    "modelVersionId" TEXT NOT NULL,
    "endpointName" TEXT NOT NULL,
    "state" "ReleaseState" NOT NULL DEFAULT 'in_progress',
    "reason" TEXT,
    "requestedById" TEXT,
    "pushedById" TEXT,
    "pushedByIdentity" TEXT,
    "specEditedById" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,
    "finishedAt" TIMESTAMP(3),

    CONSTRAINT "Release_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ReleaseStage" (
    "id" TEXT NOT NULL,
    "releaseId" TEXT NOT NULL,
    "environmentId" TEXT NOT NULL,
    "position" INTEGER NOT NULL,
    "state" "ReleaseStageState" NOT NULL DEFAULT 'pending',
    "reason" TEXT,
    "policy" JSONB NOT NULL,
    "deploymentId" TEXT,
    "promoteRequestedAt" TIMESTAMP(3),
    "promoteRequestedById" TEXT,
    "startedAt" TIMESTAMP(3),
    "soakStartedAt" TIMESTAMP(3),
    "finishedAt" TIMESTAMP(3),
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "ReleaseStage_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ReleaseApproval" (
    "id" TEXT NOT NULL,
    "stageId" TEXT NOT NULL,
    "userId" TEXT NOT NULL,
    "decision" TEXT NOT NULL,
    "comment" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "ReleaseApproval_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "Release_runId_key" ON "Release"("runId");

-- CreateIndex
CREATE INDEX "Release_projectId_createdAt_idx" ON "Release"("projectId", "createdAt");

-- CreateIndex
CREATE INDEX "Release_state_idx" ON "Release"("state");

-- CreateIndex
CREATE INDEX "ReleaseStage_environmentId_state_idx" ON "ReleaseStage"("environmentId", "state");

-- CreateIndex
CREATE UNIQUE INDEX "ReleaseStage_releaseId_position_key" ON "ReleaseStage"("releaseId", "position");

-- CreateIndex
CREATE UNIQUE INDEX "ReleaseStage_releaseId_environmentId_key" ON "ReleaseStage"("releaseId", "environmentId");

-- CreateIndex
CREATE UNIQUE INDEX "ReleaseApproval_stageId_userId_key" ON "ReleaseApproval"("stageId", "userId");

-- AddForeignKey
ALTER TABLE "Release" ADD CONSTRAINT "Release_projectId_fkey" FOREIGN KEY ("projectId") REFERENCES "Project"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Release" ADD CONSTRAINT "Release_runId_fkey" FOREIGN KEY ("runId") REFERENCES "PipelineRun"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Release" ADD CONSTRAINT "Release_modelVersionId_fkey" FOREIGN KEY ("modelVersionId") REFERENCES "ModelVersion"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ReleaseStage" ADD CONSTRAINT "ReleaseStage_releaseId_fkey" FOREIGN KEY ("releaseId") REFERENCES "Release"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ReleaseStage" ADD CONSTRAINT "ReleaseStage_environmentId_fkey" FOREIGN KEY ("environmentId") REFERENCES "Environment"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ReleaseStage" ADD CONSTRAINT "ReleaseStage_deploymentId_fkey" FOREIGN KEY ("deploymentId") REFERENCES "Deployment"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ReleaseApproval" ADD CONSTRAINT "ReleaseApproval_stageId_fkey" FOREIGN KEY ("stageId") REFERENCES "ReleaseStage"("id") ON DELETE CASCADE ON UPDATE CASCADE;

