// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {Fixture} from "./utils/Fixture.sol";
import {CommunityProgramme} from "../src/CommunityProgramme.sol";
import {ICommunityProgramme} from "../src/interfaces/ICommunityProgramme.sol";
import {IEngagementToken} from "../src/interfaces/IEngagementToken.sol";
import {IPilotRegistry} from "../src/interfaces/IPilotRegistry.sol";
import {Roles} from "../src/libraries/Roles.sol";
import {CommunityHandler} from "./handlers/CommunityHandler.sol";

/// @notice The suite plus the community programme, an award issuer of both pilots, with one
///         Leuven event open now whose QR tokens the staff key signs.
abstract contract CommunityFixture is Fixture {
    CommunityProgramme internal programme;
    uint256 internal constant STAFF_KEY = 0x57AFF;
    address internal staffKey;
    address internal kaunasIssuer = address(0x1552);
    uint32 internal constant T0 = 1_750_000_000;
    uint8 internal constant WORKSHOP = uint8(ICommunityProgramme.EventKind.Workshop);
    uint8 internal constant TRAINING = uint8(ICommunityProgramme.EventKind.Training);
    uint256 internal eventId;

    function setUp() public virtual override {
        super.setUp();
        vm.warp(T0);
        staffKey = vm.addr(STAFF_KEY);
        programme = new CommunityProgramme(registry, token, address(forwarder));
        vm.prank(leuvenAdmin);
        registry.setPilotRole(LEUVEN, address(programme), Roles.ISSUER, true);
        vm.startPrank(kaunasAdmin);
        registry.setPilotRole(KAUNAS, address(programme), Roles.ISSUER, true);
        registry.setPilotRole(KAUNAS, kaunasIssuer, Roles.ISSUER, true);
        token.setAwardBudget(KAUNAS, 1_000);
        vm.stopPrank();
        eventId = _createEvent(LEUVEN, WORKSHOP, T0 - 1 hours, T0 + 2 hours, 25);
    }

    function _createEvent(uint16 pilot, uint8 kind, uint32 opens, uint32 closes, uint16 points)
        internal
        returns (uint256)
    {
        vm.prank(pilot == LEUVEN ? issuer : kaunasIssuer);
        return programme.createEvent(pilot, kind, opens, closes, points, staffKey, keccak256("repair cafe hall"));
    }

    /// @dev A check-in token for `id` valid until `notAfter`, signed with `key` (EIP-2098 form).
    function _token(uint256 key, uint256 id, uint64 notAfter) internal view returns (bytes32 r, bytes32 vs) {
        (uint8 v, bytes32 r_, bytes32 s) = vm.sign(key, programme.checkInDigest(id, notAfter));
        r = r_;
        vs = bytes32(uint256(v - 27) << 255 | uint256(s));
    }

    function _checkIn(address who, uint256 id) internal {
        uint64 notAfter = uint64(block.timestamp + 60);
        (bytes32 r, bytes32 vs) = _token(STAFF_KEY, id, notAfter);
        vm.prank(who);
        programme.checkIn(id, notAfter, r, vs);
    }
}

