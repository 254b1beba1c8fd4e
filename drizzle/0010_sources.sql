CREATE TABLE `sources` (
	`id` text PRIMARY KEY NOT NULL,
	`workspace_id` text NOT NULL,
	`name` text NOT NULL,
	`preset` text NOT NULL,
	`prefix` text NOT NULL,
	`hash` text NOT NULL,
	`signing_secret` text,
	`verify_token` text,
	`access_token` text,
	`rate_limit` integer,
	`created_at` integer NOT NULL,
	`last_used_at` integer,
	`rotated_at` integer,
	`revoked_at` integer,
	FOREIGN KEY (`workspace_id`) REFERENCES `workspaces`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `sources_hash_unique` ON `sources` (`hash`);--> statement-breakpoint
CREATE INDEX `sources_workspace_idx` ON `sources` (`workspace_id`,`created_at`);--> statement-breakpoint
PRAGMA foreign_keys=OFF;--> statement-breakpoint
CREATE TABLE `__new_idempotency_keys` (
	`api_key_id` text NOT NULL,
	`key` text NOT NULL,
	`request_hash` text NOT NULL,
	`state` text NOT NULL,
	`response_status` integer,
	`response_headers` text,
	`response_body` text,
	`created_at` integer NOT NULL,
	`expires_at` integer NOT NULL,
	PRIMARY KEY(`api_key_id`, `key`)
);
--> statement-breakpoint
INSERT INTO `__new_idempotency_keys`("api_key_id", "key", "request_hash", "state", "response_status", "response_headers", "response_body", "created_at", "expires_at") SELECT "api_key_id", "key", "request_hash", "state", "response_status", "response_headers", "response_body", "created_at", "expires_at" FROM `idempotency_keys`;--> statement-breakpoint
DROP TABLE `idempotency_keys`;--> statement-breakpoint
ALTER TABLE `__new_idempotency_keys` RENAME TO `idempotency_keys`;--> statement-breakpoint
PRAGMA foreign_keys=ON;--> statement-breakpoint
CREATE INDEX `idempotency_keys_expiry_idx` ON `idempotency_keys` (`expires_at`);