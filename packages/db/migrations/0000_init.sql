CREATE TABLE `certificates` (
	`id` bigint AUTO_INCREMENT NOT NULL,
	`token_id` bigint NOT NULL,
	`owner_address` varchar(42) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
	`ipfs_hash` varchar(255) NOT NULL,
	`status` enum('valid','invalid') NOT NULL,
	`created_at` timestamp DEFAULT CURRENT_TIMESTAMP,
	`updated_at` timestamp DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
	`issuer_address` varchar(42) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
	`issued_at` datetime NOT NULL,
	`expires_at` datetime,
	`revoked_at` datetime,
	`revoked_by_address` varchar(42) CHARACTER SET ascii COLLATE ascii_bin,
	`revocation_reason` text,
	`issue_tx_hash` varchar(66) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
	`issued_block_number` bigint unsigned NOT NULL,
	`block_number` bigint unsigned NOT NULL,
	`block_hash` varchar(66) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
	`log_index` int unsigned NOT NULL,
	CONSTRAINT `certificates_id` PRIMARY KEY(`id`),
	CONSTRAINT `certificates_token_id_uq` UNIQUE(`token_id`),
	CONSTRAINT `certificates_owner_address_ck` CHECK(`owner_address` REGEXP '^0x[0-9a-f]{40}$'),
	CONSTRAINT `certificates_issuer_address_ck` CHECK(`issuer_address` REGEXP '^0x[0-9a-f]{40}$'),
	CONSTRAINT `certificates_revoked_by_address_ck` CHECK(`revoked_by_address` REGEXP '^0x[0-9a-f]{40}$'),
	CONSTRAINT `certificates_issue_tx_hash_ck` CHECK(`issue_tx_hash` REGEXP '^0x[0-9a-f]{64}$'),
	CONSTRAINT `certificates_block_hash_ck` CHECK(`block_hash` REGEXP '^0x[0-9a-f]{64}$')
);
--> statement-breakpoint
CREATE TABLE `indexer_blocks` (
	`chain_id` bigint unsigned NOT NULL,
	`number` bigint unsigned NOT NULL,
	`hash` varchar(66) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
	`parent_hash` varchar(66) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
	`timestamp` bigint unsigned NOT NULL,
	CONSTRAINT `indexer_blocks_pk` PRIMARY KEY(`chain_id`,`number`),
	CONSTRAINT `indexer_blocks_hash_ck` CHECK(`hash` REGEXP '^0x[0-9a-f]{64}$'),
	CONSTRAINT `indexer_blocks_parent_hash_ck` CHECK(`parent_hash` REGEXP '^0x[0-9a-f]{64}$')
);
--> statement-breakpoint
CREATE TABLE `indexer_cursor` (
	`chain_id` bigint unsigned NOT NULL,
	`block_number` bigint unsigned NOT NULL,
	`block_hash` varchar(66) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
	`finalized_block_number` bigint unsigned NOT NULL,
	`updated_at` timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
	CONSTRAINT `indexer_cursor_chain_id` PRIMARY KEY(`chain_id`),
	CONSTRAINT `indexer_cursor_block_hash_ck` CHECK(`block_hash` REGEXP '^0x[0-9a-f]{64}$')
);
--> statement-breakpoint
CREATE TABLE `indexer_lock` (
	`name` varchar(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
	`owner_id` varchar(128) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
	`fencing_token` bigint unsigned NOT NULL,
	`acquired_at` datetime(3) NOT NULL,
	`heartbeat_at` datetime(3) NOT NULL,
	`expires_at` datetime(3) NOT NULL,
	CONSTRAINT `indexer_lock_name` PRIMARY KEY(`name`)
);
--> statement-breakpoint
CREATE TABLE `indexer_undo_log` (
	`id` bigint AUTO_INCREMENT NOT NULL,
	`chain_id` bigint unsigned NOT NULL,
	`block_number` bigint unsigned NOT NULL,
	`table_name` varchar(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
	`operation` enum('insert','update','delete') NOT NULL,
	`row_key` json NOT NULL,
	`previous_row` json,
	CONSTRAINT `indexer_undo_log_id` PRIMARY KEY(`id`)
);
--> statement-breakpoint
CREATE TABLE `listings` (
	`id` bigint AUTO_INCREMENT NOT NULL,
	`listing_id` bigint NOT NULL,
	`token_id` bigint NOT NULL,
	`seller_address` varchar(42) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
	`currency_address` varchar(42) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
	`price` decimal(65,0) NOT NULL,
	`status` enum('active','sold','cancelled','stale') NOT NULL DEFAULT 'active',
	`buyer_address` varchar(42) CHARACTER SET ascii COLLATE ascii_bin,
	`fee` decimal(65,0),
	`listed_at` datetime NOT NULL,
	`closed_at` datetime,
	`created_tx_hash` varchar(66) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
	`created_block_number` bigint unsigned NOT NULL,
	`created_block_hash` varchar(66) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
	`created_log_index` int unsigned NOT NULL,
	`block_number` bigint unsigned NOT NULL,
	`block_hash` varchar(66) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
	`log_index` int unsigned NOT NULL,
	`created_at` timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP,
	`updated_at` timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
	CONSTRAINT `listings_id` PRIMARY KEY(`id`),
	CONSTRAINT `listings_listing_id_uq` UNIQUE(`listing_id`),
	CONSTRAINT `listings_seller_address_ck` CHECK(`seller_address` REGEXP '^0x[0-9a-f]{40}$'),
	CONSTRAINT `listings_currency_address_ck` CHECK(`currency_address` REGEXP '^0x[0-9a-f]{40}$'),
	CONSTRAINT `listings_buyer_address_ck` CHECK(`buyer_address` REGEXP '^0x[0-9a-f]{40}$'),
	CONSTRAINT `listings_created_tx_hash_ck` CHECK(`created_tx_hash` REGEXP '^0x[0-9a-f]{64}$'),
	CONSTRAINT `listings_created_block_hash_ck` CHECK(`created_block_hash` REGEXP '^0x[0-9a-f]{64}$'),
	CONSTRAINT `listings_block_hash_ck` CHECK(`block_hash` REGEXP '^0x[0-9a-f]{64}$'),
	CONSTRAINT `listings_price_ck` CHECK(`price` >= 0),
	CONSTRAINT `listings_fee_ck` CHECK(`fee` >= 0)
);
--> statement-breakpoint
CREATE TABLE `sessions` (
	`id` char(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
	`user_id` bigint NOT NULL,
	`expires_at` datetime(3) NOT NULL,
	`created_at` timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP,
	`last_verified_at` datetime(3),
	`user_agent` varchar(255),
	`ip` varchar(45),
	CONSTRAINT `sessions_id` PRIMARY KEY(`id`),
	CONSTRAINT `sessions_id_ck` CHECK(`id` REGEXP '^[0-9a-f]{64}$')
);
--> statement-breakpoint
CREATE TABLE `transactions` (
	`id` bigint AUTO_INCREMENT NOT NULL,
	`tx_hash` varchar(66) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
	`from_address` varchar(42) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
	`to_address` varchar(42) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
	`amount` decimal(65,0),
	`token_id` bigint,
	`status` enum('pending','completed','failed') NOT NULL,
	`created_at` timestamp DEFAULT CURRENT_TIMESTAMP,
	`kind` enum('issue','revoke','transfer','list','cancel','buy','withdraw','eth_transfer','token_transfer','role','approve','other') NOT NULL,
	`currency_address` varchar(42) CHARACTER SET ascii COLLATE ascii_bin,
	`block_number` bigint unsigned,
	`block_hash` varchar(66) CHARACTER SET ascii COLLATE ascii_bin,
	`log_index` int unsigned,
	`block_timestamp` datetime,
	`tx_request_id` char(36) CHARACTER SET ascii COLLATE ascii_bin,
	`failure_reason` varchar(100),
	`updated_at` timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
	CONSTRAINT `transactions_id` PRIMARY KEY(`id`),
	CONSTRAINT `transactions_tx_hash_uq` UNIQUE(`tx_hash`),
	CONSTRAINT `transactions_tx_hash_ck` CHECK(`tx_hash` REGEXP '^0x[0-9a-f]{64}$'),
	CONSTRAINT `transactions_from_address_ck` CHECK(`from_address` REGEXP '^0x[0-9a-f]{40}$'),
	CONSTRAINT `transactions_to_address_ck` CHECK(`to_address` REGEXP '^0x[0-9a-f]{40}$'),
	CONSTRAINT `transactions_currency_address_ck` CHECK(`currency_address` REGEXP '^0x[0-9a-f]{40}$'),
	CONSTRAINT `transactions_block_hash_ck` CHECK(`block_hash` REGEXP '^0x[0-9a-f]{64}$'),
	CONSTRAINT `transactions_amount_ck` CHECK(`amount` >= 0)
);
--> statement-breakpoint
CREATE TABLE `tx_request_hashes` (
	`id` bigint AUTO_INCREMENT NOT NULL,
	`tx_request_id` char(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
	`purpose` enum('original','speed_up','cancel') NOT NULL DEFAULT 'original',
	`status` enum('signed','sent','mined','replaced','dropped') NOT NULL DEFAULT 'signed',
	`nonce` bigint unsigned NOT NULL,
	`tx_hash` varchar(66) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
	`raw_tx` mediumtext CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
	`max_fee_per_gas` decimal(65,0),
	`max_priority_fee_per_gas` decimal(65,0),
	`gas_price` decimal(65,0),
	`created_at` timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP,
	`updated_at` timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
	`sent_at` datetime(3),
	CONSTRAINT `tx_request_hashes_id` PRIMARY KEY(`id`),
	CONSTRAINT `tx_request_hashes_tx_hash_uq` UNIQUE(`tx_hash`),
	CONSTRAINT `tx_request_hashes_tx_hash_ck` CHECK(`tx_hash` REGEXP '^0x[0-9a-f]{64}$'),
	CONSTRAINT `tx_request_hashes_raw_tx_ck` CHECK(`raw_tx` REGEXP '^0x[0-9a-f]+$' AND CHAR_LENGTH(`raw_tx`) % 2 = 0)
);
--> statement-breakpoint
CREATE TABLE `tx_requests` (
	`id` char(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
	`user_id` bigint,
	`idempotency_key` varchar(128) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
	`idempotency_scope` bigint GENERATED ALWAYS AS (ifnull(`user_id`, 0)) STORED,
	`kind` enum('issue','revoke','grant_issuer','revoke_issuer','approve','list','cancel','buy','withdraw','eth_transfer','token_transfer','noop') NOT NULL,
	`payload` json NOT NULL,
	`from_address` varchar(42) CHARACTER SET ascii COLLATE ascii_bin,
	`to_address` varchar(42) CHARACTER SET ascii COLLATE ascii_bin,
	`nonce` bigint unsigned,
	`raw_tx` mediumtext CHARACTER SET ascii COLLATE ascii_bin,
	`tx_hash` varchar(66) CHARACTER SET ascii COLLATE ascii_bin,
	`status` enum('queued','signed','sent','mined','confirmed','failed','replaced','cancelled') NOT NULL DEFAULT 'queued',
	`error_code` varchar(100),
	`error_message` text,
	`attempts` int unsigned NOT NULL DEFAULT 0,
	`block_number` bigint unsigned,
	`block_hash` varchar(66) CHARACTER SET ascii COLLATE ascii_bin,
	`created_at` timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP,
	`updated_at` timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
	`sent_at` datetime(3),
	`confirmed_at` datetime(3),
	CONSTRAINT `tx_requests_id` PRIMARY KEY(`id`),
	CONSTRAINT `tx_requests_idempotency_uq` UNIQUE(`idempotency_scope`,`idempotency_key`),
	CONSTRAINT `tx_requests_from_address_nonce_uq` UNIQUE(`from_address`,`nonce`),
	CONSTRAINT `tx_requests_id_ck` CHECK(`id` REGEXP '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'),
	CONSTRAINT `tx_requests_from_address_ck` CHECK(`from_address` REGEXP '^0x[0-9a-f]{40}$'),
	CONSTRAINT `tx_requests_to_address_ck` CHECK(`to_address` REGEXP '^0x[0-9a-f]{40}$'),
	CONSTRAINT `tx_requests_raw_tx_ck` CHECK(`raw_tx` REGEXP '^0x[0-9a-f]+$' AND CHAR_LENGTH(`raw_tx`) % 2 = 0),
	CONSTRAINT `tx_requests_tx_hash_ck` CHECK(`tx_hash` REGEXP '^0x[0-9a-f]{64}$'),
	CONSTRAINT `tx_requests_block_hash_ck` CHECK(`block_hash` REGEXP '^0x[0-9a-f]{64}$')
);
--> statement-breakpoint
CREATE TABLE `wallet_nonces` (
	`address` varchar(42) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
	`next_nonce` bigint unsigned NOT NULL DEFAULT 0,
	`lease_owner` varchar(128) CHARACTER SET ascii COLLATE ascii_bin,
	`lease_token` bigint unsigned NOT NULL DEFAULT 0,
	`lease_expires_at` datetime(3),
	`updated_at` timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
	CONSTRAINT `wallet_nonces_address` PRIMARY KEY(`address`),
	CONSTRAINT `wallet_nonces_address_ck` CHECK(`address` REGEXP '^0x[0-9a-f]{40}$')
);
--> statement-breakpoint
CREATE TABLE `users` (
	`id` bigint AUTO_INCREMENT NOT NULL,
	`username` varchar(50) NOT NULL,
	`password_hash` varchar(255) NOT NULL,
	`email` varchar(100) NOT NULL,
	`wallet_address` varchar(42) CHARACTER SET ascii COLLATE ascii_bin,
	`created_at` timestamp DEFAULT CURRENT_TIMESTAMP,
	`updated_at` timestamp DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
	`role` enum('user','issuer','admin') NOT NULL DEFAULT 'user',
	`external_address` varchar(42) CHARACTER SET ascii COLLATE ascii_bin,
	CONSTRAINT `users_id` PRIMARY KEY(`id`),
	CONSTRAINT `users_username_uq` UNIQUE(`username`),
	CONSTRAINT `users_email_uq` UNIQUE(`email`),
	CONSTRAINT `users_external_address_uq` UNIQUE(`external_address`),
	CONSTRAINT `users_wallet_address_ck` CHECK(`wallet_address` REGEXP '^0x[0-9a-f]{40}$'),
	CONSTRAINT `users_external_address_ck` CHECK(`external_address` REGEXP '^0x[0-9a-f]{40}$')
);
--> statement-breakpoint
CREATE TABLE `wallets` (
	`id` bigint AUTO_INCREMENT NOT NULL,
	`user_id` bigint NOT NULL,
	`address` varchar(42) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
	`encrypted_private_key` varbinary(64) NOT NULL,
	`iv` varbinary(12) NOT NULL,
	`auth_tag` varbinary(16) NOT NULL,
	`key_version` int unsigned NOT NULL,
	`created_at` timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP,
	`updated_at` timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
	CONSTRAINT `wallets_id` PRIMARY KEY(`id`),
	CONSTRAINT `wallets_address_uq` UNIQUE(`address`),
	CONSTRAINT `wallets_user_id_uq` UNIQUE(`user_id`),
	CONSTRAINT `wallets_address_ck` CHECK(`address` REGEXP '^0x[0-9a-f]{40}$')
);
--> statement-breakpoint
ALTER TABLE `sessions` ADD CONSTRAINT `sessions_user_id_fk` FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE `transactions` ADD CONSTRAINT `transactions_tx_request_id_fk` FOREIGN KEY (`tx_request_id`) REFERENCES `tx_requests`(`id`) ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE `tx_request_hashes` ADD CONSTRAINT `tx_request_hashes_tx_request_id_fk` FOREIGN KEY (`tx_request_id`) REFERENCES `tx_requests`(`id`) ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE `tx_requests` ADD CONSTRAINT `tx_requests_user_id_fk` FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
ALTER TABLE `wallets` ADD CONSTRAINT `wallets_user_id_fk` FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
CREATE INDEX `certificates_owner_token_idx` ON `certificates` (`owner_address`,`token_id`);--> statement-breakpoint
CREATE INDEX `certificates_issuer_token_idx` ON `certificates` (`issuer_address`,`token_id`);--> statement-breakpoint
CREATE INDEX `certificates_status_token_idx` ON `certificates` (`status`,`token_id`);--> statement-breakpoint
CREATE INDEX `indexer_undo_log_chain_id_block_number_idx` ON `indexer_undo_log` (`chain_id`,`block_number`);--> statement-breakpoint
CREATE INDEX `listings_status_price_idx` ON `listings` (`status`,`price`,`listing_id`);--> statement-breakpoint
CREATE INDEX `listings_status_currency_price_idx` ON `listings` (`status`,`currency_address`,`price`,`listing_id`);--> statement-breakpoint
CREATE INDEX `listings_status_listing_id_idx` ON `listings` (`status`,`listing_id`);--> statement-breakpoint
CREATE INDEX `listings_seller_listing_id_idx` ON `listings` (`seller_address`,`listing_id`);--> statement-breakpoint
CREATE INDEX `listings_token_status_idx` ON `listings` (`token_id`,`status`);--> statement-breakpoint
CREATE INDEX `sessions_user_id_idx` ON `sessions` (`user_id`);--> statement-breakpoint
CREATE INDEX `sessions_expires_at_idx` ON `sessions` (`expires_at`);--> statement-breakpoint
CREATE INDEX `transactions_from_address_id_idx` ON `transactions` (`from_address`,`id`);--> statement-breakpoint
CREATE INDEX `transactions_to_address_id_idx` ON `transactions` (`to_address`,`id`);--> statement-breakpoint
CREATE INDEX `transactions_block_number_idx` ON `transactions` (`block_number`);--> statement-breakpoint
CREATE INDEX `transactions_tx_request_id_idx` ON `transactions` (`tx_request_id`);--> statement-breakpoint
CREATE INDEX `tx_request_hashes_tx_request_id_idx` ON `tx_request_hashes` (`tx_request_id`,`id`);--> statement-breakpoint
CREATE INDEX `tx_requests_status_updated_at_idx` ON `tx_requests` (`status`,`updated_at`);--> statement-breakpoint
CREATE INDEX `tx_requests_user_id_id_idx` ON `tx_requests` (`user_id`,`id`);--> statement-breakpoint
CREATE INDEX `users_wallet_address_idx` ON `users` (`wallet_address`);