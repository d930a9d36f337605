CREATE TABLE `certificate_documents` (
	`id` bigint AUTO_INCREMENT NOT NULL,
	`document_cid` varchar(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
	`metadata_cid` varchar(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
	`document_sha256` varchar(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
	`created_at` timestamp DEFAULT CURRENT_TIMESTAMP,
	CONSTRAINT `certificate_documents_id` PRIMARY KEY(`id`),
	CONSTRAINT `certificate_documents_document_metadata_uq` UNIQUE(`document_cid`,`metadata_cid`),
	CONSTRAINT `certificate_documents_document_sha256_ck` CHECK(`document_sha256` REGEXP '^[0-9a-f]{64}$')
);
--> statement-breakpoint
ALTER TABLE `tx_requests` ADD `depends_on` char(36) CHARACTER SET ascii COLLATE ascii_bin;--> statement-breakpoint
CREATE INDEX `certificate_documents_metadata_cid_idx` ON `certificate_documents` (`metadata_cid`);--> statement-breakpoint
ALTER TABLE `tx_requests` ADD CONSTRAINT `tx_requests_depends_on_fk` FOREIGN KEY (`depends_on`) REFERENCES `tx_requests`(`id`) ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
CREATE INDEX `certificates_ipfs_hash_idx` ON `certificates` (`ipfs_hash`);--> statement-breakpoint
CREATE INDEX `tx_requests_depends_on_idx` ON `tx_requests` (`depends_on`);