// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @notice An account that cannot receive ETH: a seller that can never withdraw ETH proceeds.
contract EthRejecter {
    receive() external payable {
        revert("no ETH");
    }
}
