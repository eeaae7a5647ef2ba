-- AlterTable
ALTER TABLE "StageRun" ADD COLUMN     "resumedFromStep" INTEGER,
ADD COLUMN     "resumedFromUri" TEXT;

