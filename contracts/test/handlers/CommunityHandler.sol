// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {Test} from "../utils/Test.sol";
import {CommunityProgramme} from "../../src/CommunityProgramme.sol";
import {EngagementToken} from "../../src/EngagementToken.sol";
import {ICommunityProgramme} from "../../src/interfaces/ICommunityProgramme.sol";

/// @notice Drives the community programme through meaningful actions (check-ins with fresh or
///         stale tokens, holds, voids, releases, time passing, a stranger trying staff actions)
///         and keeps ghost totals for the invariants.
contract CommunityHandler is Test {
    CommunityProgramme internal immutable programme;
    EngagementToken internal immutable token;
    uint16 internal immutable pilot;
    address internal immutable issuer;
    uint256 internal immutable signerKey;
    address public immutable stranger;
    address[3] public members;
    uint256[] internal eventIds;
    uint256[] internal holdIds;

    uint256 public checkIns;
    uint256 public checkInPoints;
    uint256 public heldPoints;
    uint256 public releasedPoints;
    uint256 public voidedPoints;
    uint256 public strangerSuccesses;
    mapping(address member => uint256) public expectedBalance;
    mapping(uint256 eventId => mapping(address member => uint256)) public successes;

    constructor(
        CommunityProgramme programme_,
        EngagementToken token_,
        uint16 pilot_,
        address issuer_,
        uint256 signerKey_,
        address stranger_,
        uint256[] memory eventIds_
    ) {
        programme = programme_;
        token = token_;
        pilot = pilot_;
        issuer = issuer_;
        signerKey = signerKey_;
        stranger = stranger_;
        eventIds = eventIds_;
        members = [address(0xA1), address(0xA2), address(0xA3)];
    }

    function checkIn(uint256 memberSeed, uint256 eventSeed, uint256 lifetime) external {
        address member = members[memberSeed % 3];
        uint256 id = eventIds[eventSeed % eventIds.length];
        uint64 notAfter = uint64(block.timestamp + bound(lifetime, 0, 15 minutes));
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(signerKey, programme.checkInDigest(id, notAfter));
        bytes32 vs = bytes32(uint256(v - 27) << 255 | uint256(s));
        (,,,, uint16 points,) = programme.eventOf(id);
        vm.prank(member);
        try programme.checkIn(id, notAfter, r, vs) {
            checkIns += 1;
            checkInPoints += points;
            expectedBalance[member] += points;
            successes[id][member] += 1;
        } catch {}
    }

    function holdDropOff(uint256 memberSeed, uint32 points) external {
        points = uint32(bound(points, 1, 500));
        vm.prank(issuer);
        holdIds.push(programme.holdDropOff(pilot, members[memberSeed % 3], points, 0));
        heldPoints += points;
    }

    function voidHold(uint256 holdSeed) external {
        if (holdIds.length == 0) return;
        uint256 id = holdIds[holdSeed % holdIds.length];
        vm.prank(issuer);
        try programme.voidHold(id, "CHECK") {
            voidedPoints += programme.holdOf(id).points;
        } catch {}
    }

    function release(uint256 holdSeed) external {
        if (holdIds.length == 0) return;
        uint256 id = holdIds[holdSeed % holdIds.length];
        ICommunityProgramme.Hold memory hold = programme.holdOf(id);
        try programme.release(id) {
            releasedPoints += hold.points;
            expectedBalance[hold.member] += hold.points;
        } catch {}
    }

    function warp(uint256 seconds_) external {
        vm.warp(block.timestamp + bound(seconds_, 1, 2 days));
    }

    function strangerActs(uint256 holdSeed, uint256 eventSeed) external {
        vm.startPrank(stranger);
        if (holdIds.length > 0) {
            try programme.voidHold(holdIds[holdSeed % holdIds.length], "X") {
                strangerSuccesses += 1;
            } catch {}
        }
        try programme.holdDropOff(pilot, stranger, 100, 0) {
            strangerSuccesses += 1;
        } catch {}
        try programme.issueCredential(eventIds[eventSeed % eventIds.length], stranger, "X", 1) {
            strangerSuccesses += 1;
        } catch {}
        vm.stopPrank();
    }

    function eventCount() external view returns (uint256) {
        return eventIds.length;
    }

    function eventAt(uint256 i) external view returns (uint256) {
        return eventIds[i];
    }
}
