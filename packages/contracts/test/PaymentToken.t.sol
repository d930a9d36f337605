// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";
import {Fixture} from "./utils/Fixture.sol";

contract PaymentTokenTest is Fixture {
    bytes32 private constant PERMIT_TYPEHASH =
        keccak256("Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)");

    event Transfer(address indexed from, address indexed to, uint256 value);

    function test_constructor_setsMetadataAndOwner() public view {
        vm.assertEq(token.name(), "certchain Payment Token", "name");
        vm.assertEq(token.symbol(), "CPT", "symbol");
        vm.assertEq(token.decimals(), 18, "decimals");
        vm.assertEq(token.owner(), admin, "owner");
        vm.assertEq(token.totalSupply(), 0, "no supply");
    }

    function testFuzz_mint_byOwner(address to, uint256 amount) public {
        vm.assume(to != address(0));
        vm.expectEmit(address(token));
        emit Transfer(address(0), to, amount);
        vm.prank(admin);
        token.mint(to, amount);
        vm.assertEq(token.balanceOf(to), amount, "balance");
        vm.assertEq(token.totalSupply(), amount, "supply");
    }

    function test_mint_revertsForOthers() public {
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, alice));
        vm.prank(alice);
        token.mint(alice, 1);
    }

    function test_permit_approvesBySignatureAndPaysForASale() public {
        (address buyer, uint256 buyerKey) = makeAccount("buyer");
        (, uint256 listingId) = issueAndList(alice, address(token), PRICE);
        vm.prank(admin);
        token.mint(buyer, PRICE);

        uint256 deadline = block.timestamp + 1 hours;
        (uint8 v, bytes32 r, bytes32 s) = signPermit(buyerKey, buyer, address(market), PRICE, deadline);
        // Anyone can submit the signature (a relayer, here bob); the allowance is the buyer's.
        vm.prank(bob);
        token.permit(buyer, address(market), PRICE, deadline, v, r, s);
        vm.assertEq(token.allowance(buyer, address(market)), PRICE, "allowance");
        vm.assertEq(token.nonces(buyer), 1, "nonce used");

        vm.prank(buyer);
        market.buy(listingId, PRICE);
        vm.assertEq(registry.ownerOf(market.listing(listingId).tokenId), buyer, "bought without an approve tx");
    }

    function test_permit_revertsAfterTheDeadline() public {
        (address owner, uint256 key) = makeAccount("owner");
        uint256 deadline = block.timestamp - 1;
        (uint8 v, bytes32 r, bytes32 s) = signPermit(key, owner, bob, 1, deadline);
        vm.expectRevert(abi.encodeWithSelector(ERC20Permit.ERC2612ExpiredSignature.selector, deadline));
        token.permit(owner, bob, 1, deadline, v, r, s);
    }

    function test_permit_revertsForAnotherSigner() public {
        (address owner,) = makeAccount("owner");
        (address impostor, uint256 impostorKey) = makeAccount("impostor");
        uint256 deadline = block.timestamp + 1;
        (uint8 v, bytes32 r, bytes32 s) = signPermit(impostorKey, owner, bob, 1, deadline);
        vm.expectRevert(abi.encodeWithSelector(ERC20Permit.ERC2612InvalidSigner.selector, impostor, owner));
        token.permit(owner, bob, 1, deadline, v, r, s);
    }

    function signPermit(uint256 key, address owner, address spender, uint256 value, uint256 deadline)
        private
        view
        returns (uint8 v, bytes32 r, bytes32 s)
    {
        bytes32 structHash =
            keccak256(abi.encode(PERMIT_TYPEHASH, owner, spender, value, token.nonces(owner), deadline));
        bytes32 digest = keccak256(abi.encodePacked("\x19\x01", token.DOMAIN_SEPARATOR(), structHash));
        return vm.sign(key, digest);
    }
}
