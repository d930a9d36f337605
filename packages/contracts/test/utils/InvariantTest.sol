// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Test} from "./Test.sol";

/// @notice What forge's invariant runner asks a test contract for, by these exact names and return types: the
/// contracts to call at random, and which of their functions. Without them forge would call every contract the
/// test deployed, every function of each.
abstract contract InvariantTest is Test {
    struct FuzzSelector {
        address addr;
        bytes4[] selectors;
    }

    address[] private _targetContracts;
    FuzzSelector[] private _targetSelectors;

    function targetContracts() public view returns (address[] memory) {
        return _targetContracts;
    }

    function targetSelectors() public view returns (FuzzSelector[] memory) {
        return _targetSelectors;
    }

    /// @notice Makes forge call only `selectors` on `target`.
    function targetFunctions(address target, bytes4[] memory selectors) internal {
        _targetContracts.push(target);
        _targetSelectors.push(FuzzSelector({addr: target, selectors: selectors}));
    }
}