contract CommunityProgrammeTest is CommunityFixture {
    function test_checkIn_recordsAttendanceAndAwardsPoints() public {
        vm.expectEmit();
        emit ICommunityProgramme.CheckedIn(eventId, member, LEUVEN);
        vm.expectEmit();
        emit IEngagementToken.PointsAwarded(LEUVEN, address(programme), member, 25, 7, 999_975);
        _checkIn(member, eventId);
        assertTrue(programme.attended(member, eventId), "attended");
        assertEq(token.balanceOf(member), 25, "points");
    }

    function testRevert_checkIn_twice() public {
        _checkIn(member, eventId);
        uint64 notAfter = uint64(block.timestamp + 30);
        (bytes32 r, bytes32 vs) = _token(STAFF_KEY, eventId, notAfter);
        vm.prank(member);
        vm.expectRevert(abi.encodeWithSelector(ICommunityProgramme.CommunityAlreadyCheckedIn.selector, eventId, member));
        programme.checkIn(eventId, notAfter, r, vs);
        assertEq(token.balanceOf(member), 25, "awarded once");
        _checkIn(stranger, eventId); // another member checks in with the same token
        assertEq(token.balanceOf(stranger), 25, "other member");
    }

    function testRevert_checkIn_outsideWindow() public {
        uint256 later = _createEvent(LEUVEN, WORKSHOP, T0 + 1 days, T0 + 1 days + 3 hours, 10);
        uint64 notAfter = uint64(block.timestamp + 60);
        (bytes32 r, bytes32 vs) = _token(STAFF_KEY, later, notAfter);
        vm.prank(member);
        vm.expectRevert(
            abi.encodeWithSelector(
                ICommunityProgramme.CommunityOutsideWindow.selector, later, T0, T0 + 1 days, T0 + 1 days + 3 hours
            )
        );
        programme.checkIn(later, notAfter, r, vs);
        vm.warp(T0 + 2 hours + 1);
        notAfter = uint64(block.timestamp + 60);
        (r, vs) = _token(STAFF_KEY, eventId, notAfter);
        vm.prank(member);
        vm.expectRevert(
            abi.encodeWithSelector(
                ICommunityProgramme.CommunityOutsideWindow.selector, eventId, T0 + 2 hours + 1, T0 - 1 hours, T0 + 2 hours
            )
        );
        programme.checkIn(eventId, notAfter, r, vs);
        assertEq(token.balanceOf(member), 0, "nothing awarded");
    }

    function testRevert_checkIn_expiredOrLongLivedOrForeignToken() public {
        uint64 past = uint64(block.timestamp - 1);
        (bytes32 r, bytes32 vs) = _token(STAFF_KEY, eventId, past);
        vm.prank(member);
        vm.expectRevert(abi.encodeWithSelector(ICommunityProgramme.CommunityTokenExpired.selector, past, T0));
        programme.checkIn(eventId, past, r, vs);
        uint64 far = uint64(block.timestamp + 11 minutes);
        (r, vs) = _token(STAFF_KEY, eventId, far);
        vm.prank(member);
        vm.expectRevert(abi.encodeWithSelector(ICommunityProgramme.CommunityTokenExpired.selector, far, T0));
        programme.checkIn(eventId, far, r, vs);
        uint64 notAfter = uint64(block.timestamp + 60);
        (r, vs) = _token(ALICE_KEY, eventId, notAfter);
        vm.prank(member);
        vm.expectRevert(abi.encodeWithSelector(ICommunityProgramme.CommunityBadTokenSigner.selector, eventId, alice));
        programme.checkIn(eventId, notAfter, r, vs);
        // A token of one event does not open another.
        uint256 other = _createEvent(LEUVEN, WORKSHOP, T0 - 1, T0 + 1 hours, 5);
        (r, vs) = _token(STAFF_KEY, eventId, notAfter);
        vm.prank(member);
        vm.expectRevert();
        programme.checkIn(other, notAfter, r, vs);
        assertTrue(!programme.attended(member, other), "not attended");
    }

    function testRevert_checkIn_beyondBudget() public {
        uint256 kaunasEvent = _createEvent(KAUNAS, WORKSHOP, T0, T0 + 1 hours, 600);
        _checkIn(member, kaunasEvent);
        uint64 notAfter = uint64(block.timestamp + 60);
        (bytes32 r, bytes32 vs) = _token(STAFF_KEY, kaunasEvent, notAfter);
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IEngagementToken.TokenBudgetExceeded.selector, KAUNAS, 600, 400));
        programme.checkIn(kaunasEvent, notAfter, r, vs);
        assertTrue(!programme.attended(stranger, kaunasEvent), "a failed award records no attendance");
        assertEq(token.awardBudget(KAUNAS), 400, "budget");
    }

    function testRevert_createEvent_staffOnlyAndValid() public {
        vm.prank(member);
        vm.expectRevert(abi.encodeWithSelector(IPilotRegistry.RegistryUnauthorized.selector, member, LEUVEN, Roles.ISSUER));
        programme.createEvent(LEUVEN, WORKSHOP, T0, T0 + 1, 1, staffKey, 0);
        vm.startPrank(issuer);
        vm.expectRevert(abi.encodeWithSelector(ICommunityProgramme.CommunityUnknownEventKind.selector, 9));
        programme.createEvent(LEUVEN, 9, T0, T0 + 1, 1, staffKey, 0);
        vm.expectRevert(abi.encodeWithSelector(ICommunityProgramme.CommunityBadWindow.selector, T0, T0));
        programme.createEvent(LEUVEN, WORKSHOP, T0, T0, 1, staffKey, 0);
        vm.expectRevert(ICommunityProgramme.CommunityBadEvent.selector);
        programme.createEvent(LEUVEN, WORKSHOP, T0, T0 + 1, 0, staffKey, 0);
        vm.stopPrank();
    }

    function test_credential_validEverywhereAndNotTransferable() public {
        uint256 training = _createEvent(LEUVEN, TRAINING, T0 - 10, T0 + 4 hours, 40);
        _checkIn(member, training);
        vm.prank(issuer);
        uint256 id = programme.issueCredential(training, member, "WELDING", 2);
        ICommunityProgramme.Credential memory c = programme.credentialOf(id);
        assertEq(c.holder, member, "holder");
        assertEq(c.pilot, LEUVEN, "issuing pilot");
        assertEq(c.level, 2, "level");
        assertEq(c.issuedAt, T0, "date");
        assertEq(programme.ownerOf(id), member, "owner");
        assertTrue(programme.locked(id), "locked");
        vm.prank(member);
        vm.expectRevert(abi.encodeWithSelector(ICommunityProgramme.CommunityCredentialNonTransferable.selector, id));
        programme.transferFrom(member, stranger, id);
        assertEq(programme.ownerOf(id), member, "still the member's");
    }

    function testRevert_issueCredential_onlyTrainingAttendeesByItsStaff() public {
        uint256 training = _createEvent(LEUVEN, TRAINING, T0 - 10, T0 + 4 hours, 40);
        vm.prank(issuer);
        vm.expectRevert(abi.encodeWithSelector(ICommunityProgramme.CommunityNotAttended.selector, training, member));
        programme.issueCredential(training, member, "WELDING", 1);
        _checkIn(member, training);
        vm.prank(kaunasIssuer);
        vm.expectRevert(
            abi.encodeWithSelector(IPilotRegistry.RegistryUnauthorized.selector, kaunasIssuer, LEUVEN, Roles.ISSUER)
        );
        programme.issueCredential(training, member, "WELDING", 1);
        _checkIn(member, eventId);
        vm.prank(issuer);
        vm.expectRevert(abi.encodeWithSelector(ICommunityProgramme.CommunityNotTraining.selector, eventId));
        programme.issueCredential(eventId, member, "WELDING", 1);
    }

    function test_hold_notSpendableUntilReleased() public {
        vm.prank(leuvenAdmin);
        programme.setHoldPeriod(LEUVEN, 7 days);
        vm.prank(issuer);
        uint256 hold = programme.holdDropOff(LEUVEN, member, 120, keccak256("weigh ticket"));
        assertEq(token.balanceOf(member), 0, "held points are not in the balance");
        assertEq(token.awardBudget(LEUVEN), 1_000_000, "budget untouched while held");
        vm.prank(leuvenAdmin);
        uint256 rewardId = catalogue.listReward(LEUVEN, partner, 100, 10, T0 + 30 days);
        vm.prank(member);
        vm.expectRevert();
        catalogue.redeem(rewardId);
        vm.expectRevert(
            abi.encodeWithSelector(ICommunityProgramme.CommunityHoldNotDue.selector, hold, uint40(T0 + 7 days))
        );
        programme.release(hold);
        vm.warp(T0 + 7 days);
        vm.expectEmit();
        emit ICommunityProgramme.HoldReleased(hold, LEUVEN, member, 120);
        vm.prank(stranger);
        programme.release(hold);
        assertEq(token.balanceOf(member), 120, "released");
        vm.prank(member);
        catalogue.redeem(rewardId);
        assertEq(token.balanceOf(member), 20, "spent");
        vm.expectRevert(
            abi.encodeWithSelector(
                ICommunityProgramme.CommunityHoldNotPending.selector, hold, ICommunityProgramme.HoldState.Released
            )
        );
        programme.release(hold);
    }

    function test_voidHold_onlyStaffBeforeDue() public {
        vm.prank(leuvenAdmin);
        programme.setHoldPeriod(LEUVEN, 3 days);
        vm.prank(issuer);
        uint256 hold = programme.holdDropOff(LEUVEN, member, 50, 0);
        vm.prank(member);
        vm.expectRevert(abi.encodeWithSelector(IPilotRegistry.RegistryUnauthorized.selector, member, LEUVEN, Roles.ISSUER));
        programme.voidHold(hold, "self");
        vm.prank(kaunasIssuer);
        vm.expectRevert(
            abi.encodeWithSelector(IPilotRegistry.RegistryUnauthorized.selector, kaunasIssuer, LEUVEN, Roles.ISSUER)
        );
        programme.voidHold(hold, "other pilot");
        vm.expectEmit();
        emit ICommunityProgramme.HoldVoided(hold, LEUVEN, issuer, "DUPLICATE_TICKET");
        vm.prank(issuer);
        programme.voidHold(hold, "DUPLICATE_TICKET");
        vm.warp(T0 + 3 days);
        vm.expectRevert(
            abi.encodeWithSelector(
                ICommunityProgramme.CommunityHoldNotPending.selector, hold, ICommunityProgramme.HoldState.Voided
            )
        );
        programme.release(hold);
        assertEq(token.balanceOf(member), 0, "voided points never minted");
        // Once due, a hold can no longer be voided.
        vm.prank(issuer);
        uint256 due = programme.holdDropOff(LEUVEN, member, 5, 0);
        vm.warp(T0 + 6 days);
        vm.prank(issuer);
        vm.expectRevert(abi.encodeWithSelector(ICommunityProgramme.CommunityHoldDue.selector, due, uint40(T0 + 6 days)));
        programme.voidHold(due, "late");
    }

    function testRevert_setHoldPeriod_adminOnlyBounded() public {
        vm.prank(issuer);
        vm.expectRevert(abi.encodeWithSelector(IPilotRegistry.RegistryUnauthorized.selector, issuer, LEUVEN, Roles.ADMIN));
        programme.setHoldPeriod(LEUVEN, 1);
        vm.prank(leuvenAdmin);
        vm.expectRevert(abi.encodeWithSelector(ICommunityProgramme.CommunityHoldPeriodTooLong.selector, 91 days));
        programme.setHoldPeriod(LEUVEN, 91 days);
    }

    function testFuzz_checkIn_onlyInsideWindow(uint32 at, uint16 points) public {
        points = uint16(bound(points, 1, 5_000));
        uint256 id = _createEvent(LEUVEN, WORKSHOP, T0 + 1 hours, T0 + 5 hours, points);
        at = uint32(bound(at, T0, T0 + 6 hours));
        vm.warp(at);
        uint64 notAfter = uint64(block.timestamp + 60);
        (bytes32 r, bytes32 vs) = _token(STAFF_KEY, id, notAfter);
        bool inside = at >= T0 + 1 hours && at <= T0 + 5 hours;
        vm.prank(member);
        if (!inside) vm.expectRevert();
        programme.checkIn(id, notAfter, r, vs);
        assertEq(token.balanceOf(member), inside ? points : 0, "points only inside the window");
        assertEq(programme.attended(member, id), inside, "attendance only inside the window");
    }

    function testFuzz_attendanceBitsAreIndependent(uint16 a, uint16 b) public {
        vm.assume(a != b);
        // Event ids a and b share an attendance word when a >> 8 == b >> 8; marking one must not mark the other.
        uint256 count = uint256(a > b ? a : b) % 300 + 1;
        for (uint256 i = 1; i < count; ++i) {
            _createEvent(LEUVEN, WORKSHOP, T0 - 1, T0 + 1 hours, 1);
        }
        uint256 first = uint256(a) % count + 1;
        uint256 second = uint256(b) % count + 1;
        vm.assume(first != second);
        _checkIn(member, first);
        assertTrue(programme.attended(member, first), "first");
        assertTrue(!programme.attended(member, second), "second untouched");
    }
}

