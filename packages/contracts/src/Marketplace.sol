// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {
    AccessControlDefaultAdminRules
} from "@openzeppelin/contracts/access/extensions/AccessControlDefaultAdminRules.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {CertificateRegistry} from "./CertificateRegistry.sol";

/// @title certchain certificate marketplace
/// @notice Fixed-price sales of certchain certificates, paid in ETH (`currency == address(0)`) or an allow-listed
/// ERC-20. The marketplace never holds certificates: a seller approves it and keeps the token until a sale moves it
/// straight to the buyer. Sale proceeds and the platform fee are credited to a ledger that each payee withdraws.
/// @dev Safety properties, each guarding against a known marketplace failure:
/// - Stale listings cannot be filled: a sale re-checks that the seller still owns and has approved the token, and
///   that the token has not changed hands since listing (a token that left and came back does not revive an old,
///   possibly cheaper listing).
/// - Revoked or expired certificates can be neither listed nor bought.
/// - Buyers name the price they agreed to, and pay exactly that.
/// - Pull payments: a sale makes no call to sellers or the fee recipient, so none of them can block or re-enter a
///   sale. `buy` and `withdraw` settle all state before they move any funds or tokens, and are `nonReentrant` too.
/// - The contract always holds at least `totalOwed[currency]` of each currency, which the invariant tests check.
/// Admins can disallow a currency at any time, which halts new listings and sales in it (an emergency stop);
/// withdrawals of what is owed always stay open. Allow-list only plain ERC-20s: tokens that charge transfer fees are
/// refused at sale time, and rebasing tokens would break the accounting.
contract Marketplace is AccessControlDefaultAdminRules, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    enum ListingStatus {
        None,
        Active,
        Sold,
        Cancelled
    }

    /// @dev `feeBps` is fixed when listing, so the fee a seller agreed to is the fee it pays. `transferCount` is the
    /// registry's count for the token at listing time.
    struct Listing {
        address seller;
        uint16 feeBps;
        uint64 transferCount;
        ListingStatus status;
        address currency;
        uint256 tokenId;
        uint256 price;
    }

    address public constant ETH = address(0);
    uint16 public constant MAX_FEE_BPS = 1_000;
    uint48 public constant ADMIN_TRANSFER_DELAY = 2 days;
    uint256 private constant BPS = 10_000;

    CertificateRegistry public immutable registry;

    /// @notice Platform fee for new listings, in basis points of the price.
    uint16 public feeBps;
    address public feeRecipient;
    mapping(address currency => bool) public isCurrencyAllowed;

    /// @notice Number of listings created so far; listing ids run from 1 to this value.
    uint256 public totalListings;
    mapping(uint256 listingId => Listing) private _listings;
    /// @notice The token's active listing, or 0. A token has at most one: listing it again supersedes the old one.
    mapping(uint256 tokenId => uint256 listingId) public activeListingOf;

    /// @notice Withdrawable balance of each payee in each currency.
    mapping(address account => mapping(address currency => uint256)) public proceeds;
    /// @notice Sum of `proceeds` over all accounts, per currency: what the contract must be able to pay out.
    mapping(address currency => uint256) public totalOwed;

    event Listed(
        uint256 indexed listingId, address indexed seller, uint256 indexed tokenId, address currency, uint256 price
    );
    event ListingCancelled(uint256 indexed listingId, address by);
    event Sale(
        uint256 indexed listingId,
        address indexed buyer,
        address indexed seller,
        uint256 tokenId,
        address currency,
        uint256 price,
        uint256 fee
    );
    event ProceedsWithdrawn(address indexed account, address indexed currency, uint256 amount);
    event FeeUpdated(uint16 previousFeeBps, uint16 newFeeBps);
    event FeeRecipientUpdated(address previousRecipient, address newRecipient);
    event CurrencyAllowed(address indexed currency, bool allowed);

    error ZeroAddress();
    error FeeTooHigh(uint256 feeBps, uint256 maxFeeBps);
    error NotTokenOwner(uint256 tokenId, address account);
    error CertificateNotValid(uint256 tokenId);
    error MarketplaceNotApproved(uint256 tokenId);
    error ZeroPrice();
    error CurrencyNotAllowed(address currency);
    error ListingNotActive(uint256 listingId);
    error NotSellerOrOwner(uint256 listingId, address account);
    /// @notice The seller no longer owns or no longer approves the token, or it changed hands since listing.
    error ListingStale(uint256 listingId);
    error PriceMismatch(uint256 price, uint256 expectedPrice);
    error BuyerIsSeller();
    error IncorrectPayment(uint256 expectedValue, uint256 value);
    /// @notice The marketplace received less of an ERC-20 than the price, e.g. from a fee-on-transfer token.
    error PaymentShortfall(uint256 expected, uint256 received);
    error NothingToWithdraw(address account, address currency);
    error EthTransferFailed(address to, uint256 amount);

    /// @dev ETH is allowed from the start; ERC-20s are added by the admin.
    constructor(CertificateRegistry registry_, address admin, address feeRecipient_, uint16 feeBps_)
        AccessControlDefaultAdminRules(ADMIN_TRANSFER_DELAY, admin)
    {
        if (address(registry_) == address(0)) revert ZeroAddress();
        registry = registry_;
        _setFeeRecipient(feeRecipient_);
        _setFee(feeBps_);
        _setCurrencyAllowed(ETH, true);
    }

    /// @notice Lists the caller's certificate at a fixed price, superseding the token's previous listing if any
    /// (the caller owns the token now, so that listing is either its own or stale).
    /// @dev Approve the marketplace first, for this token or for all of the caller's tokens.
    function list(uint256 tokenId, address currency, uint256 price) external returns (uint256 listingId) {
        if (registry.ownerOf(tokenId) != msg.sender) revert NotTokenOwner(tokenId, msg.sender);
        if (!registry.isValid(tokenId)) revert CertificateNotValid(tokenId);
        if (!_isApproved(msg.sender, tokenId)) revert MarketplaceNotApproved(tokenId);
        if (price == 0) revert ZeroPrice();
        if (!isCurrencyAllowed[currency]) revert CurrencyNotAllowed(currency);

        uint256 previous = activeListingOf[tokenId];
        if (previous != 0) _cancel(previous, tokenId);

        listingId = ++totalListings;
        _listings[listingId] = Listing({
            seller: msg.sender,
            feeBps: feeBps,
            transferCount: registry.transferCount(tokenId),
            status: ListingStatus.Active,
            currency: currency,
            tokenId: tokenId,
            price: price
        });
        activeListingOf[tokenId] = listingId;
        emit Listed(listingId, msg.sender, tokenId, currency, price);
    }

    /// @notice Cancels an active listing. Open to the seller and to the token's current owner, so a new owner can
    /// clear a listing left behind by a previous one.
    function cancel(uint256 listingId) external {
        Listing storage listing_ = _active(listingId);
        uint256 tokenId = listing_.tokenId;
        if (msg.sender != listing_.seller && msg.sender != registry.ownerOf(tokenId)) {
            revert NotSellerOrOwner(listingId, msg.sender);
        }
        _cancel(listingId, tokenId);
    }

    /// @notice Buys a listed certificate, paying `expectedPrice` in the listing's currency: as `msg.value` for ETH,
    /// or from the buyer's ERC-20 allowance to this contract.
    /// @param expectedPrice The price the buyer agreed to; the sale reverts unless it is the listing's price.
    /// @dev The certificate moves with `transferFrom`, so the buyer gets no `onERC721Received` callback: a sale
    /// never runs the buyer's code. Contract buyers must be able to handle ERC-721 tokens.
    function buy(uint256 listingId, uint256 expectedPrice) external payable nonReentrant {
        Listing storage listing_ = _active(listingId);
        (address seller, address currency, uint256 tokenId, uint256 price) =
            (listing_.seller, listing_.currency, listing_.tokenId, listing_.price);
        if (price != expectedPrice) revert PriceMismatch(price, expectedPrice);
        if (msg.sender == seller) revert BuyerIsSeller();
        if (!isCurrencyAllowed[currency]) revert CurrencyNotAllowed(currency);
        if (
            registry.ownerOf(tokenId) != seller || registry.transferCount(tokenId) != listing_.transferCount
                || !_isApproved(seller, tokenId)
        ) revert ListingStale(listingId);
        if (!registry.isValid(tokenId)) revert CertificateNotValid(tokenId);
        uint256 expectedValue = currency == ETH ? price : 0;
        if (msg.value != expectedValue) revert IncorrectPayment(expectedValue, msg.value);

        listing_.status = ListingStatus.Sold;
        delete activeListingOf[tokenId];
        uint256 fee = price * listing_.feeBps / BPS;
        proceeds[seller][currency] += price - fee;
        proceeds[feeRecipient][currency] += fee;
        totalOwed[currency] += price;
        emit Sale(listingId, msg.sender, seller, tokenId, currency, price, fee);

        if (currency != ETH) _collect(IERC20(currency), msg.sender, price);
        registry.transferFrom(seller, msg.sender, tokenId);
    }

    /// @notice Pays out the caller's proceeds in `currency`.
    function withdraw(address currency) external nonReentrant {
        uint256 amount = proceeds[msg.sender][currency];
        if (amount == 0) revert NothingToWithdraw(msg.sender, currency);

        delete proceeds[msg.sender][currency];
        totalOwed[currency] -= amount;
        emit ProceedsWithdrawn(msg.sender, currency, amount);

        if (currency == ETH) {
            (bool sent,) = msg.sender.call{value: amount}("");
            if (!sent) revert EthTransferFailed(msg.sender, amount);
        } else {
            IERC20(currency).safeTransfer(msg.sender, amount);
        }
    }

    /// @notice Sets the fee for listings created from now on; existing listings keep theirs.
    function setFee(uint16 newFeeBps) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setFee(newFeeBps);
    }

    /// @notice Sets who is credited the fee of future sales; fees already credited stay with the old recipient.
    function setFeeRecipient(address newRecipient) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setFeeRecipient(newRecipient);
    }

    function setCurrencyAllowed(address currency, bool allowed) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setCurrencyAllowed(currency, allowed);
    }

    /// @notice A listing by id; unknown ids give an empty listing with status `None`.
    function listing(uint256 listingId) external view returns (Listing memory) {
        return _listings[listingId];
    }

    function _cancel(uint256 listingId, uint256 tokenId) private {
        _listings[listingId].status = ListingStatus.Cancelled;
        delete activeListingOf[tokenId];
        emit ListingCancelled(listingId, msg.sender);
    }

    /// @dev Measures what arrived instead of trusting `price`, so a token that takes a transfer fee cannot leave the
    /// ledger owing more than the contract holds.
    function _collect(IERC20 token, address from, uint256 amount) private {
        uint256 balanceBefore = token.balanceOf(address(this));
        token.safeTransferFrom(from, address(this), amount);
        uint256 received = token.balanceOf(address(this)) - balanceBefore;
        if (received != amount) revert PaymentShortfall(amount, received);
    }

    function _setFee(uint16 newFeeBps) private {
        if (newFeeBps > MAX_FEE_BPS) revert FeeTooHigh(newFeeBps, MAX_FEE_BPS);
        emit FeeUpdated(feeBps, newFeeBps);
        feeBps = newFeeBps;
    }

    function _setFeeRecipient(address newRecipient) private {
        if (newRecipient == address(0)) revert ZeroAddress();
        emit FeeRecipientUpdated(feeRecipient, newRecipient);
        feeRecipient = newRecipient;
    }

    function _setCurrencyAllowed(address currency, bool allowed) private {
        isCurrencyAllowed[currency] = allowed;
        emit CurrencyAllowed(currency, allowed);
    }

    function _active(uint256 listingId) private view returns (Listing storage listing_) {
        listing_ = _listings[listingId];
        if (listing_.status != ListingStatus.Active) revert ListingNotActive(listingId);
    }

    function _isApproved(address owner, uint256 tokenId) private view returns (bool) {
        return registry.getApproved(tokenId) == address(this) || registry.isApprovedForAll(owner, address(this));
    }
}
