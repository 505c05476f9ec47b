// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {Fixture} from "./utils/Fixture.sol";
import {IPilotRegistry} from "../src/interfaces/IPilotRegistry.sol";
import {Roles} from "../src/libraries/Roles.sol";

contract PilotRegistryTest is Fixture {
    function test_addPilot_registersCodeCountryAndAdmin() public {
        vm.expectEmit();
        emit IPilotRegistry.PilotAdded(3, "VEN", "NL", "Venlo", address(0xAD3));
        uint16 pilot = registry.addPilot("VEN", "NL", "Venlo", address(0xAD3));
        assertEq(pilot, 3, "third pilot");
        (bytes8 code, bytes2 country) = registry.pilotInfo(pilot);
        assertEq(bytes32(code), bytes32(bytes8("VEN")), "code");
        assertEq(bytes32(country), bytes32(bytes2("NL")), "country");
        assertEq(registry.pilotIdOf("VEN"), 3, "lookup by code");
        assertEq(registry.rolesOf(pilot, address(0xAD3)), Roles.ADMIN, "admin role");
        assertEq(registry.pilotCount(), 3, "count");
    }

    function testRevert_addPilot_onlyOperator() public {
        vm.prank(stranger);
        vm.expectRevert(
            abi.encodeWithSelector(IPilotRegistry.RegistryUnauthorized.selector, stranger, uint16(0), Roles.OPERATOR)
        );
        registry.addPilot("VEN", "NL", "Venlo", stranger);
    }

    function testRevert_addPilot_badCodeOrAdmin() public {
        vm.expectRevert(abi.encodeWithSelector(IPilotRegistry.RegistryBadPilotCode.selector, bytes8("LEU")));
        registry.addPilot("LEU", "BE", "Leuven again", leuvenAdmin);
        vm.expectRevert(abi.encodeWithSelector(IPilotRegistry.RegistryBadPilotCode.selector, bytes8(0)));
        registry.addPilot(bytes8(0), "BE", "Nameless", leuvenAdmin);
        vm.expectRevert(IPilotRegistry.RegistryZeroAddress.selector);
        registry.addPilot("VEN", "NL", "Venlo", address(0));
    }

    function test_setPilotRole_byAdminGrantsAndRevokes() public {
        vm.startPrank(leuvenAdmin);
        registry.setPilotRole(LEUVEN, stranger, Roles.MAKER | Roles.ISSUER, true);
        assertEq(registry.rolesOf(LEUVEN, stranger), Roles.MAKER | Roles.ISSUER, "granted");
        registry.setPilotRole(LEUVEN, stranger, Roles.MAKER, false);
        assertEq(registry.rolesOf(LEUVEN, stranger), Roles.ISSUER, "revoked");
        vm.stopPrank();
    }

    function testRevert_setPilotRole_adminCannotGrantAdminOrActElsewhere() public {
        vm.startPrank(leuvenAdmin);
        vm.expectRevert(
            abi.encodeWithSelector(IPilotRegistry.RegistryUnauthorized.selector, leuvenAdmin, uint16(0), Roles.OPERATOR)
        );
        registry.setPilotRole(LEUVEN, stranger, Roles.ADMIN, true);
        vm.expectRevert(
            abi.encodeWithSelector(IPilotRegistry.RegistryUnauthorized.selector, leuvenAdmin, uint16(0), Roles.OPERATOR)
        );
        registry.setPilotRole(KAUNAS, stranger, Roles.MAKER, true);
        vm.stopPrank();
    }

    function testRevert_setPilotRole_invalidRoleZeroAddressUnknownPilot() public {
        vm.expectRevert(abi.encodeWithSelector(IPilotRegistry.RegistryInvalidRole.selector, uint8(16)));
        registry.setPilotRole(LEUVEN, stranger, 16, true);
        vm.expectRevert(abi.encodeWithSelector(IPilotRegistry.RegistryInvalidRole.selector, uint8(0)));
        registry.setPilotRole(LEUVEN, stranger, 0, true);
        vm.expectRevert(IPilotRegistry.RegistryZeroAddress.selector);
        registry.setPilotRole(LEUVEN, address(0), Roles.MAKER, true);
        vm.expectRevert(abi.encodeWithSelector(IPilotRegistry.RegistryUnknownPilot.selector, uint16(7)));
        registry.setPilotRole(7, stranger, Roles.MAKER, true);
    }

    function test_setMakerActive_suspendsAndReinstates() public {
        vm.prank(leuvenAdmin);
        registry.setMakerActive(LEUVEN, bob, false);
        vm.expectRevert(abi.encodeWithSelector(IPilotRegistry.RegistryMakerInactive.selector, LEUVEN, bob));
        registry.requireRole(LEUVEN, bob, Roles.MAKER);
        vm.prank(leuvenAdmin);
        registry.setMakerActive(LEUVEN, bob, true);
        registry.requireRole(LEUVEN, bob, Roles.MAKER);
    }

    function testRevert_setMakerActive_nonMakerOrNonAdmin() public {
        vm.prank(leuvenAdmin);
        vm.expectRevert(abi.encodeWithSelector(IPilotRegistry.RegistryUnauthorized.selector, stranger, LEUVEN, Roles.MAKER));
        registry.setMakerActive(LEUVEN, stranger, false);
        vm.prank(bob);
        vm.expectRevert(abi.encodeWithSelector(IPilotRegistry.RegistryUnauthorized.selector, bob, uint16(0), Roles.OPERATOR));
        registry.setMakerActive(LEUVEN, alice, false);
    }

    function test_registerMaterial_operatorAnyKindAdminProductsOnly() public {
        uint16 glass = registry.registerMaterial(0, "20 01 02", IPilotRegistry.MaterialKind.Secondary);
        assertEq(glass, 4, "fourth material");
        (bytes16 code, IPilotRegistry.MaterialKind kind) = registry.materialInfo(glass);
        assertEq(bytes32(code), bytes32(bytes16("20 01 02")), "code");
        assertTrue(kind == IPilotRegistry.MaterialKind.Secondary, "kind");
        vm.prank(leuvenAdmin);
        uint16 lamp = registry.registerMaterial(LEUVEN, "P-LAMP", IPilotRegistry.MaterialKind.Product);
        assertEq(registry.materialIdIn(LEUVEN, "P-LAMP"), lamp, "lookup");
        assertEq(registry.materialIdIn(LEUVEN, "20 01 02"), glass, "shared codes seen from a pilot");
        assertEq(registry.materialPilot(lamp), LEUVEN, "owned by Leuven");
        assertEq(registry.materialCount(), 5, "count");
    }

    /// @notice A pilot admin cannot squat a code another pilot needs: codes of a pilot are its own.
    function test_registerMaterial_codesPerPilot() public {
        vm.prank(leuvenAdmin);
        uint16 leuvenLamp = registry.registerMaterial(LEUVEN, "P-LAMP", IPilotRegistry.MaterialKind.Product);
        vm.prank(kaunasAdmin);
        uint16 kaunasLamp = registry.registerMaterial(KAUNAS, "P-LAMP", IPilotRegistry.MaterialKind.Product);
        assertTrue(leuvenLamp != kaunasLamp, "two classes");
        assertEq(registry.materialIdIn(KAUNAS, "P-LAMP"), kaunasLamp, "Kaunas sees its own");
        assertEq(registry.materialIdOf("P-LAMP"), 0, "not shared");
        vm.prank(kaunasAdmin);
        vm.expectRevert(abi.encodeWithSelector(IPilotRegistry.RegistryMaterialExists.selector, bytes16("P-CHAIR")));
        registry.registerMaterial(KAUNAS, "P-CHAIR", IPilotRegistry.MaterialKind.Product);
    }

    /// @notice A pilot admin cannot use up the material ids: its registrations have a quota.
    function testRevert_registerMaterial_quota() public {
        registry.setMaterialQuota(KAUNAS, 2);
        vm.startPrank(kaunasAdmin);
        registry.registerMaterial(KAUNAS, "P-1", IPilotRegistry.MaterialKind.Product);
        registry.registerMaterial(KAUNAS, "P-2", IPilotRegistry.MaterialKind.Product);
        vm.expectRevert(abi.encodeWithSelector(IPilotRegistry.RegistryMaterialQuotaReached.selector, KAUNAS, uint16(2)));
        registry.registerMaterial(KAUNAS, "P-3", IPilotRegistry.MaterialKind.Product);
        vm.expectRevert(
            abi.encodeWithSelector(IPilotRegistry.RegistryUnauthorized.selector, kaunasAdmin, uint16(0), Roles.OPERATOR)
        );
        registry.setMaterialQuota(KAUNAS, 100);
        vm.stopPrank();
        (uint16 used, uint16 quota) = registry.materialQuotaOf(LEUVEN);
        assertEq(used, 0, "Leuven used none");
        assertEq(quota, registry.DEFAULT_MATERIAL_QUOTA(), "default quota");
    }

    /// @notice The poisoned code of issue 13 (0xff bytes, a Latin-1 name, a control byte, a gap
    ///         in the padding) never reaches the chain: codes are printable ASCII.
    function testRevert_registerMaterial_notPrintableAscii() public {
        bytes16[5] memory bad = [
            bytes16(type(uint128).max),
            bytes16(bytes("CAF\xc9")),
            bytes16(bytes("P-\x07")),
            bytes16(bytes("P\x00X")),
            bytes16(0)
        ];
        for (uint256 i; i < bad.length; ++i) {
            vm.prank(leuvenAdmin);
            vm.expectRevert(abi.encodeWithSelector(IPilotRegistry.RegistryBadMaterialCode.selector, bad[i]));
            registry.registerMaterial(LEUVEN, bad[i], IPilotRegistry.MaterialKind.Product);
        }
        registry.registerMaterial(0, "<img src=x>", IPilotRegistry.MaterialKind.Product); // printable: allowed
    }

    function testFuzz_registerMaterial_onlyPrintableAscii(bytes16 code) public {
        bool printable = code[0] != 0;
        bool padding;
        for (uint256 i; i < 16; ++i) {
            uint8 c = uint8(code[i]);
            if (c == 0) padding = true;
            else if (padding || c < 0x20 || c > 0x7e) printable = false;
        }
        (bool ok,) = address(registry).call(
            abi.encodeCall(registry.registerMaterial, (0, code, IPilotRegistry.MaterialKind.Product))
        );
        bool known = code == bytes16("20 01 38") || code == bytes16("15 01 02") || code == bytes16("P-CHAIR");
        assertEq(ok, printable && !known, "registered iff printable ASCII and new");
    }

    function testRevert_registerMaterial() public {
        vm.expectRevert(abi.encodeWithSelector(IPilotRegistry.RegistryMaterialExists.selector, bytes16("20 01 38")));
        registry.registerMaterial(0, "20 01 38", IPilotRegistry.MaterialKind.Secondary);
        vm.expectRevert(abi.encodeWithSelector(IPilotRegistry.RegistryInvalidMaterialKind.selector, uint8(0)));
        registry.registerMaterial(0, "X", IPilotRegistry.MaterialKind.None);
        vm.prank(leuvenAdmin);
        vm.expectRevert(
            abi.encodeWithSelector(IPilotRegistry.RegistryUnauthorized.selector, leuvenAdmin, uint16(0), Roles.OPERATOR)
        );
        registry.registerMaterial(LEUVEN, "20 01 40", IPilotRegistry.MaterialKind.Secondary);
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IPilotRegistry.RegistryUnauthorized.selector, stranger, LEUVEN, Roles.ADMIN));
        registry.registerMaterial(LEUVEN, "P-X", IPilotRegistry.MaterialKind.Product);
        vm.expectRevert(abi.encodeWithSelector(IPilotRegistry.RegistryUnknownMaterial.selector, uint16(42)));
        registry.materialInfo(42);
    }

    function test_globalRoles_andPause() public {
        registry.setGlobalRole(stranger, Roles.AUDITOR, true);
        assertEq(registry.rolesOf(0, stranger), Roles.AUDITOR, "auditor");
        vm.expectRevert(abi.encodeWithSelector(IPilotRegistry.RegistryInvalidRole.selector, uint8(4)));
        registry.setGlobalRole(stranger, 4, true);
        registry.setPaused(true);
        assertTrue(registry.paused(), "paused");
        vm.expectRevert(IPilotRegistry.RegistryPaused.selector);
        registry.requireActivePilot(LEUVEN);
        registry.setPaused(false);
        registry.requireActivePilot(LEUVEN);
        vm.prank(stranger);
        vm.expectRevert(
            abi.encodeWithSelector(IPilotRegistry.RegistryUnauthorized.selector, stranger, uint16(0), Roles.OPERATOR)
        );
        registry.setPaused(true);
    }

    function testRevert_pilotInfo_unknown() public {
        vm.expectRevert(abi.encodeWithSelector(IPilotRegistry.RegistryUnknownPilot.selector, uint16(0)));
        registry.pilotInfo(0);
        vm.expectRevert(abi.encodeWithSelector(IPilotRegistry.RegistryUnknownPilot.selector, uint16(3)));
        registry.requireActivePilot(3);
    }
}
