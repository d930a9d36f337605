// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {CertificateRegistry} from "../src/CertificateRegistry.sol";
import {Marketplace} from "../src/Marketplace.sol";
import {Fixture} from "./utils/Fixture.sol";

contract MarketplaceAdminTest is Fixture {
    event FeeUpdated(uint16 previousFeeBps, uint16 newFeeBps);
    event FeeRecipientUpdated(address previousRecipient, address newRecipient);
    event CurrencyAllowed(address indexed currency, bool allowed);

    function test_constructor_setsFeeRecipientAndAllowsEth() public {
        vm.expectEmit();
        emit FeeRecipientUpdated(address(0), feeRecipient);
        vm.expectEmit();
        emit FeeUpdated(0, FEE_BPS);
        vm.expectEmit();
        emit CurrencyAllowed(eth, true);
        Marketplace fresh = new Marketplace(registry, admin, feeRecipient, FEE_BPS);

        vm.assertEq(address(fresh.registry()), address(registry), "registry");
        vm.assertEq(fresh.defaultAdmin(), admin, "admin");
        vm.assertEq(fresh.defaultAdminDelay(), fresh.ADMIN_TRANSFER_DELAY(), "admin delay");
        vm.assertEq(fresh.feeRecipient(), feeRecipient, "fee recipient");
        vm.assertEq(fresh.feeBps(), FEE_BPS, "fee");
        vm.assertTrue(fresh.isCurrencyAllowed(eth), "ETH allowed");
        vm.assertFalse(fresh.isCurrencyAllowed(address(token)), "ERC-20s need the admin");
        vm.assertEq(fresh.totalListings(), 0, "no listings");
    }

    function test_constructor_revertsOnZeroRegistry() public {
        vm.expectRevert(Marketplace.ZeroAddress.selector);
        new Marketplace(CertificateRegistry(address(0)), admin, feeRecipient, FEE_BPS);
    }

    function test_constructor_revertsOnZeroFeeRecipient() public {
        vm.expectRevert(Marketplace.ZeroAddress.selector);
        new Marketplace(registry, admin, address(0), FEE_BPS);
    }

    function test_constructor_revertsOnFeeAboveCap() public {
        uint16 cap = market.MAX_FEE_BPS();
        vm.expectRevert(abi.encodeWithSelector(Marketplace.FeeTooHigh.selector, cap + 1, cap));
        new Marketplace(registry, admin, feeRecipient, cap + 1);
    }

    function test_setFee_updatesAndEmits() public {
        vm.expectEmit(address(market));
        emit FeeUpdated(FEE_BPS, 1_000);
        vm.prank(admin);
        market.setFee(1_000);
        vm.assertEq(market.feeBps(), 1_000, "fee");
    }

    function testFuzz_setFee_acceptsUpToTheCap(uint16 newFeeBps) public {
        uint256 cap = market.MAX_FEE_BPS();
        if (newFeeBps > cap) vm.expectRevert(abi.encodeWithSelector(Marketplace.FeeTooHigh.selector, newFeeBps, cap));
        vm.prank(admin);
        market.setFee(newFeeBps);
        if (newFeeBps <= cap) vm.assertEq(market.feeBps(), newFeeBps, "fee");
    }

    function test_setFee_revertsForNonAdmins() public {
        expectUnauthorized(alice);
        vm.prank(alice);
        market.setFee(0);
    }

    function test_setFeeRecipient_updatesAndEmits() public {
        vm.expectEmit(address(market));
        emit FeeRecipientUpdated(feeRecipient, carol);
        vm.prank(admin);
        market.setFeeRecipient(carol);
        vm.assertEq(market.feeRecipient(), carol, "fee recipient");
    }

    function test_setFeeRecipient_revertsOnZeroAddress() public {
        vm.expectRevert(Marketplace.ZeroAddress.selector);
        vm.prank(admin);
        market.setFeeRecipient(address(0));
    }

    function test_setFeeRecipient_revertsForNonAdmins() public {
        expectUnauthorized(feeRecipient);
        vm.prank(feeRecipient);
        market.setFeeRecipient(feeRecipient);
    }

    function test_setCurrencyAllowed_togglesAndEmits() public {
        vm.expectEmit(address(market));
        emit CurrencyAllowed(address(token), false);
        vm.prank(admin);
        market.setCurrencyAllowed(address(token), false);
        vm.assertFalse(market.isCurrencyAllowed(address(token)), "token disallowed");

        vm.prank(admin);
        market.setCurrencyAllowed(eth, false);
        vm.assertFalse(market.isCurrencyAllowed(eth), "even ETH can be stopped");
    }

    function test_setCurrencyAllowed_revertsForNonAdmins() public {
        expectUnauthorized(bob);
        vm.prank(bob);
        market.setCurrencyAllowed(address(token), false);
    }

    function test_listing_ofUnknownIdIsEmpty() public view {
        Marketplace.Listing memory listing = market.listing(42);
        vm.assertTrue(listing.status == Marketplace.ListingStatus.None, "status None");
        vm.assertEq(listing.seller, address(0), "no seller");
    }

    function expectUnauthorized(address account) private {
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, account, market.DEFAULT_ADMIN_ROLE()
            )
        );
    }
}
