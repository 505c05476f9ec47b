// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/// @notice A material lot packed into one storage word, so that creating a lot costs one new slot:
///         bits   0..159 holder, 160..207 grams (uint48), 208..223 pilot, 224..239 material id,
///         240..253 recycled content in basis points (0..10000 fits 14 bits).
/// @dev uint48 grams allow lots of up to 281,474 tonnes, far beyond a maker's lot.
///      A word of zero is a lot that was never created; a created lot always has a holder.
type Lot is uint256;

using LotLib for Lot global;

/// @title Packing and unpacking of material lots.
library LotLib {
    uint256 private constant _ADDRESS_MASK = (1 << 160) - 1;
    uint256 private constant _GRAMS_SHIFT = 160;
    uint256 private constant _GRAMS_MASK = (1 << 48) - 1;
    uint256 private constant _PILOT_SHIFT = 208;
    uint256 private constant _MATERIAL_SHIFT = 224;
    uint256 private constant _RECYCLED_SHIFT = 240;

    function pack(address holder_, uint48 grams_, uint16 pilot_, uint16 material_, uint16 recycledBp_)
        internal
        pure
        returns (Lot)
    {
        return Lot.wrap(
            uint256(uint160(holder_)) | (uint256(grams_) << _GRAMS_SHIFT) | (uint256(pilot_) << _PILOT_SHIFT)
                | (uint256(material_) << _MATERIAL_SHIFT) | (uint256(recycledBp_) << _RECYCLED_SHIFT)
        );
    }

    function exists(Lot lot) internal pure returns (bool) {
        return Lot.unwrap(lot) != 0;
    }

    function holder(Lot lot) internal pure returns (address) {
        // Truncation is the unpacking: each field is masked to its width.
        // forge-lint: disable-next-line(unsafe-typecast)
        return address(uint160(Lot.unwrap(lot) & _ADDRESS_MASK));
    }

    function grams(Lot lot) internal pure returns (uint48) {
        // Truncation is the unpacking: each field is masked to its width.
        // forge-lint: disable-next-line(unsafe-typecast)
        return uint48((Lot.unwrap(lot) >> _GRAMS_SHIFT) & _GRAMS_MASK);
    }

    function pilot(Lot lot) internal pure returns (uint16) {
        // Truncation is the unpacking: each field is masked to its width.
        // forge-lint: disable-next-line(unsafe-typecast)
        return uint16(Lot.unwrap(lot) >> _PILOT_SHIFT);
    }

    function material(Lot lot) internal pure returns (uint16) {
        // Truncation is the unpacking: each field is masked to its width.
        // forge-lint: disable-next-line(unsafe-typecast)
        return uint16(Lot.unwrap(lot) >> _MATERIAL_SHIFT);
    }

    function recycledBp(Lot lot) internal pure returns (uint16) {
        // Truncation is the unpacking: each field is masked to its width.
        // forge-lint: disable-next-line(unsafe-typecast)
        return uint16(Lot.unwrap(lot) >> _RECYCLED_SHIFT);
    }

    /// @notice The same lot with another amount.
    function withGrams(Lot lot, uint48 grams_) internal pure returns (Lot) {
        return Lot.wrap((Lot.unwrap(lot) & ~(_GRAMS_MASK << _GRAMS_SHIFT)) | (uint256(grams_) << _GRAMS_SHIFT));
    }

    /// @notice The same lot held by another account.
    function withHolder(Lot lot, address holder_) internal pure returns (Lot) {
        return Lot.wrap((Lot.unwrap(lot) & ~_ADDRESS_MASK) | uint256(uint160(holder_)));
    }
}
