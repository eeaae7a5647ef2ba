-- AlterEnum
ALTER TYPE "RunStatus" ADD VALUE 'awaiting_review';

