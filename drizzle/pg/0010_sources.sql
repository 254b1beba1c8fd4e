CREATE TABLE "sources" (
	"rowid" bigint GENERATED ALWAYS AS IDENTITY (sequence name "sources_rowid_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"id" text PRIMARY KEY NOT NULL,
	"workspace_id" text NOT NULL,
	"name" text NOT NULL,
	"preset" text NOT NULL,
	"prefix" text NOT NULL,
	"hash" text NOT NULL,
	"signing_secret" text,
	"verify_token" text,
	"access_token" text,
	"rate_limit" integer,
	"created_at" bigint NOT NULL,
	"last_used_at" bigint,
	"rotated_at" bigint,
	"revoked_at" bigint,
	CONSTRAINT "sources_hash_unique" UNIQUE("hash")
);
--> statement-breakpoint
ALTER TABLE "idempotency_keys" DROP CONSTRAINT "idempotency_keys_api_key_id_api_keys_id_fk";
--> statement-breakpoint
ALTER TABLE "sources" ADD CONSTRAINT "sources_workspace_id_workspaces_id_fk" FOREIGN KEY ("workspace_id") REFERENCES "public"."workspaces"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "sources_workspace_idx" ON "sources" USING btree ("workspace_id","created_at");