CREATE TABLE `api_keys` (
	`id` bigint AUTO_INCREMENT NOT NULL,
	`key_id` varchar(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
	`user_id` bigint NOT NULL,
	`created_by_user_id` bigint,
	`name` varchar(100) NOT NULL,
	`scopes` json NOT NULL,
	`encrypted_secret` varbinary(128) NOT NULL,
	`iv` varbinary(12) NOT NULL,
	`auth_tag` varbinary(16) NOT NULL,
	`key_version` int unsigned NOT NULL,
	`created_at` timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP,
	`last_used_at` datetime(3),
	`revoked_at` datetime(3),
	CONSTRAINT `api_keys_id` PRIMARY KEY(`id`),
	CONSTRAINT `api_keys_key_id_uq` UNIQUE(`key_id`),
	CONSTRAINT `api_keys_key_id_ck` CHECK(`key_id` REGEXP '^ck_[a-z2-7]{20}$')
);
--> statement-breakpoint
ALTER TABLE `api_keys` ADD CONSTRAINT `api_keys_user_id_fk` FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE `api_keys` ADD CONSTRAINT `api_keys_created_by_user_id_fk` FOREIGN KEY (`created_by_user_id`) REFERENCES `users`(`id`) ON DELETE set null ON UPDATE no action;--> statement-breakpoint
CREATE INDEX `api_keys_user_id_idx` ON `api_keys` (`user_id`);--> statement-breakpoint
CREATE INDEX `api_keys_created_by_user_id_idx` ON `api_keys` (`created_by_user_id`);