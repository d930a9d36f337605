// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Marketplace} from "../src/Marketplace.sol";
import {EthRejecter} from "./mocks/EthRejecter.sol";
import {Fixture} from "./utils/Fixture.sol";

contract MarketplaceWithdrawTest is Fixture {
    event ProceedsWithdrawn(address indexed account, address indexed currency, uint256 amount);

    uint256 private constant FEE = PRICE * FEE_BPS / 10_000;

    function test_withdraw_paysEthProceedsAndEmits() public {
        (, uint256 listingId) = issueAndList(alice, eth, PRICE);
        buyListing(bob, listingId);

        vm.expectEmit(address(market));
        emit ProceedsWithdrawn(alice, eth, PRICE - FEE);
        vm.prank(alice);
        market.withdraw(eth);

        vm.assertEq(alice.balance, PRICE - FEE, "seller paid");
        vm.assertEq(market.proceeds(alice, eth), 0, "ledger cleared");
        vm.assertEq(market.totalOwed(eth), FEE, "only the fee still owed");
        vm.assertEq(address(market).balance, FEE, "fee still held");
    }

    function test_withdraw_paysTokenProceedsToSellerAndFeeRecipient() public {
        (, uint256 listingId) = issueAndList(alice, address(token), PRICE);
        buyListing(bob, listingId);

        vm.prank(alice);
        market.withdraw(address(token));
        vm.expectEmit(address(market));
        emit ProceedsWithdrawn(feeRecipient, address(token), FEE);
        vm.prank(feeRecipient);
        market.withdraw(address(token));

        vm.assertEq(token.balanceOf(alice), PRICE - FEE, "seller paid");
        vm.assertEq(token.balanceOf(feeRecipient), FEE, "fee paid");
        vm.assertEq(token.balanceOf(address(market)), 0, "nothing left behind");
        vm.assertEq(market.totalOwed(address(token)), 0, "nothing owed");
    }

    function test_withdraw_keepsCurrenciesApart() public {
        (, uint256 ethListing) = issueAndList(alice, eth, PRICE);
        (, uint256 tokenListing) = issueAndList(alice, address(token), 2 * PRICE);
        buyListing(bob, ethListing);
        buyListing(bob, tokenListing);

        vm.prank(alice);
        market.withdraw(address(token));
        vm.assertEq(market.proceeds(alice, eth), PRICE - FEE, "ETH proceeds untouched");
    }

    function test_withdraw_staysOpenForDisallowedCurrencies() public {
        (, uint256 listingId) = issueAndList(alice, address(token), PRICE);
        buyListing(bob, listingId);
        vm.prank(admin);
        market.setCurrencyAllowed(address(token), false);
        vm.prank(alice);
        market.withdraw(address(token));
        vm.assertEq(token.balanceOf(alice), PRICE - FEE, "seller paid");
    }

    function test_withdraw_revertsWithNothingOwed() public {
        vm.expectRevert(abi.encodeWithSelector(Marketplace.NothingToWithdraw.selector, alice, eth));
        vm.prank(alice);
        market.withdraw(eth);
    }

    function test_withdraw_revertsTwice() public {
        (, uint256 listingId) = issueAndList(alice, eth, PRICE);
        buyListing(bob, listingId);
        vm.startPrank(alice);
        market.withdraw(eth);
        vm.expectRevert(abi.encodeWithSelector(Marketplace.NothingToWithdraw.selector, alice, eth));
        market.withdraw(eth);
        vm.stopPrank();
    }

    function test_withdraw_revertsWhenTheAccountRefusesEth() public {
        address seller = address(new EthRejecter());
        (, uint256 listingId) = issueAndList(seller, eth, PRICE);
        buyListing(bob, listingId);

        vm.expectRevert(abi.encodeWithSelector(Marketplace.EthTransferFailed.selector, seller, PRICE - FEE));
        vm.prank(seller);
        market.withdraw(eth);
        vm.assertEq(market.proceeds(seller, eth), PRICE - FEE, "still owed");
    }

    function testFuzz_withdraw_paysEveryoneExactlyWhatTheyAreOwed(uint96[4] memory prices) public {
        address[3] memory sellers = [alice, bob, carol];
        for (uint256 i; i < prices.length; ++i) {
            uint256 price = bound(prices[i], 1, type(uint96).max);
            (, uint256 listingId) = issueAndList(sellers[i % 3], eth, price);
            buyListing(makeAddr("buyer"), listingId);
        }
        address[4] memory payees = [alice, bob, carol, feeRecipient];
        for (uint256 i; i < payees.length; ++i) {
            uint256 owed = market.proceeds(payees[i], eth);
            if (owed == 0) continue;
            vm.prank(payees[i]);
            market.withdraw(eth);
            vm.assertEq(payees[i].balance, owed, "paid what was owed");
        }
        vm.assertEq(market.totalOwed(eth), 0, "nothing owed");
        vm.assertEq(address(market).balance, 0, "nothing left");
    }
}
