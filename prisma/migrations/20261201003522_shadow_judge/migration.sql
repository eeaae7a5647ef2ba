-- AlterTable
ALTER TABLE "ShadowSample" ADD COLUMN     "judgeAttempts" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "judgeError" TEXT,
ADD COLUMN     "judgeReason" TEXT,
ADD COLUMN     "judgeScore" DOUBLE PRECISION;

