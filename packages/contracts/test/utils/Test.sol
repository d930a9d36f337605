// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Vm} from "./Vm.sol";

/// @notice Base for every forge test here: the cheatcode handle plus the few helpers forge-std would provide.
abstract contract Test {
    /// @dev forge's cheatcode address, `address(uint160(uint256(keccak256("hevm cheat code"))))`.
    Vm internal constant vm = Vm(0x7109709ECfa91a80626fF3989D68f67F5b1DD12D);

    /// @notice Maps any fuzzed `value` into `[min, max]` without discarding runs (unlike `vm.assume`).
    function bound(uint256 value, uint256 min, uint256 max) internal pure returns (uint256) {
        require(min <= max, "bound: min > max");
        uint256 size = max - min;
        if (size == type(uint256).max) return value;
        return min + value % (size + 1);
    }

    /// @notice A labelled address derived from `name`, so traces read `alice` instead of a hex string.
    function makeAddr(string memory name) internal returns (address account) {
        (account,) = makeAccount(name);
    }

    /// @notice Like `makeAddr`, also returning the private key, for signing.
    function makeAccount(string memory name) internal returns (address account, uint256 privateKey) {
        privateKey = uint256(keccak256(bytes(name)));
        account = vm.addr(privateKey);
        vm.label(account, name);
    }
}
