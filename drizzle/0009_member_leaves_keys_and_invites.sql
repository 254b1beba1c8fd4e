ALTER TABLE `api_keys` ADD `created_by_operator` text;--> statement-breakpoint
ALTER TABLE `invites` ADD `created_by` text;