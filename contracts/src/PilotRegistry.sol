// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IPilotRegistry} from "./interfaces/IPilotRegistry.sol";
import {Roles} from "./libraries/Roles.sol";

/// @title PilotRegistry
/// @notice Pilots, per-pilot and global roles, material classes and the emergency pause.
/// @dev Administration is done directly by the role holders (no meta-transactions): these are
///      rare, deliberate acts of a municipality or the consortium operator.
contract PilotRegistry is IPilotRegistry {
    struct Pilot {
        bytes8 code;
        bytes2 country;
    }

    struct Material {
        bytes16 code;
        MaterialKind kind;
        uint16 pilot;
    }

    /// @dev Material classes a pilot admin registered, and how many it may (0: the default).
    struct MaterialQuota {
        uint16 used;
        uint16 quota;
    }

    /// @notice Material classes a pilot admin may register unless the operator sets another quota.
    uint16 public constant DEFAULT_MATERIAL_QUOTA = 64;

    /// @dev Counters and the pause flag share one slot: `requireRole` reads it on every action.
    struct Config {
        uint16 pilotCount;
        uint16 materialCount;
        bool paused;
    }

    Config private _config;
    mapping(uint16 pilot => Pilot) private _pilots;
    mapping(bytes8 code => uint16 pilot) private _pilotByCode;
    mapping(uint16 pilot => mapping(address account => uint8 roles)) private _roles;
    mapping(uint16 materialId => Material) private _materials;
    /// @dev Codes per namespace: pilot 0 holds the operator's codes, shared by every pilot; a
    ///      pilot's own codes cannot squat another pilot's.
    mapping(uint16 pilot => mapping(bytes16 code => uint16 materialId)) private _materialByCode;
    mapping(uint16 pilot => MaterialQuota) private _materialQuotas;

    /// @param operator the first consortium operator
    constructor(address operator) {
        if (operator == address(0)) revert RegistryZeroAddress();
        _setRoles(Roles.GLOBAL, operator, Roles.OPERATOR);
    }

    modifier onlyOperator() {
        _checkRoleBits(Roles.GLOBAL, msg.sender, Roles.OPERATOR);
        _;
    }

    // ----------------------------------------------------------------------------------------
    // Administration
    // ----------------------------------------------------------------------------------------

    /// @notice Registers a pilot city and its admin (the municipality). Operator only.
    /// @dev Emits PilotAdded and RoleChanged for the admin.
    function addPilot(bytes8 code, bytes2 country, string calldata name, address admin)
        external
        onlyOperator
        returns (uint16 pilot)
    {
        if (code == bytes8(0) || _pilotByCode[code] != 0) revert RegistryBadPilotCode(code);
        if (admin == address(0)) revert RegistryZeroAddress();
        pilot = ++_config.pilotCount;
        _pilots[pilot] = Pilot(code, country);
        _pilotByCode[code] = pilot;
        emit PilotAdded(pilot, code, country, name, admin);
        _setRoles(pilot, admin, _roles[pilot][admin] | Roles.ADMIN);
    }

    /// @notice Grants or revokes global roles (operator, auditor). Operator only.
    /// @dev Emits RoleChanged under pilot 0.
    function setGlobalRole(address account, uint8 role, bool granted) external onlyOperator {
        if (role == 0 || role & ~Roles.GLOBAL_ROLES != 0) revert RegistryInvalidRole(role);
        if (account == address(0)) revert RegistryZeroAddress();
        uint8 current = _roles[Roles.GLOBAL][account];
        _setRoles(Roles.GLOBAL, account, granted ? current | role : current & ~role);
    }

    /// @notice Grants or revokes per-pilot roles. The pilot admin role is granted by the operator;
    ///         maker, reward partner and award issuer by the pilot admin or the operator.
    /// @dev Revoking the maker role also clears a suspension. Emits RoleChanged.
    function setPilotRole(uint16 pilot, address account, uint8 role, bool granted) external {
        if (role == 0 || role & ~Roles.PILOT_ROLES != 0) revert RegistryInvalidRole(role);
        if (account == address(0)) revert RegistryZeroAddress();
        _checkPilot(pilot);
        if (role & Roles.ADMIN != 0 || !_hasBits(pilot, msg.sender, Roles.ADMIN)) {
            _checkRoleBits(Roles.GLOBAL, msg.sender, Roles.OPERATOR);
        }
        uint8 current = _roles[pilot][account];
        uint8 next = granted ? current | role : current & ~role;
        if (next & Roles.MAKER == 0) next &= ~Roles.SUSPENDED;
        _setRoles(pilot, account, next);
    }

    /// @notice Suspends (active = false) or reinstates a maker. Pilot admin or operator.
    /// @dev Emits RoleChanged with the SUSPENDED bit.
    function setMakerActive(uint16 pilot, address maker, bool active) external {
        _checkPilot(pilot);
        if (!_hasBits(pilot, msg.sender, Roles.ADMIN)) _checkRoleBits(Roles.GLOBAL, msg.sender, Roles.OPERATOR);
        uint8 current = _roles[pilot][maker];
        if (current & Roles.MAKER == 0) revert RegistryUnauthorized(maker, pilot, Roles.MAKER);
        _setRoles(pilot, maker, active ? current & ~Roles.SUSPENDED : current | Roles.SUSPENDED);
    }

    /// @notice Registers a material class (an EWC code for secondary materials, a free code for
    ///         products). Codes are printable ASCII (0x20..0x7e), left-aligned and zero-padded.
    ///         The operator registers any kind, shared by every pilot (`pilot` 0) or for one
    ///         pilot; a pilot admin registers products for its own pilot only, within the
    ///         pilot's quota. A pilot's own code cannot repeat a shared one.
    /// @dev Emits MaterialRegistered. Ids start at 1 and are never reused.
    function registerMaterial(uint16 pilot, bytes16 code, MaterialKind kind) external returns (uint16 materialId) {
        if (kind != MaterialKind.Secondary && kind != MaterialKind.Product) {
            revert RegistryInvalidMaterialKind(uint8(kind));
        }
        _checkCode(code);
        bool operator = _hasBits(Roles.GLOBAL, msg.sender, Roles.OPERATOR);
        if (pilot != 0) _checkPilot(pilot);
        if (!operator) {
            if (pilot == 0) revert RegistryUnknownPilot(pilot);
            if (kind != MaterialKind.Product) revert RegistryUnauthorized(msg.sender, Roles.GLOBAL, Roles.OPERATOR);
            _checkRoleBits(pilot, msg.sender, Roles.ADMIN);
            MaterialQuota memory quota = _materialQuotas[pilot];
            uint16 allowed = quota.quota == 0 ? DEFAULT_MATERIAL_QUOTA : quota.quota;
            if (quota.used >= allowed) revert RegistryMaterialQuotaReached(pilot, allowed);
            _materialQuotas[pilot].used = quota.used + 1;
        }
        if (_materialByCode[Roles.GLOBAL][code] != 0 || _materialByCode[pilot][code] != 0) {
            revert RegistryMaterialExists(code);
        }
        materialId = ++_config.materialCount;
        _materials[materialId] = Material(code, kind, pilot);
        _materialByCode[pilot][code] = materialId;
        emit MaterialRegistered(materialId, code, pilot, kind, msg.sender);
    }

    /// @notice Sets how many material classes the admin of `pilot` may register (0: the default).
    ///         Operator only.
    /// @dev Emits MaterialQuotaSet.
    function setMaterialQuota(uint16 pilot, uint16 quota) external onlyOperator {
        _checkPilot(pilot);
        _materialQuotas[pilot].quota = quota;
        emit MaterialQuotaSet(pilot, quota == 0 ? DEFAULT_MATERIAL_QUOTA : quota, msg.sender);
    }

    /// @notice Pauses (true) or resumes (false) every state change of LoopLedger. Operator only.
    /// @dev Emits PauseChanged.
    function setPaused(bool paused_) external onlyOperator {
        _config.paused = paused_;
        emit PauseChanged(paused_, msg.sender);
    }

    // ----------------------------------------------------------------------------------------
    // Checks used by the other contracts
    // ----------------------------------------------------------------------------------------

    /// @inheritdoc IPilotRegistry
    function requireRole(uint16 pilot, address account, uint8 role) external view returns (uint16 materialCount) {
        Config memory config = _config;
        if (config.paused) revert RegistryPaused();
        if (pilot == 0 || pilot > config.pilotCount) revert RegistryUnknownPilot(pilot);
        uint8 roles = _roles[pilot][account];
        if (roles & role != role) revert RegistryUnauthorized(account, pilot, role);
        if (role & Roles.MAKER != 0 && roles & Roles.SUSPENDED != 0) revert RegistryMakerInactive(pilot, account);
        return config.materialCount;
    }

    /// @inheritdoc IPilotRegistry
    function requireActivePilot(uint16 pilot) external view {
        Config memory config = _config;
        if (config.paused) revert RegistryPaused();
        if (pilot == 0 || pilot > config.pilotCount) revert RegistryUnknownPilot(pilot);
    }

    // ----------------------------------------------------------------------------------------
    // Views
    // ----------------------------------------------------------------------------------------

    /// @inheritdoc IPilotRegistry
    function rolesOf(uint16 pilot, address account) external view returns (uint8) {
        return _roles[pilot][account];
    }

    /// @inheritdoc IPilotRegistry
    function paused() external view returns (bool) {
        return _config.paused;
    }

    /// @notice Number of registered pilots (ids 1..pilotCount).
    function pilotCount() external view returns (uint16) {
        return _config.pilotCount;
    }

    /// @notice Number of registered material classes (ids 1..materialCount).
    function materialCount() external view returns (uint16) {
        return _config.materialCount;
    }

    /// @notice Code and country of `pilot`.
    function pilotInfo(uint16 pilot) external view returns (bytes8 code, bytes2 country) {
        _checkPilot(pilot);
        Pilot memory p = _pilots[pilot];
        return (p.code, p.country);
    }

    /// @notice Pilot id for a pilot code (0 when unknown).
    function pilotIdOf(bytes8 code) external view returns (uint16) {
        return _pilotByCode[code];
    }

    /// @notice Code and kind of material class `materialId`.
    function materialInfo(uint16 materialId) external view returns (bytes16 code, MaterialKind kind) {
        Material memory m = _materials[materialId];
        if (m.kind == MaterialKind.None) revert RegistryUnknownMaterial(materialId);
        return (m.code, m.kind);
    }

    /// @notice Material id of a code shared by every pilot (0 when unknown).
    function materialIdOf(bytes16 code) external view returns (uint16) {
        return _materialByCode[Roles.GLOBAL][code];
    }

    /// @notice Material id of a code as `pilot` sees it: its own code, else a shared one (0 when unknown).
    function materialIdIn(uint16 pilot, bytes16 code) external view returns (uint16) {
        uint16 own = _materialByCode[pilot][code];
        return own != 0 ? own : _materialByCode[Roles.GLOBAL][code];
    }

    /// @notice The pilot that owns material class `materialId` (0: shared by every pilot).
    function materialPilot(uint16 materialId) external view returns (uint16) {
        Material memory m = _materials[materialId];
        if (m.kind == MaterialKind.None) revert RegistryUnknownMaterial(materialId);
        return m.pilot;
    }

    /// @notice Material classes the admin of `pilot` has registered, and how many it may.
    function materialQuotaOf(uint16 pilot) external view returns (uint16 used, uint16 quota) {
        MaterialQuota memory q = _materialQuotas[pilot];
        return (q.used, q.quota == 0 ? DEFAULT_MATERIAL_QUOTA : q.quota);
    }

    // ----------------------------------------------------------------------------------------
    // Internals
    // ----------------------------------------------------------------------------------------

    function _setRoles(uint16 pilot, address account, uint8 next) private {
        uint8 previous = _roles[pilot][account];
        _roles[pilot][account] = next;
        emit RoleChanged(pilot, account, msg.sender, previous, next);
    }

    function _hasBits(uint16 pilot, address account, uint8 role) private view returns (bool) {
        return _roles[pilot][account] & role == role;
    }

    function _checkRoleBits(uint16 pilot, address account, uint8 role) private view {
        if (!_hasBits(pilot, account, role)) revert RegistryUnauthorized(account, pilot, role);
    }

    /// @dev Printable ASCII from the first byte, then only zero padding: what every reader can
    ///      show and escape, and no two spellings of one code.
    function _checkCode(bytes16 code) private pure {
        bool padding;
        for (uint256 i; i < 16; ++i) {
            uint8 c = uint8(code[i]);
            if (c == 0) {
                if (i == 0) revert RegistryBadMaterialCode(code);
                padding = true;
            } else if (padding || c < 0x20 || c > 0x7e) {
                revert RegistryBadMaterialCode(code);
            }
        }
    }

    function _checkPilot(uint16 pilot) private view {
        if (pilot == 0 || pilot > _config.pilotCount) revert RegistryUnknownPilot(pilot);
    }
}
