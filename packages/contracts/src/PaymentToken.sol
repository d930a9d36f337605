// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";

/// @title certchain payment token
/// @notice An ERC-20 with EIP-2612 permits, so a buyer can approve the marketplace with a signature instead of a
/// transaction. Deployed for local development and tests, where the owner mints balances at will; it is not meant
/// to carry value.
contract PaymentToken is ERC20, ERC20Permit, Ownable {
    constructor(address owner_)
        ERC20("certchain Payment Token", "CPT")
        ERC20Permit("certchain Payment Token")
        Ownable(owner_)
    {}

    function mint(address to, uint256 amount) external onlyOwner {
        _mint(to, amount);
    }
}
