// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {CertificateRegistry} from "../../src/CertificateRegistry.sol";
import {Marketplace} from "../../src/Marketplace.sol";
import {PaymentToken} from "../../src/PaymentToken.sol";
import {Test} from "../utils/Test.sol";

/// @notice Drives the marketplace the way its users and admins can: issuing, listing, cancelling, buying and
/// withdrawing in ETH and in the payment token, and, around that, everything that turns listings stale or invalid
/// (transfers, approvals withdrawn, revocations, expiry, currencies disallowed), plus stray token donations.
/// @dev Each action first works out from the contracts' state whether the call must succeed or which error it must
/// revert with, and tells forge (`expectRevert`), so the run fails on any unexpected outcome, not only on a broken
/// invariant.
contract MarketplaceHandler is Test {
    uint256 private constant MAX_PRICE = 1e24;

    CertificateRegistry private immutable registry;
    Marketplace private immutable market;
    PaymentToken private immutable token;
    address private immutable admin;
    address private immutable issuer;
    address private immutable eth;

    /// @notice Everyone who can be owed proceeds: the traders, then the fee recipient.
    address[] public payees;
    uint256 private immutable traderCount;

    /// @notice Payment tokens sent straight to the marketplace, outside any sale (it owes nobody for them).
    uint256 public tokensDonated;
    uint256 public sales;

    constructor(
        CertificateRegistry registry_,
        Marketplace market_,
        PaymentToken token_,
        address admin_,
        address issuer_,
        address[] memory traders
    ) {
        (registry, market, token, admin, issuer) = (registry_, market_, token_, admin_, issuer_);
        eth = market_.ETH();
        payees = traders;
        payees.push(market_.feeRecipient());
        traderCount = traders.length;
    }

    function payeeCount() external view returns (uint256) {
        return payees.length;
    }

    function issue(uint256 traderSeed, uint256 lifetime) external {
        lifetime = bound(lifetime, 0, 30 days);
        // forge-lint: disable-next-line(unsafe-typecast)
        uint64 expiresAt = lifetime == 0 ? 0 : uint64(block.timestamp + lifetime);
        vm.prank(issuer);
        registry.issue(trader(traderSeed), "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy", expiresAt);
    }

    function list(uint256 tokenSeed, bool inToken, uint256 price) external {
        if (registry.totalIssued() == 0) return;
        uint256 tokenId = bound(tokenSeed, 1, registry.totalIssued());
        address owner = registry.ownerOf(tokenId);
        address currency = inToken ? address(token) : eth;
        price = bound(price, 1, MAX_PRICE);

        vm.startPrank(owner);
        registry.setApprovalForAll(address(market), true);
        if (!registry.isValid(tokenId)) {
            vm.expectRevert(abi.encodeWithSelector(Marketplace.CertificateNotValid.selector, tokenId));
        } else if (!market.isCurrencyAllowed(currency)) {
            vm.expectRevert(abi.encodeWithSelector(Marketplace.CurrencyNotAllowed.selector, currency));
        }
        market.list(tokenId, currency, price);
        vm.stopPrank();
    }

    function cancel(uint256 listingSeed, bool byCurrentOwner) external {
        if (market.totalListings() == 0) return;
        uint256 listingId = bound(listingSeed, 1, market.totalListings());
        Marketplace.Listing memory listing = market.listing(listingId);
        address caller = byCurrentOwner ? registry.ownerOf(listing.tokenId) : listing.seller;
        if (listing.status != Marketplace.ListingStatus.Active) {
            vm.expectRevert(abi.encodeWithSelector(Marketplace.ListingNotActive.selector, listingId));
        }
        vm.prank(caller);
        market.cancel(listingId);
    }

    /// @dev Mostly picks a token's current listing, so that enough sales go through; falls back to any listing
    /// (sold, cancelled or superseded ones included) when the token has none.
    function buy(uint256 listingSeed, uint256 buyerSeed) external {
        if (market.totalListings() == 0) return;
        uint256 listingId = market.activeListingOf(bound(listingSeed, 1, registry.totalIssued()));
        if (listingId == 0) listingId = bound(listingSeed, 1, market.totalListings());
        Marketplace.Listing memory listing = market.listing(listingId);
        address buyer = trader(buyerSeed);
        if (buyer == listing.seller) buyer = trader(buyerSeed % traderCount + 1);

        bool inEth = listing.currency == eth;
        if (inEth) {
            vm.deal(buyer, listing.price);
        } else {
            vm.prank(admin);
            token.mint(buyer, listing.price);
            vm.prank(buyer);
            token.approve(address(market), listing.price);
        }
        expectBuyOutcome(listingId, listing);
        vm.prank(buyer);
        market.buy{value: inEth ? listing.price : 0}(listingId, listing.price);
    }

    function withdraw(uint256 payeeSeed, bool inToken) external {
        address payee = payees[bound(payeeSeed, 0, payees.length - 1)];
        address currency = inToken ? address(token) : eth;
        uint256 owed = market.proceeds(payee, currency);
        uint256 balanceBefore = inToken ? token.balanceOf(payee) : payee.balance;
        if (owed == 0) {
            vm.expectRevert(abi.encodeWithSelector(Marketplace.NothingToWithdraw.selector, payee, currency));
        }
        vm.prank(payee);
        market.withdraw(currency);
        uint256 balanceAfter = inToken ? token.balanceOf(payee) : payee.balance;
        vm.assertEq(balanceAfter - balanceBefore, owed, "withdraw pays exactly what is owed");
    }

    function transfer(uint256 tokenSeed, uint256 recipientSeed) external {
        if (registry.totalIssued() == 0) return;
        uint256 tokenId = bound(tokenSeed, 1, registry.totalIssued());
        address owner = registry.ownerOf(tokenId);
        if (registry.isRevoked(tokenId)) {
            vm.expectRevert(
                abi.encodeWithSelector(CertificateRegistry.RevokedCertificateNotTransferable.selector, tokenId)
            );
        }
        vm.prank(owner);
        registry.transferFrom(owner, trader(recipientSeed), tokenId);
    }

    function setApproval(uint256 traderSeed, bool approved) external {
        vm.prank(trader(traderSeed));
        registry.setApprovalForAll(address(market), approved);
    }

    function revoke(uint256 tokenSeed) external {
        if (registry.totalIssued() == 0) return;
        uint256 tokenId = bound(tokenSeed, 1, registry.totalIssued());
        if (registry.isRevoked(tokenId)) {
            vm.expectRevert(abi.encodeWithSelector(CertificateRegistry.AlreadyRevoked.selector, tokenId));
        }
        vm.prank(issuer);
        registry.revoke(tokenId, "invariant run");
    }

    function warp(uint256 seconds_) external {
        vm.warp(block.timestamp + bound(seconds_, 1, 3 days));
    }

    function setFee(uint256 feeBps) external {
        uint16 newFeeBps = uint16(bound(feeBps, 0, market.MAX_FEE_BPS()));
        vm.prank(admin);
        market.setFee(newFeeBps);
    }

    function setTokenAllowed(bool allowed) external {
        vm.prank(admin);
        market.setCurrencyAllowed(address(token), allowed);
    }

    function donate(uint256 amount) external {
        amount = bound(amount, 1, MAX_PRICE);
        vm.prank(admin);
        token.mint(address(market), amount);
        tokensDonated += amount;
    }

    /// @dev Mirrors the order of `buy`'s checks. Sales that must succeed are counted, so the run's summary shows the
    /// handler reached them.
    function expectBuyOutcome(uint256 listingId, Marketplace.Listing memory listing) private {
        uint256 tokenId = listing.tokenId;
        if (listing.status != Marketplace.ListingStatus.Active) {
            vm.expectRevert(abi.encodeWithSelector(Marketplace.ListingNotActive.selector, listingId));
        } else if (!market.isCurrencyAllowed(listing.currency)) {
            vm.expectRevert(abi.encodeWithSelector(Marketplace.CurrencyNotAllowed.selector, listing.currency));
        } else if (
            registry.ownerOf(tokenId) != listing.seller || registry.transferCount(tokenId) != listing.transferCount
                || !registry.isApprovedForAll(listing.seller, address(market))
        ) {
            vm.expectRevert(abi.encodeWithSelector(Marketplace.ListingStale.selector, listingId));
        } else if (!registry.isValid(tokenId)) {
            vm.expectRevert(abi.encodeWithSelector(Marketplace.CertificateNotValid.selector, tokenId));
        } else {
            ++sales;
        }
    }

    function trader(uint256 seed) private view returns (address) {
        return payees[seed % traderCount];
    }
}
