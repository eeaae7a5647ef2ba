-- CreateEnum
CREATE TYPE "FeedbackRating" AS ENUM ('up', 'down');

-- AlterTable
ALTER TABLE "DatasetVersion" ADD COLUMN     "lineage" JSONB,
ADD COLUMN     "sourceDeploymentId" TEXT;

-- AlterTable
ALTER TABLE "Environment" ADD COLUMN     "captureFeedbackData" BOOLEAN NOT NULL DEFAULT false,
ADD COLUMN     "feedbackRetentionDays" INTEGER NOT NULL DEFAULT 30;

-- CreateTable
CREATE TABLE "Interaction" (
    "id" TEXT NOT NULL,
    "requestId" TEXT NOT NULL,
    "projectId" TEXT NOT NULL,
    "environmentId" TEXT NOT NULL,
    "deploymentId" TEXT NOT NULL,
    "variantId" TEXT NOT NULL,
    "variantRole" TEXT NOT NULL,
    "modelVersionId" TEXT NOT NULL,
    "endpointName" TEXT NOT NULL,
    "operation" TEXT NOT NULL,
    "prompt" JSONB NOT NULL,
    "response" TEXT NOT NULL,
    "truncated" BOOLEAN NOT NULL DEFAULT false,
    "streamed" BOOLEAN NOT NULL DEFAULT false,
    "tokenId" TEXT,
    "userId" TEXT,
    "rating" "FeedbackRating",
    "comment" TEXT,
    "ratedAt" TIMESTAMPTZ(3),
    "correction" TEXT,
    "correctedById" TEXT,
    "correctedAt" TIMESTAMPTZ(3),
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Interaction_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "Interaction_requestId_key" ON "Interaction"("requestId");

-- CreateIndex
CREATE INDEX "Interaction_deploymentId_createdAt_idx" ON "Interaction"("deploymentId", "createdAt");

-- CreateIndex
CREATE INDEX "Interaction_environmentId_createdAt_idx" ON "Interaction"("environmentId", "createdAt");

-- CreateIndex
CREATE INDEX "DatasetVersion_sourceDeploymentId_idx" ON "DatasetVersion"("sourceDeploymentId");

-- AddForeignKey
ALTER TABLE "DatasetVersion" ADD CONSTRAINT "DatasetVersion_sourceDeploymentId_fkey" FOREIGN KEY ("sourceDeploymentId") REFERENCES "Deployment"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Interaction" ADD CONSTRAINT "Interaction_environmentId_fkey" FOREIGN KEY ("environmentId") REFERENCES "Environment"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Interaction" ADD CONSTRAINT "Interaction_deploymentId_fkey" FOREIGN KEY ("deploymentId") REFERENCES "Deployment"("id") ON DELETE CASCADE ON UPDATE CASCADE;

