// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC721Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";
import {Marketplace} from "../src/Marketplace.sol";
import {Fixture} from "./utils/Fixture.sol";

contract MarketplaceListingTest is Fixture {
    event Listed(
        uint256 indexed listingId, address indexed seller, uint256 indexed tokenId, address currency, uint256 price
    );
    event ListingCancelled(uint256 indexed listingId, address by);

    function test_list_recordsTheListingAndEmits() public {
        uint256 tokenId = issue(alice);
        vm.prank(alice);
        registry.setApprovalForAll(address(market), true);

        vm.expectEmit(address(market));
        emit Listed(1, alice, tokenId, address(token), PRICE);
        vm.prank(alice);
        uint256 listingId = market.list(tokenId, address(token), PRICE);

        vm.assertEq(listingId, 1, "ids start at 1");
        vm.assertEq(market.totalListings(), 1, "total listings");
        vm.assertEq(market.activeListingOf(tokenId), listingId, "active listing");
        Marketplace.Listing memory listing = market.listing(listingId);
        vm.assertEq(listing.seller, alice, "seller");
        vm.assertEq(listing.currency, address(token), "currency");
        vm.assertEq(listing.tokenId, tokenId, "token");
        vm.assertEq(listing.price, PRICE, "price");
        vm.assertEq(listing.feeBps, FEE_BPS, "fee snapshot");
        vm.assertEq(listing.transferCount, registry.transferCount(tokenId), "transfer count snapshot");
        vm.assertTrue(listing.status == Marketplace.ListingStatus.Active, "active");
    }

    function test_list_acceptsApprovalForTheSingleToken() public {
        uint256 tokenId = issue(alice);
        vm.startPrank(alice);
        registry.approve(address(market), tokenId);
        uint256 listingId = market.list(tokenId, eth, PRICE);
        vm.stopPrank();
        vm.assertTrue(market.listing(listingId).status == Marketplace.ListingStatus.Active, "active");
    }

    function test_list_supersedesTheSellersEarlierListing() public {
        (uint256 tokenId, uint256 first) = issueAndList(alice, eth, PRICE);
        vm.expectEmit(address(market));
        emit ListingCancelled(first, alice);
        vm.expectEmit(address(market));
        emit Listed(first + 1, alice, tokenId, eth, 2 * PRICE);
        vm.prank(alice);
        uint256 second = market.list(tokenId, eth, 2 * PRICE);

        vm.assertTrue(market.listing(first).status == Marketplace.ListingStatus.Cancelled, "old one cancelled");
        vm.assertEq(market.activeListingOf(tokenId), second, "new one active");
    }

    function test_list_byANewOwnerSupersedesTheStaleListing() public {
        (uint256 tokenId, uint256 stale) = issueAndList(alice, eth, PRICE);
        vm.prank(alice);
        registry.transferFrom(alice, bob, tokenId);
        uint256 fresh = listForSale(bob, tokenId, eth, 3 * PRICE);

        vm.assertTrue(market.listing(stale).status == Marketplace.ListingStatus.Cancelled, "stale one cancelled");
        vm.assertEq(market.activeListingOf(tokenId), fresh, "bob's listing active");
    }

    function test_list_revertsForNonOwners() public {
        uint256 tokenId = issue(alice);
        vm.expectRevert(abi.encodeWithSelector(Marketplace.NotTokenOwner.selector, tokenId, bob));
        vm.prank(bob);
        market.list(tokenId, eth, PRICE);
    }

    function test_list_revertsForUnknownTokens() public {
        vm.expectRevert(abi.encodeWithSelector(IERC721Errors.ERC721NonexistentToken.selector, 9));
        vm.prank(alice);
        market.list(9, eth, PRICE);
    }

    function test_list_revertsForRevokedCertificates() public {
        uint256 tokenId = issue(alice);
        vm.prank(issuer);
        registry.revoke(tokenId, "revoked");
        vm.expectRevert(abi.encodeWithSelector(Marketplace.CertificateNotValid.selector, tokenId));
        vm.prank(alice);
        market.list(tokenId, eth, PRICE);
    }

    function test_list_revertsForExpiredCertificates() public {
        uint256 tokenId = issue(alice, START + 1);
        vm.warp(START + 1);
        vm.expectRevert(abi.encodeWithSelector(Marketplace.CertificateNotValid.selector, tokenId));
        vm.prank(alice);
        market.list(tokenId, eth, PRICE);
    }

    function test_list_revertsWithoutApproval() public {
        uint256 tokenId = issue(alice);
        vm.expectRevert(abi.encodeWithSelector(Marketplace.MarketplaceNotApproved.selector, tokenId));
        vm.prank(alice);
        market.list(tokenId, eth, PRICE);
    }

    function test_list_revertsOnZeroPrice() public {
        uint256 tokenId = issue(alice);
        vm.prank(alice);
        registry.setApprovalForAll(address(market), true);
        vm.expectRevert(Marketplace.ZeroPrice.selector);
        vm.prank(alice);
        market.list(tokenId, eth, 0);
    }

    function test_list_revertsForCurrenciesNotAllowed() public {
        uint256 tokenId = issue(alice);
        vm.prank(alice);
        registry.setApprovalForAll(address(market), true);
        vm.expectRevert(abi.encodeWithSelector(Marketplace.CurrencyNotAllowed.selector, carol));
        vm.prank(alice);
        market.list(tokenId, carol, PRICE);
    }

    function test_cancel_bySellerEmits() public {
        (uint256 tokenId, uint256 listingId) = issueAndList(alice, eth, PRICE);
        vm.expectEmit(address(market));
        emit ListingCancelled(listingId, alice);
        vm.prank(alice);
        market.cancel(listingId);

        vm.assertTrue(market.listing(listingId).status == Marketplace.ListingStatus.Cancelled, "cancelled");
        vm.assertEq(market.activeListingOf(tokenId), 0, "no active listing");
    }

    function test_cancel_byTheTokensNewOwner() public {
        (uint256 tokenId, uint256 listingId) = issueAndList(alice, eth, PRICE);
        vm.prank(alice);
        registry.transferFrom(alice, bob, tokenId);
        vm.prank(bob);
        market.cancel(listingId);
        vm.assertTrue(market.listing(listingId).status == Marketplace.ListingStatus.Cancelled, "cancelled");
    }

    function test_cancel_bySellerAfterTheTokenMoved() public {
        (uint256 tokenId, uint256 listingId) = issueAndList(alice, eth, PRICE);
        vm.prank(alice);
        registry.transferFrom(alice, bob, tokenId);
        vm.prank(alice);
        market.cancel(listingId);
        vm.assertTrue(market.listing(listingId).status == Marketplace.ListingStatus.Cancelled, "cancelled");
    }

    function test_cancel_revertsForOthers() public {
        (, uint256 listingId) = issueAndList(alice, eth, PRICE);
        vm.expectRevert(abi.encodeWithSelector(Marketplace.NotSellerOrOwner.selector, listingId, bob));
        vm.prank(bob);
        market.cancel(listingId);
    }

    function test_cancel_revertsForInactiveListings() public {
        (, uint256 listingId) = issueAndList(alice, eth, PRICE);
        vm.prank(alice);
        market.cancel(listingId);
        vm.expectRevert(abi.encodeWithSelector(Marketplace.ListingNotActive.selector, listingId));
        vm.prank(alice);
        market.cancel(listingId);

        vm.expectRevert(abi.encodeWithSelector(Marketplace.ListingNotActive.selector, 99));
        vm.prank(alice);
        market.cancel(99);
    }

    function test_cancel_revertsForSoldListings() public {
        (, uint256 listingId) = issueAndList(alice, eth, PRICE);
        buyListing(bob, listingId);
        vm.expectRevert(abi.encodeWithSelector(Marketplace.ListingNotActive.selector, listingId));
        vm.prank(bob);
        market.cancel(listingId);
    }
}
