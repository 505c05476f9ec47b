// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/// @title Community programme of LoopLedger: events with QR check-in, skill credentials and held
///        drop-off points.
/// @notice Pilot staff (award issuers of the pilot) create events; members check in with a
///         short-lived token signed by the event's signer key and shown as a QR code at the venue.
///         Completing a training earns a credential that belongs to the member's account and is
///         valid in every pilot. Drop-off points can be held for a pilot-set period in which staff
///         may void them. Points are awarded through the engagement token within the pilot's
///         budget. Nothing personal is stored: accounts, codes, times and hashes only.
interface ICommunityProgramme {
    /// @notice Kinds of community event.
    enum EventKind {
        None,
        Workshop,
        RepairCafe,
        MakerFaire,
        Training
    }

    /// @notice A credential: who holds it, which pilot issued it, when, for which training.
    struct Credential {
        address holder;
        uint16 pilot;
        uint8 level;
        uint40 issuedAt;
        bytes16 skill;
        uint64 eventId;
    }

    /// @notice A drop-off award held until `releaseAt`.
    struct Hold {
        address member;
        uint16 pilot;
        uint40 releaseAt;
        uint32 points;
        HoldState state;
    }

    /// @notice Life of a held award: pending until released (minted) or voided by staff.
    enum HoldState {
        None,
        Pending,
        Released,
        Voided
    }

    /// @notice `kind` is not one of EventKind's values.
    error CommunityUnknownEventKind(uint8 kind);
    /// @notice The window [opens, closes] is empty or ends in the past.
    error CommunityBadWindow(uint32 opens, uint32 closes);
    /// @notice Events award at least one point and name a signer key for their QR tokens.
    error CommunityBadEvent();
    /// @notice `eventId` does not exist.
    error CommunityUnknownEvent(uint256 eventId);
    /// @notice A check-in at `timestamp` outside the event's window [opens, closes].
    error CommunityOutsideWindow(uint256 eventId, uint256 timestamp, uint32 opens, uint32 closes);
    /// @notice The check-in token expired at `notAfter`, or lives longer than tokens may.
    error CommunityTokenExpired(uint64 notAfter, uint256 timestamp);
    /// @notice The check-in token was signed by `signer`, not by the event's signer key.
    error CommunityBadTokenSigner(uint256 eventId, address signer);
    /// @notice `member` has already checked in to `eventId`.
    error CommunityAlreadyCheckedIn(uint256 eventId, address member);
    /// @notice Credentials are issued for trainings only; `eventId` is not one.
    error CommunityNotTraining(uint256 eventId);
    /// @notice `member` did not attend training `eventId`.
    error CommunityNotAttended(uint256 eventId, address member);
    /// @notice A credential with an empty skill code or level 0.
    error CommunityBadCredential();
    /// @notice `credentialId` does not exist.
    error CommunityUnknownCredential(uint256 credentialId);
    /// @notice Credentials belong to the account they were issued to and cannot move.
    error CommunityCredentialNonTransferable(uint256 credentialId);
    /// @notice A held award of zero points, or to the zero address.
    error CommunityBadHold();
    /// @notice `holdId` does not exist or is no longer pending (state given).
    error CommunityHoldNotPending(uint256 holdId, HoldState state);
    /// @notice Hold `holdId` cannot be released before `releaseAt`.
    error CommunityHoldNotDue(uint256 holdId, uint40 releaseAt);
    /// @notice Hold `holdId` was due at `releaseAt`: it can no longer be voided.
    error CommunityHoldDue(uint256 holdId, uint40 releaseAt);
    /// @notice A hold period longer than the maximum (90 days).
    error CommunityHoldPeriodTooLong(uint32 period);

    /// @notice Staff created an event.
    event EventCreated(
        uint256 indexed eventId,
        uint16 indexed pilot,
        address indexed creator,
        uint8 kind,
        uint32 opens,
        uint32 closes,
        uint16 points,
        address signer,
        bytes32 venue
    );
    /// @notice `member` checked in to `eventId` of `pilot`. The event's points (EventCreated) are
    ///         paid by the PointsAwarded of the same transaction, so they are not repeated here.
    event CheckedIn(uint256 indexed eventId, address indexed member, uint16 pilot);
    /// @notice A credential was issued to `holder` for training `eventId`.
    event CredentialIssued(
        uint256 indexed credentialId,
        uint16 indexed pilot,
        address indexed holder,
        bytes16 skill,
        uint8 level,
        uint256 eventId,
        address issuer
    );
    /// @notice The pilot admin set how long drop-off points are held.
    event HoldPeriodSet(uint16 indexed pilot, address indexed admin, uint32 period);
    /// @notice Drop-off points were recorded as held until `releaseAt`.
    event PointsHeld(
        uint256 indexed holdId,
        uint16 indexed pilot,
        address indexed member,
        uint32 points,
        uint40 releaseAt,
        address issuer,
        bytes32 evidence
    );
    /// @notice Staff voided a held award before it was due, with a reason code.
    event HoldVoided(uint256 indexed holdId, uint16 indexed pilot, address indexed by, bytes32 reason);
    /// @notice A held award was released and its points minted.
    event HoldReleased(uint256 indexed holdId, uint16 indexed pilot, address indexed member, uint32 points);

    /// @notice Creates an event of `pilot`. Pilot staff (award issuers) only. `signer` is the key
    ///         that signs the event's QR check-in tokens; `venue` a hash or code of the place.
    ///         Emits EventCreated.
    function createEvent(uint16 pilot, uint8 kind, uint32 opens, uint32 closes, uint16 points, address signer, bytes32 venue)
        external
        returns (uint256 eventId);

    /// @notice Checks the caller in to `eventId` with a check-in token (`notAfter`, signature
    ///         `r`, `vs` in EIP-2098 form) signed by the event's signer; within the event's
    ///         window, once per member. Awards the event's points. Emits CheckedIn.
    function checkIn(uint256 eventId, uint64 notAfter, bytes32 r, bytes32 vs) external;

    /// @notice Issues a skill credential to `member`, who attended training `eventId`. Staff of
    ///         the training's pilot only. Emits CredentialIssued.
    function issueCredential(uint256 eventId, address member, bytes16 skill, uint8 level)
        external
        returns (uint256 credentialId);

    /// @notice Sets how long drop-off points of `pilot` are held (0: released at once). Pilot admin
    ///         only. Emits HoldPeriodSet.
    function setHoldPeriod(uint16 pilot, uint32 period) external;

    /// @notice Holds `points` for `member`'s drop-off in `pilot` until the hold period ends.
    ///         Pilot staff only. Emits PointsHeld.
    function holdDropOff(uint16 pilot, address member, uint32 points, bytes32 evidence)
        external
        returns (uint256 holdId);

    /// @notice Voids a pending hold before it is due, with a reason code. Staff of its pilot only.
    ///         Emits HoldVoided.
    function voidHold(uint256 holdId, bytes32 reason) external;

    /// @notice Releases a due hold: awards its points within the pilot's budget. Anyone may call.
    ///         Emits HoldReleased (and the token's PointsAwarded).
    function release(uint256 holdId) external;
}
