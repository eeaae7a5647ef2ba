-- AlterTable
ALTER TABLE "PipelineRun" ADD COLUMN     "idempotencyBodyHash" TEXT;

