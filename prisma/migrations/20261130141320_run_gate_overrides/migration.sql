-- AlterTable
ALTER TABLE "PipelineRun" ADD COLUMN     "gateOverrides" JSONB;

