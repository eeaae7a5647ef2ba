-- AlterTable
ALTER TABLE "DatasetVersion" ADD COLUMN     "stats" JSONB;

