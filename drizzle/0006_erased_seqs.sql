CREATE TABLE `erased_seqs` (
	`workspace_id` text NOT NULL,
	`counter` text NOT NULL,
	`seq` integer NOT NULL,
	PRIMARY KEY(`workspace_id`, `counter`, `seq`),
	FOREIGN KEY (`workspace_id`) REFERENCES `workspaces`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
ALTER TABLE `events` ADD `contact_id` text;--> statement-breakpoint
CREATE INDEX `events_contact_idx` ON `events` (`contact_id`) WHERE contact_id is not null;