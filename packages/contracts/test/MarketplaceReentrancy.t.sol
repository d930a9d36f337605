// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {Marketplace} from "../src/Marketplace.sol";
import {Reentrant, ReentrantSeller, ReentrantToken} from "./mocks/Reentrant.sol";
import {Fixture} from "./utils/Fixture.sol";

/// @notice Hostile sellers and tokens try to re-enter the marketplace from the only external calls it makes to
/// them: the ETH payout in `withdraw` and the ERC-20 pull in `buy`. (A sale itself never calls the seller or the
/// buyer.) Each re-entry must be refused while the outer call completes with exactly one payment.
contract MarketplaceReentrancyTest is Fixture {
    uint256 private constant FEE = PRICE * FEE_BPS / 10_000;

    ReentrantSeller private seller;

    function setUp() public override {
        super.setUp();
        seller = new ReentrantSeller();
        vm.label(address(seller), "reentrantSeller");
    }

    function test_withdraw_refusesReentryIntoWithdraw() public {
        (, uint256 listingId) = issueAndList(address(seller), eth, PRICE);
        buyListing(bob, listingId);
        seller.arm(address(market), abi.encodeCall(Marketplace.withdraw, (eth)));

        vm.prank(address(seller));
        market.withdraw(eth);

        assertReentryRefused(address(seller));
        vm.assertEq(address(seller).balance, PRICE - FEE, "paid once");
        vm.assertEq(address(market).balance, market.totalOwed(eth), "books balance");
    }

    function test_withdraw_refusesReentryIntoBuy() public {
        (, uint256 sold) = issueAndList(address(seller), eth, PRICE);
        buyListing(bob, sold);
        (, uint256 other) = issueAndList(carol, eth, PRICE - FEE);
        seller.arm(address(market), abi.encodeCall(Marketplace.buy, (other, PRICE - FEE)));
        seller.setReentryValue(PRICE - FEE);

        vm.prank(address(seller));
        market.withdraw(eth);

        assertReentryRefused(address(seller));
        vm.assertEq(registry.ownerOf(market.listing(other).tokenId), carol, "nothing bought mid-withdrawal");
    }

    function test_buy_refusesReentryFromThePaymentToken() public {
        ReentrantToken hostile = new ReentrantToken();
        vm.prank(admin);
        market.setCurrencyAllowed(address(hostile), true);
        (, uint256 first) = issueAndList(alice, address(hostile), PRICE);
        (, uint256 second) = issueAndList(carol, address(hostile), PRICE);
        hostile.mint(bob, 2 * PRICE);
        vm.prank(bob);
        hostile.approve(address(market), 2 * PRICE);
        hostile.arm(address(market), abi.encodeCall(Marketplace.buy, (second, PRICE)));

        vm.prank(bob);
        market.buy(first, PRICE);

        assertReentryRefused(address(hostile));
        vm.assertTrue(market.listing(second).status == Marketplace.ListingStatus.Active, "second still listed");
        vm.assertEq(hostile.balanceOf(address(market)), market.totalOwed(address(hostile)), "books balance");
    }

    function test_withdraw_refusesReentryFromThePaymentToken() public {
        ReentrantToken hostile = new ReentrantToken();
        vm.prank(admin);
        market.setCurrencyAllowed(address(hostile), true);
        (, uint256 listingId) = issueAndList(alice, address(hostile), PRICE);
        hostile.mint(bob, PRICE);
        vm.prank(bob);
        hostile.approve(address(market), PRICE);
        vm.prank(bob);
        market.buy(listingId, PRICE);
        hostile.arm(address(market), abi.encodeCall(Marketplace.withdraw, (address(hostile))));

        vm.prank(alice);
        market.withdraw(address(hostile));

        assertReentryRefused(address(hostile));
        vm.assertEq(hostile.balanceOf(alice), PRICE - FEE, "paid once");
    }

    function assertReentryRefused(address attacker) private view {
        Reentrant probe = Reentrant(attacker);
        vm.assertTrue(probe.reentered(), "the attacker got control");
        vm.assertFalse(probe.reentrySucceeded(), "the nested call was refused");
        vm.assertEq(
            keccak256(probe.reentryRevertData()),
            keccak256(abi.encodeWithSelector(ReentrancyGuardTransient.ReentrancyGuardReentrantCall.selector)),
            "refused by the guard"
        );
    }
}
