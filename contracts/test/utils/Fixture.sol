// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {Test} from "./Test.sol";
import {ContributionLedger} from "../../src/ContributionLedger.sol";
import {EngagementToken} from "../../src/EngagementToken.sol";
import {LedgerForwarder} from "../../src/LedgerForwarder.sol";
import {MaterialLedger} from "../../src/MaterialLedger.sol";
import {PilotRegistry} from "../../src/PilotRegistry.sol";
import {RewardCatalogue} from "../../src/RewardCatalogue.sol";
import {IPilotRegistry} from "../../src/interfaces/IPilotRegistry.sol";
import {IMaterialLedger} from "../../src/interfaces/IMaterialLedger.sol";
import {Roles} from "../../src/libraries/Roles.sol";

/// @notice The whole suite deployed with two pilots, three material classes and one account per role.
abstract contract Fixture is Test {
    LedgerForwarder internal forwarder;
    PilotRegistry internal registry;
    MaterialLedger internal ledger;
    ContributionLedger internal contributions;
    EngagementToken internal token;
    RewardCatalogue internal catalogue;

    uint16 internal constant LEUVEN = 1;
    uint16 internal constant KAUNAS = 2;
    uint16 internal wood;
    uint16 internal plastic;
    uint16 internal chair;

    uint256 internal constant ALICE_KEY = 0xA11CE;
    address internal operator = address(this);
    address internal leuvenAdmin = address(0xAD1);
    address internal kaunasAdmin = address(0xAD2);
    address internal alice; // maker in Leuven, signs requests
    address internal bob = address(0xB0B); // maker in Leuven
    address internal carol = address(0xCA201); // maker in Kaunas
    address internal issuer = address(0x155);
    address internal partner = address(0x9A27);
    address internal member = address(0x3E3);
    address internal stranger = address(0x5742);

    uint8 internal constant COLLECTION = uint8(IMaterialLedger.Source.MunicipalCollection);
    uint8 internal constant VIRGIN = uint8(IMaterialLedger.Source.VirginPurchase);

    function setUp() public virtual {
        alice = vm.addr(ALICE_KEY);
        forwarder = new LedgerForwarder();
        registry = new PilotRegistry(operator);
        ledger = new MaterialLedger(registry, address(forwarder));
        contributions = new ContributionLedger(registry, address(forwarder));
        token = new EngagementToken(registry, address(forwarder));
        catalogue = new RewardCatalogue(registry, token, address(forwarder));
        token.setCatalogue(address(catalogue));

        registry.addPilot("LEU", "BE", "Leuven", leuvenAdmin);
        registry.addPilot("KAU", "LT", "Kaunas", kaunasAdmin);
        wood = registry.registerMaterial(0, "20 01 38", IPilotRegistry.MaterialKind.Secondary);
        plastic = registry.registerMaterial(0, "15 01 02", IPilotRegistry.MaterialKind.Secondary);
        chair = registry.registerMaterial(0, "P-CHAIR", IPilotRegistry.MaterialKind.Product);

        token.setAwardCap(LEUVEN, 1_000_000);
        token.setAwardCap(KAUNAS, 1_000_000);
        vm.startPrank(leuvenAdmin);
        registry.setPilotRole(LEUVEN, alice, Roles.MAKER, true);
        registry.setPilotRole(LEUVEN, bob, Roles.MAKER, true);
        registry.setPilotRole(LEUVEN, issuer, Roles.ISSUER, true);
        registry.setPilotRole(LEUVEN, partner, Roles.PARTNER, true);
        token.setAwardBudget(LEUVEN, 1_000_000);
        vm.stopPrank();
        vm.prank(kaunasAdmin);
        registry.setPilotRole(KAUNAS, carol, Roles.MAKER, true);
    }

    function _intake(address maker, uint16 material, uint8 source, uint48 grams) internal returns (uint256 lotId) {
        vm.prank(maker);
        lotId = ledger.intake(LEUVEN, material, source, grams, keccak256("weigh ticket"));
    }

    function _outputs(uint16 m1, uint48 g1, uint16 m2, uint48 g2)
        internal
        pure
        returns (IMaterialLedger.Output[] memory outputs)
    {
        outputs = new IMaterialLedger.Output[](2);
        outputs[0] = IMaterialLedger.Output(m1, g1);
        outputs[1] = IMaterialLedger.Output(m2, g2);
    }

    function _pair(uint256 a, uint256 b) internal pure returns (uint256[] memory xs) {
        xs = new uint256[](2);
        xs[0] = a;
        xs[1] = b;
    }

    function _pair48(uint48 a, uint48 b) internal pure returns (uint48[] memory xs) {
        xs = new uint48[](2);
        xs[0] = a;
        xs[1] = b;
    }
}
