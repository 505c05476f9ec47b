// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/// @title Pilot registry of LoopLedger: pilots, roles, material classes and the emergency pause.
/// @notice Every other LoopLedger contract asks this registry who may act, in which pilot, on
///         which material class, and whether the system is paused.
interface IPilotRegistry {
    /// @notice Kinds of material class: secondary raw materials (European Waste Catalogue codes)
    ///         and products made by makers (free product codes).
    enum MaterialKind {
        None,
        Secondary,
        Product
    }

    /// @notice The caller lacks `role` in `pilot` (pilot 0 stands for a global role).
    error RegistryUnauthorized(address account, uint16 pilot, uint8 role);
    /// @notice `pilot` has not been registered.
    error RegistryUnknownPilot(uint16 pilot);
    /// @notice `maker` is a maker of `pilot` but has been suspended by the pilot admin.
    error RegistryMakerInactive(uint16 pilot, address maker);
    /// @notice The operator has paused every state change.
    error RegistryPaused();
    /// @notice `materialId` is not a registered material class.
    error RegistryUnknownMaterial(uint16 materialId);
    /// @notice A material class with `code` exists already.
    error RegistryMaterialExists(bytes16 code);
    /// @notice `code` is empty or a pilot with that code exists already.
    error RegistryBadPilotCode(bytes8 code);
    /// @notice `role` is not a role that can be granted here.
    error RegistryInvalidRole(uint8 role);
    /// @notice The zero address cannot hold a role.
    error RegistryZeroAddress();
    /// @notice `code` is not printable ASCII (0x20..0x7e) followed only by zero padding.
    error RegistryBadMaterialCode(bytes16 code);
    /// @notice The admin of `pilot` has registered its `quota` of material classes.
    error RegistryMaterialQuotaReached(uint16 pilot, uint16 quota);
    /// @notice Material kind `kind` is not Secondary or Product.
    error RegistryInvalidMaterialKind(uint8 kind);

    /// @notice A pilot was registered.
    event PilotAdded(uint16 indexed pilot, bytes8 indexed code, bytes2 country, string name, address admin);
    /// @notice `account`'s role bits in `pilot` changed from `previous` to `current` (pilot 0: global roles).
    event RoleChanged(uint16 indexed pilot, address indexed account, address indexed by, uint8 previous, uint8 current);
    /// @notice A material class was registered, shared by every pilot (`pilot` 0) or for one pilot.
    event MaterialRegistered(
        uint16 indexed materialId, bytes16 indexed code, uint16 pilot, MaterialKind kind, address indexed by
    );
    /// @notice The operator set how many material classes the admin of `pilot` may register.
    event MaterialQuotaSet(uint16 indexed pilot, uint16 quota, address indexed by);
    /// @notice The operator paused (true) or resumed (false) every state change.
    event PauseChanged(bool paused, address indexed by);

    /// @notice Reverts unless the system is running, `pilot` exists and `account` holds every bit
    ///         of `role` in it (for the maker role: and is not suspended).
    /// @return materialCount the number of registered material classes (ids 1..materialCount)
    function requireRole(uint16 pilot, address account, uint8 role) external view returns (uint16 materialCount);

    /// @notice Reverts unless the system is running and `pilot` exists.
    function requireActivePilot(uint16 pilot) external view;

    /// @notice Role bits of `account` in `pilot` (pilot 0: global roles).
    function rolesOf(uint16 pilot, address account) external view returns (uint8);

    /// @notice True when the operator has paused the system.
    function paused() external view returns (bool);
}
