ALTER TABLE "api_keys" ADD COLUMN "created_by_operator" text;--> statement-breakpoint
ALTER TABLE "invites" ADD COLUMN "created_by" text;