/// @notice Invariants of the community programme, driven through CommunityHandler.
contract CommunityInvariantsTest is CommunityFixture {
    CommunityHandler internal handler;

    function setUp() public override {
        super.setUp();
        vm.prank(leuvenAdmin);
        programme.setHoldPeriod(LEUVEN, 1 days);
        uint256[] memory ids = new uint256[](3);
        ids[0] = eventId;
        ids[1] = _createEvent(LEUVEN, WORKSHOP, T0 + 1 days, T0 + 2 days, 15);
        ids[2] = _createEvent(LEUVEN, TRAINING, T0, T0 + 4 days, 40);
        handler = new CommunityHandler(programme, token, LEUVEN, issuer, STAFF_KEY, stranger, ids);
        targetContract(address(handler));
        bytes4[] memory selectors = new bytes4[](6);
        selectors[0] = CommunityHandler.checkIn.selector;
        selectors[1] = CommunityHandler.holdDropOff.selector;
        selectors[2] = CommunityHandler.voidHold.selector;
        selectors[3] = CommunityHandler.release.selector;
        selectors[4] = CommunityHandler.warp.selector;
        selectors[5] = CommunityHandler.strangerActs.selector;
        targetSelector(FuzzSelector(address(handler), selectors));
    }

    /// @notice Minted points are exactly check-in points plus released holds: held and voided
    ///         points are never spendable, and the budget paid for every minted point.
    function invariant_supplyIsCheckInsPlusReleased() public view {
        uint256 minted = handler.checkInPoints() + handler.releasedPoints();
        assertEq(token.totalSupply(), minted, "supply");
        assertEq(token.awardBudget(LEUVEN), 1_000_000 - minted, "budget");
        assertLe(handler.releasedPoints() + handler.voidedPoints(), handler.heldPoints(), "released + voided <= held");
        for (uint256 i = 0; i < 3; ++i) {
            address m = handler.members(i);
            assertEq(token.balanceOf(m), handler.expectedBalance(m), "balance");
        }
    }

    /// @notice A member checks in to an event at most once, and attendance matches the successes.
    function invariant_oncePerMemberPerEvent() public view {
        for (uint256 e = 0; e < handler.eventCount(); ++e) {
            uint256 id = handler.eventAt(e);
            for (uint256 i = 0; i < 3; ++i) {
                address m = handler.members(i);
                uint256 n = handler.successes(id, m);
                assertLe(n, 1, "checked in twice");
                assertEq(programme.attended(m, id), n == 1, "attendance flag");
            }
        }
    }

    /// @notice An account without a staff role never voids, holds or certifies.
    function invariant_strangerNeverActsAsStaff() public view {
        assertEq(handler.strangerSuccesses(), 0, "a stranger acted as staff");
    }
}
