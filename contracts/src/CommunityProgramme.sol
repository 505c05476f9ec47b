// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {ERC2771Context} from "@openzeppelin/contracts/metatx/ERC2771Context.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";

import {ICommunityProgramme} from "./interfaces/ICommunityProgramme.sol";
import {IEngagementToken} from "./interfaces/IEngagementToken.sol";
import {IPilotRegistry} from "./interfaces/IPilotRegistry.sol";
import {Roles} from "./libraries/Roles.sol";

/// @title CommunityProgramme
/// @notice Events with QR check-in, skill credentials and held drop-off points. This contract is
///         an award issuer of every pilot: it awards points through `EngagementToken.award`, so the
///         pilot's budget bounds everything it pays out.
/// @dev A check-in is what members do most, so its path reads one packed event slot, one
///      attendance word per member and 256 event ids, and makes one call to the token.
contract CommunityProgramme is ICommunityProgramme, ERC2771Context, EIP712 {
    /// @dev Everything `checkIn` reads about an event, in exactly one slot.
    struct EventSlot {
        uint16 pilot;
        uint16 points;
        uint32 opens;
        uint32 closes;
        address signer;
    }

    /// @dev Ids of events, credentials and holds share one slot.
    struct Counters {
        uint64 events;
        uint64 credentials;
        uint64 holds;
    }

    /// @notice Token reason code of points for attending an event (1-6 are drop-offs and contributions).
    uint16 public constant REASON_ATTENDANCE = 7;
    /// @notice Token reason code of released drop-off points (the same as a direct drop-off award).
    uint16 public constant REASON_DROP_OFF = 1;
    /// @notice A check-in token is valid for at most this long: it is shown on a screen that renews it.
    uint64 public constant MAX_TOKEN_LIFETIME = 10 minutes;
    /// @notice Drop-off points are held for at most this long.
    uint32 public constant MAX_HOLD_PERIOD = 90 days;
    bytes32 private constant CHECK_IN_TYPEHASH = keccak256("CheckIn(uint256 eventId,uint64 notAfter)");

    IPilotRegistry private immutable _registry;
    IEngagementToken private immutable _token;
    Counters private _counters;
    mapping(uint256 eventId => EventSlot) private _events;
    mapping(uint256 eventId => EventKind) private _kinds;
    mapping(address member => mapping(uint256 word => uint256 bits)) private _attended;
    mapping(uint256 credentialId => Credential) private _credentials;
    mapping(uint16 pilot => uint32 period) private _holdPeriods;
    mapping(uint256 holdId => Hold) private _holds;

    constructor(IPilotRegistry registry_, IEngagementToken token_, address trustedForwarder_)
        ERC2771Context(trustedForwarder_)
        EIP712("LoopLedger Community", "1")
    {
        _registry = registry_;
        _token = token_;
    }

    // ----------------------------------------------------------------------------------------
    // Events and check-in
    // ----------------------------------------------------------------------------------------

    /// @inheritdoc ICommunityProgramme
    function createEvent(uint16 pilot, uint8 kind, uint32 opens, uint32 closes, uint16 points, address signer, bytes32 venue)
        external
        returns (uint256 eventId)
    {
        address creator = _msgSender();
        _registry.requireRole(pilot, creator, Roles.ISSUER);
        if (kind == uint8(EventKind.None) || kind > uint8(type(EventKind).max)) revert CommunityUnknownEventKind(kind);
        if (opens >= closes || closes <= block.timestamp) revert CommunityBadWindow(opens, closes);
        if (points == 0 || signer == address(0)) revert CommunityBadEvent();
        eventId = ++_counters.events;
        _events[eventId] = EventSlot(pilot, points, opens, closes, signer);
        _kinds[eventId] = EventKind(kind);
        emit EventCreated(eventId, pilot, creator, kind, opens, closes, points, signer, venue);
    }

    /// @inheritdoc ICommunityProgramme
    function checkIn(uint256 eventId, uint64 notAfter, bytes32 r, bytes32 vs) external {
        EventSlot memory ev = _events[eventId];
        if (ev.signer == address(0)) revert CommunityUnknownEvent(eventId);
        if (block.timestamp < ev.opens || block.timestamp > ev.closes) {
            revert CommunityOutsideWindow(eventId, block.timestamp, ev.opens, ev.closes);
        }
        // A token that outlives MAX_TOKEN_LIFETIME was not made by a renewing screen: refuse it.
        if (notAfter < block.timestamp || notAfter > block.timestamp + MAX_TOKEN_LIFETIME) {
            revert CommunityTokenExpired(notAfter, block.timestamp);
        }
        address signer = ECDSA.recover(
            _hashTypedDataV4(keccak256(abi.encode(CHECK_IN_TYPEHASH, eventId, notAfter))), r, vs
        );
        if (signer != ev.signer) revert CommunityBadTokenSigner(eventId, signer);
        address member = _msgSender();
        mapping(uint256 => uint256) storage words = _attended[member];
        uint256 bit = _bit(eventId);
        uint256 word = words[eventId >> 8];
        if (word & bit != 0) revert CommunityAlreadyCheckedIn(eventId, member);
        words[eventId >> 8] = word | bit;
        emit CheckedIn(eventId, member, ev.pilot);
        _token.award(ev.pilot, member, ev.points, REASON_ATTENDANCE);
    }

    // ----------------------------------------------------------------------------------------
    // Credentials
    // ----------------------------------------------------------------------------------------

    /// @inheritdoc ICommunityProgramme
    function issueCredential(uint256 eventId, address member, bytes16 skill, uint8 level)
        external
        returns (uint256 credentialId)
    {
        EventSlot memory ev = _events[eventId];
        if (ev.signer == address(0)) revert CommunityUnknownEvent(eventId);
        address issuer = _msgSender();
        _registry.requireRole(ev.pilot, issuer, Roles.ISSUER);
        if (_kinds[eventId] != EventKind.Training) revert CommunityNotTraining(eventId);
        if (!_hasAttended(member, eventId)) revert CommunityNotAttended(eventId, member);
        if (skill == bytes16(0) || level == 0) revert CommunityBadCredential();
        credentialId = ++_counters.credentials;
        // Event ids come from a uint64 counter, so the cast keeps every existing id.
        // forge-lint: disable-next-line(unsafe-typecast)
        _credentials[credentialId] =
            Credential(member, ev.pilot, level, uint40(block.timestamp), skill, uint64(eventId));
        emit CredentialIssued(credentialId, ev.pilot, member, skill, level, eventId, issuer);
    }

    /// @notice Always reverts: a credential stays with the account it was issued to.
    function transferFrom(address, address, uint256 credentialId) external pure {
        revert CommunityCredentialNonTransferable(credentialId);
    }

    /// @notice Always true (ERC-5192 style): every credential is bound to its holder.
    function locked(uint256 credentialId) external view returns (bool) {
        _credential(credentialId);
        return true;
    }

    // ----------------------------------------------------------------------------------------
    // Held drop-off points
    // ----------------------------------------------------------------------------------------

    /// @inheritdoc ICommunityProgramme
    function setHoldPeriod(uint16 pilot, uint32 period) external {
        address admin = _msgSender();
        _registry.requireRole(pilot, admin, Roles.ADMIN);
        if (period > MAX_HOLD_PERIOD) revert CommunityHoldPeriodTooLong(period);
        _holdPeriods[pilot] = period;
        emit HoldPeriodSet(pilot, admin, period);
    }

    /// @inheritdoc ICommunityProgramme
    function holdDropOff(uint16 pilot, address member, uint32 points, bytes32 evidence)
        external
        returns (uint256 holdId)
    {
        address issuer = _msgSender();
        _registry.requireRole(pilot, issuer, Roles.ISSUER);
        if (points == 0 || member == address(0)) revert CommunityBadHold();
        // Cannot truncate: block.timestamp fits 40 bits for 30,000 years and period <= 90 days.
        // forge-lint: disable-next-line(unsafe-typecast)
        uint40 releaseAt = uint40(block.timestamp + _holdPeriods[pilot]);
        holdId = ++_counters.holds;
        _holds[holdId] = Hold(member, pilot, releaseAt, points, HoldState.Pending);
        emit PointsHeld(holdId, pilot, member, points, releaseAt, issuer, evidence);
    }

    /// @inheritdoc ICommunityProgramme
    function voidHold(uint256 holdId, bytes32 reason) external {
        Hold storage hold = _pending(holdId);
        uint16 pilot = hold.pilot;
        address by = _msgSender();
        _registry.requireRole(pilot, by, Roles.ISSUER);
        if (block.timestamp >= hold.releaseAt) revert CommunityHoldDue(holdId, hold.releaseAt);
        hold.state = HoldState.Voided;
        emit HoldVoided(holdId, pilot, by, reason);
    }

    /// @inheritdoc ICommunityProgramme
    function release(uint256 holdId) external {
        Hold storage hold = _pending(holdId);
        if (block.timestamp < hold.releaseAt) revert CommunityHoldNotDue(holdId, hold.releaseAt);
        hold.state = HoldState.Released;
        (uint16 pilot, address member, uint32 points) = (hold.pilot, hold.member, hold.points);
        emit HoldReleased(holdId, pilot, member, points);
        _token.award(pilot, member, points, REASON_DROP_OFF);
    }

    // ----------------------------------------------------------------------------------------
    // Views
    // ----------------------------------------------------------------------------------------

    /// @notice Pilot, kind, window, points per attendee and signer key of `eventId`.
    function eventOf(uint256 eventId)
        external
        view
        returns (uint16 pilot, EventKind kind, uint32 opens, uint32 closes, uint16 points, address signer)
    {
        EventSlot memory ev = _events[eventId];
        if (ev.signer == address(0)) revert CommunityUnknownEvent(eventId);
        return (ev.pilot, _kinds[eventId], ev.opens, ev.closes, ev.points, ev.signer);
    }

    /// @notice True when `member` checked in to `eventId`.
    function attended(address member, uint256 eventId) external view returns (bool) {
        return _hasAttended(member, eventId);
    }

    /// @notice The credential `credentialId`; the same in every pilot.
    function credentialOf(uint256 credentialId) external view returns (Credential memory) {
        return _credential(credentialId);
    }

    /// @notice The holder of `credentialId`.
    function ownerOf(uint256 credentialId) external view returns (address) {
        return _credential(credentialId).holder;
    }

    /// @notice The held award `holdId` (state None when it does not exist).
    function holdOf(uint256 holdId) external view returns (Hold memory) {
        return _holds[holdId];
    }

    /// @notice How long drop-off points of `pilot` are held, in seconds.
    function holdPeriod(uint16 pilot) external view returns (uint32) {
        return _holdPeriods[pilot];
    }

    /// @notice Numbers of events, credentials and holds created so far (the last ids).
    function counts() external view returns (uint64 events, uint64 credentials, uint64 holds) {
        Counters memory c = _counters;
        return (c.events, c.credentials, c.holds);
    }

    /// @notice The EIP-712 digest that the event's signer signs for a check-in token.
    function checkInDigest(uint256 eventId, uint64 notAfter) external view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(CHECK_IN_TYPEHASH, eventId, notAfter)));
    }

    // ----------------------------------------------------------------------------------------
    // Internals
    // ----------------------------------------------------------------------------------------

    function _hasAttended(address member, uint256 eventId) private view returns (bool) {
        return _attended[member][eventId >> 8] & _bit(eventId) != 0;
    }

    /// @dev The bit of `eventId` in its attendance word (word = eventId >> 8).
    function _bit(uint256 eventId) private pure returns (uint256) {
        // forge-lint: disable-next-line(incorrect-shift)
        return uint256(1) << (eventId & 0xff);
    }

    function _credential(uint256 credentialId) private view returns (Credential storage credential) {
        credential = _credentials[credentialId];
        if (credential.holder == address(0)) revert CommunityUnknownCredential(credentialId);
    }

    function _pending(uint256 holdId) private view returns (Hold storage hold) {
        hold = _holds[holdId];
        if (hold.state != HoldState.Pending) revert CommunityHoldNotPending(holdId, hold.state);
    }
}
