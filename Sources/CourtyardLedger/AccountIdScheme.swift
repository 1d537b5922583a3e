import Crypto
import Foundation
import Synchronization

/// How an account's id is derived from its key (community, kind, owner, purpose).
///
/// Both schemes give a UUID-shaped id ("version 8": custom, name-derived) that any module can compute without a
/// lookup, and both are checked by `ledger verify`. They differ in where ids land in an index:
///
/// - ``hashOnly`` (`courtyard-account-v1`): all 128 bits from SHA-256 of the key. Ids are spread evenly, so every new
///   account lands at a random place in the `ledger_accounts` and `ledger_balances` indexes. A bill run that opens the
///   receivables of a million houses then rewrites a random index page per account, and the write-ahead log carries
///   tens of megabytes per thousand houses.
/// - ``ownerOrdered`` (`courtyard-account-v2`, the default): the first 8 bytes are the first 8 bytes of the owner's
///   id (a house's UUIDv7, whose first 48 bits are its creation time), or of the community's id for community-level
///   accounts; the last 8 bytes are SHA-256 of the key. The accounts of houses created in order sort in that order,
///   so a run over houses by id appends to the indexes. The ordering needs owners whose first 8 bytes differ: houses
///   made one by one (the API, the simulator) have them; ids minted in bulk by one `IdentifierSequence` share them
///   (one millisecond, the counter's top bits), so a bulk import of houses should take a fresh `Identifier.uuidV7(at:)`
///   per house. Uniqueness rests on the 62 hashed bits among the accounts whose owners share those 8 bytes: one
///   owner's few, or a bulk batch's (10⁷ accounts sharing them collide with a chance of about 10⁻⁵). The tables'
///   unique keys refuse a collision rather than merge two accounts.
///
/// The journal's hashes cover account ids, so a ledger keeps the scheme it was written with. Communities that had
/// accounts before the owner-ordered scheme existed are listed in `ledger_account_schemes` (migration 11) and keep
/// ``hashOnly``; the storage layer registers them in ``hashOnlyCommunities`` when it opens or migrates a database.
/// Community ids are globally unique, so one registry serves every database a process opens.
public enum AccountIdScheme: Int, Sendable, CaseIterable {
    case hashOnly = 1
    case ownerOrdered = 2

    /// The id of the account with this key under this scheme.
    public func id(communityId: String, kind: AccountKind, owner: String, purpose: String) -> String {
        let name = "courtyard-account-v\(rawValue)|\(communityId)|\(kind.rawValue)|\(owner)|\(purpose)"
        var bytes = Array(SHA256.hash(data: Data(name.utf8)).prefix(16))
        if self == .ownerOrdered, let prefix = Self.leadingBytes(ofUUID: owner) ?? Self.leadingBytes(ofUUID: communityId) {
            bytes.replaceSubrange(0..<8, with: prefix)
        }
        bytes[6] = (bytes[6] & 0x0F) | 0x80  // "version 8": custom, name-derived
        bytes[8] = (bytes[8] & 0x3F) | 0x80
        let hex = Array(Canonical.hex(bytes))
        return String(hex[0..<8]) + "-" + String(hex[8..<12]) + "-" + String(hex[12..<16]) + "-" + String(hex[16..<20]) + "-"
            + String(hex[20..<32])
    }

    /// The first 8 bytes of a canonical UUID (36 characters, hyphens at 8, 13, 18 and 23), or `nil` for any other text.
    static func leadingBytes(ofUUID text: String) -> [UInt8]? {
        let utf8 = text.utf8
        guard utf8.count == 36 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(8)
        var high: UInt8?
        for (offset, character) in utf8.enumerated() {
            if offset == 8 || offset == 13 || offset == 18 || offset == 23 {
                guard character == UInt8(ascii: "-") else { return nil }
                continue
            }
            let value: UInt8
            switch character {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): value = character - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): value = character - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): value = character - UInt8(ascii: "A") + 10
            default: return nil
            }
            if bytes.count == 8 { continue }  // the rest is only checked
            if let first = high {
                bytes.append(first << 4 | value)
                high = nil
            } else {
                high = value
            }
        }
        return bytes
    }

    /// Communities whose ledgers use ``hashOnly`` ids (they had accounts before ``ownerOrdered`` existed).
    public static let hashOnlyCommunities = CommunityRegistry()

    /// A process-wide set of community ids, read on every id derivation: empty (the common case) costs one atomic load.
    public final class CommunityRegistry: Sendable {
        private let members = Mutex<Set<String>>([])
        private let isEmpty = Atomic<Bool>(true)

        /// Adds `communities` (idempotent).
        public func register(_ communities: some Sequence<String>) {
            members.withLock { set in
                set.formUnion(communities)
                isEmpty.store(set.isEmpty, ordering: .releasing)
            }
        }

        public func contains(_ communityId: String) -> Bool {
            if isEmpty.load(ordering: .acquiring) { return false }
            return members.withLock { $0.contains(communityId) }
        }
    }
}
