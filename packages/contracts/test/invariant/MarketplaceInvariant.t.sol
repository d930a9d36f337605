// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {CertificateRegistry} from "../../src/CertificateRegistry.sol";
import {Marketplace} from "../../src/Marketplace.sol";
import {PaymentToken} from "../../src/PaymentToken.sol";
import {InvariantTest} from "../utils/InvariantTest.sol";
import {MarketplaceHandler} from "./MarketplaceHandler.sol";

/// @notice The marketplace's accounting holds whatever sequence of trades, payouts, transfers, revocations and
/// admin changes happens: it never owes more than it holds, and its listing index never disagrees with its listings.
contract MarketplaceInvariantTest is InvariantTest {
    CertificateRegistry private registry;
    Marketplace private market;
    PaymentToken private token;
    MarketplaceHandler private handler;

    function setUp() public {
        vm.warp(1_750_000_000);
        address admin = makeAddr("admin");
        address issuer = makeAddr("issuer");
        registry = new CertificateRegistry(admin);
        market = new Marketplace(registry, admin, makeAddr("feeRecipient"), 250);
        token = new PaymentToken(admin);
        vm.startPrank(admin);
        registry.grantRole(registry.ISSUER_ROLE(), issuer);
        market.setCurrencyAllowed(address(token), true);
        vm.stopPrank();

        address[] memory traders = new address[](4);
        traders[0] = makeAddr("alice");
        traders[1] = makeAddr("bob");
        traders[2] = makeAddr("carol");
        traders[3] = makeAddr("dave");
        handler = new MarketplaceHandler(registry, market, token, admin, issuer, traders);

        bytes4[] memory actions = new bytes4[](12);
        actions[0] = MarketplaceHandler.issue.selector;
        actions[1] = MarketplaceHandler.list.selector;
        actions[2] = MarketplaceHandler.cancel.selector;
        actions[3] = MarketplaceHandler.buy.selector;
        actions[4] = MarketplaceHandler.withdraw.selector;
        actions[5] = MarketplaceHandler.transfer.selector;
        actions[6] = MarketplaceHandler.setApproval.selector;
        actions[7] = MarketplaceHandler.revoke.selector;
        actions[8] = MarketplaceHandler.warp.selector;
        actions[9] = MarketplaceHandler.setFee.selector;
        actions[10] = MarketplaceHandler.setTokenAllowed.selector;
        actions[11] = MarketplaceHandler.donate.selector;
        targetFunctions(address(handler), actions);
    }

    /// @dev The marketplace has no `receive` and nothing credits ETH without a sale, so ETH matches to the wei.
    function invariant_ethHeldEqualsEthOwed() public view {
        vm.assertEq(address(market).balance, market.totalOwed(market.ETH()), "ETH held == ETH owed");
    }

    /// @dev Anyone can send tokens to the marketplace; beyond those it holds exactly what it owes.
    function invariant_tokensHeldCoverTokensOwed() public view {
        uint256 held = token.balanceOf(address(market));
        uint256 owed = market.totalOwed(address(token));
        vm.assertGe(held, owed, "tokens held >= tokens owed");
        vm.assertEq(held, owed + handler.tokensDonated(), "tokens held == owed + donated");
    }

    function invariant_totalOwedIsTheSumOfProceeds() public view {
        address[2] memory currencies = [market.ETH(), address(token)];
        for (uint256 c; c < currencies.length; ++c) {
            uint256 sum;
            for (uint256 i; i < handler.payeeCount(); ++i) {
                sum += market.proceeds(handler.payees(i), currencies[c]);
            }
            vm.assertEq(sum, market.totalOwed(currencies[c]), "totalOwed == sum of proceeds");
        }
    }

    /// @dev A listing is active exactly when it is its token's `activeListingOf`, so a token never has two.
    function invariant_activeListingIndexMatchesListings() public view {
        for (uint256 id = 1; id <= market.totalListings(); ++id) {
            Marketplace.Listing memory listing = market.listing(id);
            bool isIndexed = market.activeListingOf(listing.tokenId) == id;
            vm.assertEq(listing.status == Marketplace.ListingStatus.Active, isIndexed, "active <=> indexed");
        }
    }

    /// @dev Sellers keep their certificates until a sale moves them straight to the buyer.
    function invariant_marketplaceNeverHoldsCertificates() public view {
        vm.assertEq(registry.balanceOf(address(market)), 0, "no certificates in custody");
    }
}
