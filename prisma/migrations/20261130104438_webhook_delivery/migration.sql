-- AlterTable
ALTER TABLE "WebhookSubscription" ADD COLUMN     "consecutiveFailures" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "disabledAt" TIMESTAMP(3),
ADD COLUMN     "disabledReason" TEXT,
ADD COLUMN     "format" TEXT NOT NULL DEFAULT 'standard',
ADD COLUMN     "previousSecretCiphertext" TEXT,
ADD COLUMN     "previousSecretExpiresAt" TIMESTAMP(3);

-- AlterTable
ALTER TABLE "WebhookDelivery" ADD COLUMN     "lastAttemptAt" TIMESTAMP(3),
ADD COLUMN     "lastDurationMs" INTEGER,
ADD COLUMN     "lastRequest" TEXT,
ADD COLUMN     "lastResponse" TEXT;

