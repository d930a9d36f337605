// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";
import {Marketplace} from "../src/Marketplace.sol";
import {FeeOnTransferToken} from "./mocks/FeeOnTransferToken.sol";
import {Fixture} from "./utils/Fixture.sol";

contract MarketplaceBuyTest is Fixture {
    event Transfer(address indexed from, address indexed to, uint256 indexed tokenId);
    event Sale(
        uint256 indexed listingId,
        address indexed buyer,
        address indexed seller,
        uint256 tokenId,
        address currency,
        uint256 price,
        uint256 fee
    );

    uint256 private constant FEE = PRICE * FEE_BPS / 10_000;

    function test_buy_withEthMovesTheTokenAndCreditsProceeds() public {
        (uint256 tokenId, uint256 listingId) = issueAndList(alice, eth, PRICE);
        vm.deal(bob, PRICE);

        vm.expectEmit(address(market));
        emit Sale(listingId, bob, alice, tokenId, eth, PRICE, FEE);
        vm.expectEmit(address(registry));
        emit Transfer(alice, bob, tokenId);
        vm.prank(bob);
        market.buy{value: PRICE}(listingId, PRICE);

        vm.assertEq(registry.ownerOf(tokenId), bob, "buyer owns the certificate");
        vm.assertTrue(market.listing(listingId).status == Marketplace.ListingStatus.Sold, "sold");
        vm.assertEq(market.activeListingOf(tokenId), 0, "no active listing");
        vm.assertEq(market.proceeds(alice, eth), PRICE - FEE, "seller proceeds");
        vm.assertEq(market.proceeds(feeRecipient, eth), FEE, "fee");
        vm.assertEq(market.totalOwed(eth), PRICE, "owed");
        vm.assertEq(address(market).balance, PRICE, "held");
    }

    function test_buy_withTokensPullsThePayment() public {
        (uint256 tokenId, uint256 listingId) = issueAndList(alice, address(token), PRICE);
        fundTokens(bob, PRICE);

        vm.expectEmit(address(market));
        emit Sale(listingId, bob, alice, tokenId, address(token), PRICE, FEE);
        vm.prank(bob);
        market.buy(listingId, PRICE);

        vm.assertEq(registry.ownerOf(tokenId), bob, "buyer owns the certificate");
        vm.assertEq(token.balanceOf(bob), 0, "buyer paid");
        vm.assertEq(token.balanceOf(address(market)), PRICE, "held");
        vm.assertEq(market.proceeds(alice, address(token)), PRICE - FEE, "seller proceeds");
        vm.assertEq(market.proceeds(feeRecipient, address(token)), FEE, "fee");
        vm.assertEq(market.totalOwed(address(token)), PRICE, "owed");
    }

    function testFuzz_buy_splitsThePriceIntoProceedsAndFee(uint256 price, uint16 feeBps) public {
        price = bound(price, 1, 1e30);
        feeBps = uint16(bound(feeBps, 0, market.MAX_FEE_BPS()));
        vm.prank(admin);
        market.setFee(feeBps);
        (, uint256 listingId) = issueAndList(alice, address(token), price);
        buyListing(bob, listingId);

        uint256 fee = market.proceeds(feeRecipient, address(token));
        vm.assertEq(fee, price * feeBps / 10_000, "fee rounds down, in the seller's favour");
        vm.assertEq(market.proceeds(alice, address(token)) + fee, price, "nothing lost or created");
        vm.assertEq(market.totalOwed(address(token)), price, "owed");
    }

    function test_buy_chargesTheFeeInForceWhenListed() public {
        (, uint256 listingId) = issueAndList(alice, eth, PRICE);
        vm.prank(admin);
        market.setFee(1_000);
        buyListing(bob, listingId);
        vm.assertEq(market.proceeds(feeRecipient, eth), FEE, "listing-time fee");
    }

    function test_buy_revertsForInactiveListings() public {
        (, uint256 listingId) = issueAndList(alice, eth, PRICE);
        buyListing(bob, listingId);
        vm.deal(carol, PRICE);
        vm.expectRevert(abi.encodeWithSelector(Marketplace.ListingNotActive.selector, listingId));
        vm.prank(carol);
        market.buy{value: PRICE}(listingId, PRICE);
    }

    function test_buy_revertsWhenThePriceIsNotTheExpectedOne() public {
        (, uint256 listingId) = issueAndList(alice, eth, PRICE);
        vm.deal(bob, PRICE);
        vm.expectRevert(abi.encodeWithSelector(Marketplace.PriceMismatch.selector, PRICE, PRICE - 1));
        vm.prank(bob);
        market.buy{value: PRICE}(listingId, PRICE - 1);
    }

    function test_buy_revertsForTheSeller() public {
        (, uint256 listingId) = issueAndList(alice, eth, PRICE);
        vm.deal(alice, PRICE);
        vm.expectRevert(Marketplace.BuyerIsSeller.selector);
        vm.prank(alice);
        market.buy{value: PRICE}(listingId, PRICE);
    }

    function test_buy_revertsOnceTheCurrencyIsDisallowed() public {
        (, uint256 listingId) = issueAndList(alice, address(token), PRICE);
        vm.prank(admin);
        market.setCurrencyAllowed(address(token), false);
        fundTokens(bob, PRICE);
        vm.expectRevert(abi.encodeWithSelector(Marketplace.CurrencyNotAllowed.selector, address(token)));
        vm.prank(bob);
        market.buy(listingId, PRICE);
    }

    function test_buy_revertsWhenTheSellerNoLongerOwnsTheToken() public {
        (uint256 tokenId, uint256 listingId) = issueAndList(alice, eth, PRICE);
        vm.prank(alice);
        registry.transferFrom(alice, carol, tokenId);
        expectStaleBuy(listingId);
    }

    function test_buy_revertsWhenTheSellerWithdrewApproval() public {
        (, uint256 listingId) = issueAndList(alice, eth, PRICE);
        vm.prank(alice);
        registry.setApprovalForAll(address(market), false);
        expectStaleBuy(listingId);
    }

    function test_buy_revertsWhenTheTokenLeftAndCameBack() public {
        (uint256 tokenId, uint256 listingId) = issueAndList(alice, eth, PRICE);
        vm.prank(alice);
        registry.transferFrom(alice, carol, tokenId);
        vm.prank(carol);
        registry.transferFrom(carol, alice, tokenId);
        expectStaleBuy(listingId);
    }

    function test_buy_revertsForCertificatesRevokedAfterListing() public {
        (uint256 tokenId, uint256 listingId) = issueAndList(alice, eth, PRICE);
        vm.prank(issuer);
        registry.revoke(tokenId, "revoked");
        vm.deal(bob, PRICE);
        vm.expectRevert(abi.encodeWithSelector(Marketplace.CertificateNotValid.selector, tokenId));
        vm.prank(bob);
        market.buy{value: PRICE}(listingId, PRICE);
    }

    function test_buy_revertsForCertificatesExpiredAfterListing() public {
        uint256 tokenId = issue(alice, START + 1 days);
        uint256 listingId = listForSale(alice, tokenId, eth, PRICE);
        vm.warp(START + 1 days);
        vm.deal(bob, PRICE);
        vm.expectRevert(abi.encodeWithSelector(Marketplace.CertificateNotValid.selector, tokenId));
        vm.prank(bob);
        market.buy{value: PRICE}(listingId, PRICE);
    }

    function testFuzz_buy_revertsUnlessEthPaymentIsExact(uint256 value) public {
        vm.assume(value != PRICE);
        (, uint256 listingId) = issueAndList(alice, eth, PRICE);
        vm.deal(bob, value);
        vm.expectRevert(abi.encodeWithSelector(Marketplace.IncorrectPayment.selector, PRICE, value));
        vm.prank(bob);
        market.buy{value: value}(listingId, PRICE);
    }

    function test_buy_revertsOnEthSentWithTokenPayment() public {
        (, uint256 listingId) = issueAndList(alice, address(token), PRICE);
        fundTokens(bob, PRICE);
        vm.deal(bob, 1);
        vm.expectRevert(abi.encodeWithSelector(Marketplace.IncorrectPayment.selector, 0, 1));
        vm.prank(bob);
        market.buy{value: 1}(listingId, PRICE);
    }

    function test_buy_revertsWithoutTokenAllowance() public {
        (, uint256 listingId) = issueAndList(alice, address(token), PRICE);
        vm.prank(admin);
        token.mint(bob, PRICE);
        vm.expectRevert(
            abi.encodeWithSelector(IERC20Errors.ERC20InsufficientAllowance.selector, address(market), 0, PRICE)
        );
        vm.prank(bob);
        market.buy(listingId, PRICE);
    }

    function test_buy_revertsWhenAFeeOnTransferTokenDeliversLess() public {
        FeeOnTransferToken feeToken = new FeeOnTransferToken();
        vm.prank(admin);
        market.setCurrencyAllowed(address(feeToken), true);
        (, uint256 listingId) = issueAndList(alice, address(feeToken), PRICE);
        feeToken.mint(bob, PRICE);
        vm.prank(bob);
        feeToken.approve(address(market), PRICE);

        vm.expectRevert(abi.encodeWithSelector(Marketplace.PaymentShortfall.selector, PRICE, PRICE - PRICE / 100));
        vm.prank(bob);
        market.buy(listingId, PRICE);
    }

    function expectStaleBuy(uint256 listingId) private {
        vm.deal(bob, PRICE);
        vm.expectRevert(abi.encodeWithSelector(Marketplace.ListingStale.selector, listingId));
        vm.prank(bob);
        market.buy{value: PRICE}(listingId, PRICE);
    }
}
