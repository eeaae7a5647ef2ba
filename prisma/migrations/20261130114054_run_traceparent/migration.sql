-- AlterTable
ALTER TABLE "PipelineRun" ADD COLUMN     "traceparent" TEXT;

