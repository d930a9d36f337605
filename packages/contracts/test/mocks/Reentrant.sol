// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @notice Calls `target` with `reentry` once, from inside a call the marketplace makes to this contract, and
/// records how that nested call ended. The outer call then carries on normally, so a test can check both that the
/// nested call was refused and that the outer one paid exactly once.
abstract contract Reentrant {
    address public target;
    bytes public reentry;
    bool public reentered;
    bool public reentrySucceeded;
    bytes public reentryRevertData;

    function arm(address target_, bytes calldata reentry_) external {
        (target, reentry, reentered) = (target_, reentry_, false);
    }

    function _reenter(uint256 value) internal {
        if (reentered || reentry.length == 0) return;
        reentered = true;
        (reentrySucceeded, reentryRevertData) = target.call{value: value}(reentry);
    }
}

/// @notice A seller that re-enters the marketplace when it is paid ETH.
contract ReentrantSeller is Reentrant {
    /// @notice ETH forwarded with the re-entering call (e.g. to pay for a `buy`).
    uint256 public reentryValue;

    function setReentryValue(uint256 value) external {
        reentryValue = value;
    }

    receive() external payable {
        _reenter(reentryValue);
    }
}

/// @notice A payment token that re-enters the marketplace whenever the marketplace moves it: pulling a buyer's
/// payment in `buy`, paying out in `withdraw`.
contract ReentrantToken is ERC20, Reentrant {
    constructor() ERC20("Reentrant", "RE") {}

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    function transfer(address to, uint256 value) public override returns (bool) {
        _reenter(0);
        return super.transfer(to, value);
    }

    function transferFrom(address from, address to, uint256 value) public override returns (bool) {
        _reenter(0);
        return super.transferFrom(from, to, value);
    }
}
