CREATE TABLE "erased_seqs" (
	"workspace_id" text NOT NULL,
	"counter" text NOT NULL,
	"seq" bigint NOT NULL,
	CONSTRAINT "erased_seqs_workspace_id_counter_seq_pk" PRIMARY KEY("workspace_id","counter","seq")
);
--> statement-breakpoint
ALTER TABLE "events" ADD COLUMN "contact_id" text;--> statement-breakpoint
ALTER TABLE "erased_seqs" ADD CONSTRAINT "erased_seqs_workspace_id_workspaces_id_fk" FOREIGN KEY ("workspace_id") REFERENCES "public"."workspaces"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "events_contact_idx" ON "events" USING btree ("contact_id") WHERE contact_id is not null;