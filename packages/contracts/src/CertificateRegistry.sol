// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {
    AccessControlDefaultAdminRules
} from "@openzeppelin/contracts/access/extensions/AccessControlDefaultAdminRules.sol";
import {IERC165} from "@openzeppelin/contracts/interfaces/IERC165.sol";
import {IERC4906} from "@openzeppelin/contracts/interfaces/IERC4906.sol";
import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";

/// @title certchain certificates
/// @notice Each certificate is an ERC-721 token whose metadata lives on IPFS (`tokenURI` is `ipfs://<cid>`).
/// Accounts holding `ISSUER_ROLE` issue certificates; the issuer of a certificate, or an admin, can revoke it.
/// @dev Revocation follows the Ethereum Attestation Service model: the record is kept with its revocation time, so
/// anyone can still prove what was issued, by whom, and when it stopped being valid. Revoked tokens are never
/// burned, but they are frozen: they cannot be transferred, so a revoked certificate cannot be passed on or sold
/// as if it were good on any marketplace, not only ours. Expired certificates stay transferable (they are a
/// historical record, not a withdrawn one).
contract CertificateRegistry is IERC4906, ERC721, AccessControlDefaultAdminRules {
    /// @notice One certificate. Times are unix seconds; `expiresAt == 0` means it never expires and
    /// `revokedAt == 0` means it has not been revoked.
    /// @dev `transferCount` counts ownership changes (the mint included). It shares a storage slot with
    /// `expiresAt` and `revokedAt`, which every transfer reads anyway, so a transfer pays only for re-writing a warm
    /// slot. The marketplace snapshots it to tell a listing made before a token left and came back from a fresh one.
    struct Certificate {
        address issuer;
        uint64 issuedAt;
        uint64 expiresAt;
        uint64 revokedAt;
        uint64 transferCount;
        string cid;
    }

    bytes32 public constant ISSUER_ROLE = keccak256("ISSUER_ROLE");

    /// @dev ERC-4906 fixes this id by convention: its interface adds only events, so `type(IERC4906).interfaceId`
    /// would be zero.
    bytes4 private constant ERC4906_INTERFACE_ID = 0x49064906;

    /// @notice Wait before a newly proposed default admin can take over, giving the current one time to cancel a
    /// mistaken or malicious hand-over.
    uint48 public constant ADMIN_TRANSFER_DELAY = 2 days;

    /// @notice Number of certificates issued so far; token ids run from 1 to this value, so 0 is never a token.
    uint256 public totalIssued;

    mapping(uint256 tokenId => Certificate) private _certificates;

    event CertificateIssued(
        uint256 indexed tokenId, address indexed issuer, address indexed to, string cid, uint64 expiresAt
    );
    event CertificateRevoked(uint256 indexed tokenId, address indexed revokedBy, string reason);

    error EmptyCid();
    error ExpiryInPast(uint64 expiresAt, uint256 currentTime);
    error UnknownCertificate(uint256 tokenId);
    /// @notice The caller is neither the certificate's issuer nor a default admin.
    error NotIssuer(uint256 tokenId, address account);
    error AlreadyRevoked(uint256 tokenId);
    error RevokedCertificateNotTransferable(uint256 tokenId);

    constructor(address admin)
        ERC721("certchain Certificate", "CERT")
        AccessControlDefaultAdminRules(ADMIN_TRANSFER_DELAY, admin)
    {}

    /// @notice Issues a certificate to `to`.
    /// @param cid IPFS content id of the certificate's metadata JSON.
    /// @param expiresAt Expiry as unix seconds, in the future; 0 for a certificate that never expires.
    /// @dev Uses `_mint`, not `_safeMint`: the recipient gets no callback, so issuing never hands control to
    /// another contract. Issuing to a contract that cannot handle ERC-721 tokens is the issuer's responsibility.
    function issue(address to, string calldata cid, uint64 expiresAt)
        external
        onlyRole(ISSUER_ROLE)
        returns (uint256 tokenId)
    {
        if (bytes(cid).length == 0) revert EmptyCid();
        // Validators can skew timestamps by seconds; certificate expiry is not that precise.
        // forge-lint: disable-next-line(block-timestamp)
        if (expiresAt != 0 && expiresAt <= block.timestamp) revert ExpiryInPast(expiresAt, block.timestamp);

        tokenId = ++totalIssued;
        _certificates[tokenId] = Certificate({
            issuer: msg.sender,
            issuedAt: uint64(block.timestamp),
            expiresAt: expiresAt,
            revokedAt: 0,
            transferCount: 0,
            cid: cid
        });
        _mint(to, tokenId);
        emit CertificateIssued(tokenId, msg.sender, to, cid, expiresAt);
    }

    /// @notice Revokes a certificate for good. The token stays with its holder, frozen, as a public record.
    /// @dev Open to the certificate's own issuer, not to every `ISSUER_ROLE` holder (one issuer must not withdraw
    /// another's certificates), and still open to it after its role is revoked, so a departing issuer can always
    /// withdraw what it issued. Default admins can revoke anything, e.g. after an issuer's key leaked.
    function revoke(uint256 tokenId, string calldata reason) external {
        Certificate storage certificate_ = _existing(tokenId);
        if (msg.sender != certificate_.issuer && !hasRole(DEFAULT_ADMIN_ROLE, msg.sender)) {
            revert NotIssuer(tokenId, msg.sender);
        }
        if (certificate_.revokedAt != 0) revert AlreadyRevoked(tokenId);

        certificate_.revokedAt = uint64(block.timestamp);
        emit CertificateRevoked(tokenId, msg.sender, reason);
        emit MetadataUpdate(tokenId);
    }

    /// @notice The whole record of an issued certificate.
    function certificate(uint256 tokenId) external view returns (Certificate memory) {
        return _existing(tokenId);
    }

    function issuerOf(uint256 tokenId) external view returns (address) {
        return _existing(tokenId).issuer;
    }

    function isRevoked(uint256 tokenId) external view returns (bool) {
        return _existing(tokenId).revokedAt != 0;
    }

    /// @notice Number of ownership changes of the token, its mint included.
    function transferCount(uint256 tokenId) external view returns (uint64) {
        return _existing(tokenId).transferCount;
    }

    /// @notice True when the certificate exists, has not been revoked and has not expired. This is the one check
    /// verifiers and the marketplace rely on; unlike the other views it answers false for unknown ids instead of
    /// reverting, so a verifier can ask about any id.
    function isValid(uint256 tokenId) external view returns (bool) {
        Certificate storage certificate_ = _certificates[tokenId];
        // forge-lint: disable-next-line(block-timestamp)
        bool expired = certificate_.expiresAt != 0 && block.timestamp >= certificate_.expiresAt;
        return certificate_.issuer != address(0) && certificate_.revokedAt == 0 && !expired;
    }

    /// @notice `ipfs://<cid>`. It does not change on revocation; `MetadataUpdate` tells indexers and wallets to
    /// re-read the certificate's status.
    function tokenURI(uint256 tokenId) public view override returns (string memory) {
        _requireOwned(tokenId);
        return string.concat("ipfs://", _certificates[tokenId].cid);
    }

    function supportsInterface(bytes4 interfaceId)
        public
        view
        override(IERC165, ERC721, AccessControlDefaultAdminRules)
        returns (bool)
    {
        return interfaceId == ERC4906_INTERFACE_ID || super.supportsInterface(interfaceId);
    }

    /// @dev Every mint and transfer passes here: revoked certificates are frozen, and ownership changes counted.
    function _update(address to, uint256 tokenId, address auth) internal override returns (address) {
        Certificate storage certificate_ = _certificates[tokenId];
        if (certificate_.revokedAt != 0) revert RevokedCertificateNotTransferable(tokenId);
        ++certificate_.transferCount;
        return super._update(to, tokenId, auth);
    }

    function _existing(uint256 tokenId) private view returns (Certificate storage certificate_) {
        certificate_ = _certificates[tokenId];
        if (certificate_.issuer == address(0)) revert UnknownCertificate(tokenId);
    }
}
