// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {CertificateRegistry} from "../../src/CertificateRegistry.sol";
import {Marketplace} from "../../src/Marketplace.sol";
import {PaymentToken} from "../../src/PaymentToken.sol";
import {Test} from "./Test.sol";

/// @notice The platform as deployed (registry, marketplace allowing ETH and the payment token, one issuer) and the
/// people who use it, with helpers named after what they do.
abstract contract Fixture is Test {
    /// @dev A realistic clock: forge starts at timestamp 1, where "in the past" has no room.
    uint64 internal constant START = 1_750_000_000;
    uint16 internal constant FEE_BPS = 250;
    string internal constant CID = "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy";
    uint256 internal constant PRICE = 1 ether;

    address internal admin = makeAddr("admin");
    address internal issuer = makeAddr("issuer");
    address internal feeRecipient = makeAddr("feeRecipient");
    address internal alice = makeAddr("alice");
    address internal bob = makeAddr("bob");
    address internal carol = makeAddr("carol");

    CertificateRegistry internal registry;
    Marketplace internal market;
    PaymentToken internal token;
    address internal eth;

    function setUp() public virtual {
        vm.warp(START);
        registry = new CertificateRegistry(admin);
        market = new Marketplace(registry, admin, feeRecipient, FEE_BPS);
        token = new PaymentToken(admin);
        eth = market.ETH();
        vm.startPrank(admin);
        registry.grantRole(registry.ISSUER_ROLE(), issuer);
        market.setCurrencyAllowed(address(token), true);
        vm.stopPrank();
    }

    function issue(address to) internal returns (uint256 tokenId) {
        return issue(to, 0);
    }

    function issue(address to, uint64 expiresAt) internal returns (uint256 tokenId) {
        vm.prank(issuer);
        return registry.issue(to, CID, expiresAt);
    }

    /// @notice `seller` approves the marketplace for all its certificates and lists `tokenId`.
    function listForSale(address seller, uint256 tokenId, address currency, uint256 price)
        internal
        returns (uint256 listingId)
    {
        vm.startPrank(seller);
        registry.setApprovalForAll(address(market), true);
        listingId = market.list(tokenId, currency, price);
        vm.stopPrank();
    }

    /// @notice Issues a certificate to `seller` and lists it.
    function issueAndList(address seller, address currency, uint256 price)
        internal
        returns (uint256 tokenId, uint256 listingId)
    {
        tokenId = issue(seller);
        listingId = listForSale(seller, tokenId, currency, price);
    }

    /// @notice `buyer` pays for `listingId` with exactly the right funds: ETH sent along, or tokens minted and
    /// approved.
    function buyListing(address buyer, uint256 listingId) internal {
        Marketplace.Listing memory listing = market.listing(listingId);
        if (listing.currency == eth) {
            vm.deal(buyer, listing.price);
            vm.prank(buyer);
            market.buy{value: listing.price}(listingId, listing.price);
        } else {
            fundTokens(buyer, listing.price);
            vm.prank(buyer);
            market.buy(listingId, listing.price);
        }
    }

    /// @notice Mints `amount` payment tokens to `account` and approves the marketplace to take them.
    function fundTokens(address account, uint256 amount) internal {
        vm.prank(admin);
        token.mint(account, amount);
        vm.prank(account);
        token.approve(address(market), amount);
    }
}
