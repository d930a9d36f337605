// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {
    IAccessControlDefaultAdminRules
} from "@openzeppelin/contracts/access/extensions/IAccessControlDefaultAdminRules.sol";
import {IERC165} from "@openzeppelin/contracts/interfaces/IERC165.sol";
import {IERC721} from "@openzeppelin/contracts/interfaces/IERC721.sol";
import {IERC721Metadata} from "@openzeppelin/contracts/interfaces/IERC721Metadata.sol";
import {IERC721Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";
import {CertificateRegistry} from "../src/CertificateRegistry.sol";
import {Fixture} from "./utils/Fixture.sol";

contract CertificateRegistryTest is Fixture {
    event Transfer(address indexed from, address indexed to, uint256 indexed tokenId);
    event MetadataUpdate(uint256 _tokenId);
    event CertificateIssued(
        uint256 indexed tokenId, address indexed issuer, address indexed to, string cid, uint64 expiresAt
    );
    event CertificateRevoked(uint256 indexed tokenId, address indexed revokedBy, string reason);

    function test_constructor_setsMetadataAndAdmin() public view {
        vm.assertEq(registry.name(), "certchain Certificate", "name");
        vm.assertEq(registry.symbol(), "CERT", "symbol");
        vm.assertEq(registry.defaultAdmin(), admin, "default admin");
        vm.assertEq(registry.defaultAdminDelay(), registry.ADMIN_TRANSFER_DELAY(), "admin delay");
        vm.assertEq(registry.totalIssued(), 0, "nothing issued");
    }

    function test_supportsInterface() public view {
        vm.assertTrue(registry.supportsInterface(0x49064906), "ERC-4906");
        vm.assertTrue(registry.supportsInterface(type(IERC721).interfaceId), "ERC-721");
        vm.assertTrue(registry.supportsInterface(type(IERC721Metadata).interfaceId), "ERC-721 metadata");
        vm.assertTrue(registry.supportsInterface(type(IERC165).interfaceId), "ERC-165");
        vm.assertTrue(registry.supportsInterface(type(IAccessControl).interfaceId), "access control");
        vm.assertTrue(
            registry.supportsInterface(type(IAccessControlDefaultAdminRules).interfaceId), "default admin rules"
        );
        vm.assertFalse(registry.supportsInterface(0xffffffff), "ERC-165 invalid id");
    }

    function test_issue_mintsSequentialIdsAndStoresTheRecord() public {
        uint64 expiresAt = START + 365 days;
        uint256 first = issue(alice);
        uint256 second = issue(bob, expiresAt);

        vm.assertEq(first, 1, "ids start at 1");
        vm.assertEq(second, 2, "ids are sequential");
        vm.assertEq(registry.totalIssued(), 2, "total issued");
        vm.assertEq(registry.ownerOf(second), bob, "owner");
        CertificateRegistry.Certificate memory record = registry.certificate(second);
        vm.assertEq(record.issuer, issuer, "issuer");
        vm.assertEq(record.cid, CID, "cid");
        vm.assertEq(record.issuedAt, START, "issued at");
        vm.assertEq(record.expiresAt, expiresAt, "expires at");
        vm.assertEq(record.revokedAt, 0, "not revoked");
        vm.assertEq(record.transferCount, 1, "the mint is the first ownership change");
    }

    function test_issue_emitsTransferThenCertificateIssued() public {
        uint64 expiresAt = START + 1 days;
        vm.expectEmit(address(registry));
        emit Transfer(address(0), alice, 1);
        vm.expectEmit(address(registry));
        emit CertificateIssued(1, issuer, alice, CID, expiresAt);
        issue(alice, expiresAt);
    }

    function test_issue_revertsForAccountsWithoutIssuerRole() public {
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, alice, registry.ISSUER_ROLE()
            )
        );
        vm.prank(alice);
        registry.issue(alice, CID, 0);
    }

    function test_issue_revertsOnZeroRecipient() public {
        vm.expectRevert(abi.encodeWithSelector(IERC721Errors.ERC721InvalidReceiver.selector, address(0)));
        vm.prank(issuer);
        registry.issue(address(0), CID, 0);
    }

    function test_issue_revertsOnEmptyCid() public {
        vm.expectRevert(CertificateRegistry.EmptyCid.selector);
        vm.prank(issuer);
        registry.issue(alice, "", 0);
    }

    function test_issue_revertsOnExpiryInPastOrNow() public {
        vm.expectRevert(abi.encodeWithSelector(CertificateRegistry.ExpiryInPast.selector, START, START));
        vm.prank(issuer);
        registry.issue(alice, CID, START);
    }

    function testFuzz_issue_acceptsExactlyFutureOrNoExpiry(uint64 expiresAt) public {
        bool accepted = expiresAt == 0 || expiresAt > START;
        if (!accepted) {
            vm.expectRevert(abi.encodeWithSelector(CertificateRegistry.ExpiryInPast.selector, expiresAt, START));
        }
        vm.prank(issuer);
        registry.issue(alice, CID, expiresAt);
        if (accepted) vm.assertTrue(registry.isValid(1), "a fresh certificate is valid");
    }

    function test_grantRole_letsAdminsAddIssuers() public {
        bytes32 issuerRole = registry.ISSUER_ROLE();
        vm.prank(admin);
        registry.grantRole(issuerRole, alice);
        vm.prank(alice);
        registry.issue(bob, CID, 0);
        vm.assertEq(registry.issuerOf(1), alice, "alice issued it");
    }

    function test_grantRole_revertsForNonAdmins() public {
        bytes32 issuerRole = registry.ISSUER_ROLE();
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, issuer, registry.DEFAULT_ADMIN_ROLE()
            )
        );
        vm.prank(issuer);
        registry.grantRole(issuerRole, alice);
    }

    function test_revoke_byIssuerKeepsTheTokenAndEmits() public {
        uint256 tokenId = issue(alice);
        vm.warp(START + 10);
        vm.expectEmit(address(registry));
        emit CertificateRevoked(tokenId, issuer, "issued in error");
        vm.expectEmit(address(registry));
        emit MetadataUpdate(tokenId);
        vm.prank(issuer);
        registry.revoke(tokenId, "issued in error");

        vm.assertTrue(registry.isRevoked(tokenId), "revoked");
        vm.assertFalse(registry.isValid(tokenId), "no longer valid");
        vm.assertEq(registry.certificate(tokenId).revokedAt, START + 10, "revocation time");
        vm.assertEq(registry.ownerOf(tokenId), alice, "not burned");
    }

    function test_revoke_byAdmin() public {
        uint256 tokenId = issue(alice);
        vm.prank(admin);
        registry.revoke(tokenId, "issuer key leaked");
        vm.assertTrue(registry.isRevoked(tokenId), "revoked");
    }

    function test_revoke_byIssuerAfterItLostTheRole() public {
        uint256 tokenId = issue(alice);
        bytes32 issuerRole = registry.ISSUER_ROLE();
        vm.prank(admin);
        registry.revokeRole(issuerRole, issuer);
        vm.prank(issuer);
        registry.revoke(tokenId, "withdrawn");
        vm.assertTrue(registry.isRevoked(tokenId), "revoked");
    }

    function test_revoke_revertsForAnotherIssuer() public {
        uint256 tokenId = issue(alice);
        bytes32 issuerRole = registry.ISSUER_ROLE();
        vm.prank(admin);
        registry.grantRole(issuerRole, bob);
        vm.expectRevert(abi.encodeWithSelector(CertificateRegistry.NotIssuer.selector, tokenId, bob));
        vm.prank(bob);
        registry.revoke(tokenId, "not mine");
    }

    function test_revoke_revertsForTheHolder() public {
        uint256 tokenId = issue(alice);
        vm.expectRevert(abi.encodeWithSelector(CertificateRegistry.NotIssuer.selector, tokenId, alice));
        vm.prank(alice);
        registry.revoke(tokenId, "");
    }

    function test_revoke_revertsWhenAlreadyRevoked() public {
        uint256 tokenId = issue(alice);
        vm.startPrank(issuer);
        registry.revoke(tokenId, "first");
        vm.expectRevert(abi.encodeWithSelector(CertificateRegistry.AlreadyRevoked.selector, tokenId));
        registry.revoke(tokenId, "second");
        vm.stopPrank();
    }

    function test_revoke_revertsForUnknownCertificate() public {
        vm.expectRevert(abi.encodeWithSelector(CertificateRegistry.UnknownCertificate.selector, 1));
        vm.prank(admin);
        registry.revoke(1, "");
    }

    function test_revoke_worksOnExpiredCertificates() public {
        uint256 tokenId = issue(alice, START + 1);
        vm.warp(START + 2);
        vm.prank(issuer);
        registry.revoke(tokenId, "fraud found later");
        vm.assertTrue(registry.isRevoked(tokenId), "revoked");
    }

    function test_views_revertForUnknownCertificates() public {
        bytes memory unknown = abi.encodeWithSelector(CertificateRegistry.UnknownCertificate.selector, 7);
        vm.expectRevert(unknown);
        registry.certificate(7);
        vm.expectRevert(unknown);
        registry.issuerOf(7);
        vm.expectRevert(unknown);
        registry.isRevoked(7);
        vm.expectRevert(unknown);
        registry.transferCount(7);
        vm.expectRevert(abi.encodeWithSelector(IERC721Errors.ERC721NonexistentToken.selector, 7));
        registry.tokenURI(7);
    }

    function test_views_describeTheCertificate() public {
        uint256 tokenId = issue(alice);
        vm.assertEq(registry.issuerOf(tokenId), issuer, "issuerOf");
        vm.assertFalse(registry.isRevoked(tokenId), "isRevoked");
        vm.assertEq(registry.tokenURI(tokenId), string.concat("ipfs://", CID), "tokenURI");
        vm.assertEq(registry.transferCount(tokenId), 1, "transferCount");
    }

    function test_isValid_isFalseForUnknownIds() public view {
        vm.assertFalse(registry.isValid(0), "token 0 never exists");
        vm.assertFalse(registry.isValid(1), "not issued yet");
    }

    function test_isValid_endsAtExpiry() public {
        uint256 tokenId = issue(alice, START + 100);
        vm.warp(START + 99);
        vm.assertTrue(registry.isValid(tokenId), "valid before expiry");
        vm.warp(START + 100);
        vm.assertFalse(registry.isValid(tokenId), "expired at expiresAt");
    }

    function testFuzz_isValid_tracksExpiry(uint32 lifetime, uint32 elapsed) public {
        vm.assume(lifetime > 0);
        uint256 tokenId = issue(alice, START + lifetime);
        vm.warp(START + elapsed);
        vm.assertEq(registry.isValid(tokenId), elapsed < lifetime, "valid exactly until expiry");
    }

    function test_transfer_countsOwnershipChanges() public {
        uint256 tokenId = issue(alice);
        vm.prank(alice);
        registry.transferFrom(alice, bob, tokenId);
        vm.prank(bob);
        registry.safeTransferFrom(bob, alice, tokenId);
        vm.assertEq(registry.transferCount(tokenId), 3, "mint and two transfers");
    }

    function test_transfer_revertsForRevokedCertificates() public {
        uint256 tokenId = issue(alice);
        vm.prank(issuer);
        registry.revoke(tokenId, "revoked");
        bytes memory frozen =
            abi.encodeWithSelector(CertificateRegistry.RevokedCertificateNotTransferable.selector, tokenId);
        vm.startPrank(alice);
        vm.expectRevert(frozen);
        registry.transferFrom(alice, bob, tokenId);
        vm.expectRevert(frozen);
        registry.safeTransferFrom(alice, bob, tokenId);
        vm.stopPrank();
    }

    function test_transfer_staysOpenForExpiredCertificates() public {
        uint256 tokenId = issue(alice, START + 1);
        vm.warp(START + 1);
        vm.prank(alice);
        registry.transferFrom(alice, bob, tokenId);
        vm.assertEq(registry.ownerOf(tokenId), bob, "moved");
    }

    function test_defaultAdminTransfer_waitsForTheDelay() public {
        vm.prank(admin);
        registry.beginDefaultAdminTransfer(alice);
        (, uint48 acceptSchedule) = registry.pendingDefaultAdmin();
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControlDefaultAdminRules.AccessControlEnforcedDefaultAdminDelay.selector, acceptSchedule
            )
        );
        vm.prank(alice);
        registry.acceptDefaultAdminTransfer();

        vm.warp(uint256(acceptSchedule) + 1);
        vm.prank(alice);
        registry.acceptDefaultAdminTransfer();
        vm.assertEq(registry.defaultAdmin(), alice, "alice is admin after the delay");
    }
}
